"""``taxonomist report --markdown``: the decision in a few lines, for a pull-request comment.

Built from the same records as the model card (see :mod:`taxonomist.contracts`):
the decision and its reason, the primary metric of challenger and live with the paired
difference, its confidence interval and McNemar p-value when ``reports/promotion.json``
has a ``comparison`` block, then one row per node. Nothing is recomputed here.
"""

from __future__ import annotations

from typing import Any

from taxonomist.config import Paths
from taxonomist.contracts.comparison import Check, PairedComparison, Scope
from taxonomist.contracts.metrics import NodeMetrics
from taxonomist.contracts.promotion import NO_CHANGE_WORDS, Outcome, PromotionRecord
from taxonomist.taxonomy import Taxonomy

ICONS = {Outcome.PROMOTE: "✅", Outcome.REJECT: "❌", Outcome.INVESTIGATE: "🔍"}
NO_CHANGE_ICON = "➖"
MAX_FAILING = 10  # a comment people read; the card lists every check


def markdown_summary(paths: Paths, taxonomy: Taxonomy) -> str:
    """The Markdown summary of the last promotion decision.

    Args:
        paths: the project layout; reads ``reports/promotion.json`` and, where they
            exist, ``metrics/<node>.json``.
        taxonomy: gives the nodes, in order.

    Raises:
        DataError: promotion.json is missing or broken (the message says which stage
            to run).
    """
    promotion = PromotionRecord.read(paths.promotion)
    verdict = promotion.verdict
    node_checks = {c.name: c for c in verdict.checks if c.scope == Scope.NODE}
    parts = [
        _heading(promotion),
        f"> {_one_line(verdict.reason) or 'no reason recorded'}",
        _metric_table(promotion, verdict.comparison),
        _live_line(promotion),
        _node_table(paths, taxonomy, promotion, node_checks),
        _failing(verdict.failing or []),
        _footer(promotion),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def _heading(promotion: PromotionRecord) -> str:
    decision = promotion.verdict.decision
    heading = (f"{NO_CHANGE_ICON} {NO_CHANGE_WORDS}" if promotion.unchanged
               else f"{ICONS[decision]} {decision}")
    return f"### {promotion.registered_model} v{promotion.challenger.version}: {heading}"


def _metric_table(promotion: PromotionRecord, comparison: PairedComparison | None) -> str:
    live = f"live v{promotion.live_version}" if promotion.live_version else "live"
    rows = [
        f"| | challenger v{promotion.challenger.version} | {live} | difference |",
        "|:--|--:|--:|:--|",
        f"| {promotion.metric} | {_num(promotion.challenger_value)} | "
        f"{_num(promotion.live_value)} | {_difference(promotion, comparison)} |",
    ]
    return "\n".join(rows)


def _difference(promotion: PromotionRecord, comparison: PairedComparison | None) -> str:
    if promotion.live_version is None:
        return "nothing was live: first promotion"
    if comparison is None:
        return _signed(promotion.verdict.difference)
    return (
        f"**{comparison.difference:+.4f}** ({comparison.confidence:.0%} CI "
        f"{comparison.ci_low:+.4f} to {comparison.ci_high:+.4f}; McNemar "
        f"p = {comparison.p_value:.3g}; {comparison.n_images} images)"
    )


def _live_line(promotion: PromotionRecord) -> str:
    now = f"v{promotion.live_after}" if promotion.live_after else "nothing"
    if promotion.live_after is not None and promotion.live_after == promotion.live_version:
        return f"`@live` stays on **{now}**."
    return f"`@live` is now **{now}**."


def _node_table(
    paths: Paths, taxonomy: Taxonomy, promotion: PromotionRecord, checks: dict[str, Check]
) -> str:
    rows = []
    for node in taxonomy.inner_nodes:
        path = paths.node_metrics(node)
        alone = NodeMetrics.read(path, node) if path.is_file() else None
        check = checks.get(node)
        if alone is None and check is None:
            continue
        accuracy, macro_f1 = (alone.accuracy, alone.macro_f1) if alone else (None, None)
        stack = (check.challenger, check.live, check.difference) if check else (None,) * 3
        rows.append(
            f"| {_cell(node)} | {_num(accuracy)} | {_num(macro_f1)} | {_num(stack[0])} | "
            f"{_num(stack[1])} | {_signed(stack[2])} | {check.status if check else '—'} |"
        )
    if not rows:
        return ""
    live = f"v{promotion.live_version}" if promotion.live_version else "live"
    header = [
        "#### Nodes\n",
        f"| node | accuracy | macro F1 | in stack v{promotion.challenger.version} "
        f"| in stack {live} | difference | check |",
        "|:--|--:|--:|--:|--:|--:|:--|",
    ]
    note = (
        "<sub>accuracy, macro F1: each node's classifier alone on the test split. "
        "In stack: how often the whole stack takes that node's right branch, both stacks "
        "on the same images; check: Holm-corrected non-inferiority within the margin.</sub>"
    )
    return "\n".join(header + rows) + "\n\n" + note


def _failing(failing: list[Check]) -> str:
    if not failing:
        return ""
    lines = ["#### Checks that did not pass\n"]
    for check in failing[:MAX_FAILING]:
        lines.append(
            f"- {check.scope or '?'} `{check.name}`: {_signed(check.difference)} "
            f"(margin {_num(check.margin, 3)}, adjusted p {_num(check.p_value_adjusted, 3)}): "
            f"{check.status}"
        )
    if len(failing) > MAX_FAILING:
        lines.append(f"- … and {len(failing) - MAX_FAILING} more (see the model card)")
    return "\n".join(lines)


def _footer(promotion: PromotionRecord) -> str:
    run_id = promotion.challenger.run_id
    bits = [f"run `{run_id[:12]}`" if run_id else "", promotion.timestamp]
    bits = [b for b in bits if b]
    return f"<sub>taxonomist · {' · '.join(bits)}</sub>" if bits else ""


def _num(value: Any, digits: int = 4) -> str:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return f"{value:.{digits}f}" if ok else "—"


def _signed(value: Any) -> str:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return f"{value:+.4f}" if ok else "—"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
