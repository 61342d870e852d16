"""The model card: one self-contained HTML file per stack version.

Everything the card shows is read from files the earlier stages wrote (see
:mod:`taxonomist.report.inputs`), so the report stage reruns whenever any of them
changes and never recomputes a number itself. Images are embedded as data URIs and the
CSS is inline: the file opens the same from a laptop, an MLflow artifact view or an
email attachment, with no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from taxonomist.config import Paths
from taxonomist.report.data_summary import DataSummary, load_data_summary
from taxonomist.report.inputs import (
    NodeMetrics,
    Promotion,
    StackMetrics,
    Validation,
    load_node_metrics,
    load_promotion,
    load_stack_metrics,
    load_validation,
)
from taxonomist.report.lineage import Lineage, load_lineage
from taxonomist.report.plots import png_data_uri, recall_chart
from taxonomist.taxonomy import Taxonomy

TEMPLATE = "model_card.html.j2"
CARD_NAME = "model_card.html"
LIVE_FOLDER = "live"


@dataclass(frozen=True)
class ModelCard:
    """A written model card.

    Attributes:
        path: ``reports/model_card.html``, the copy DVC tracks.
        version_path: ``reports/<version>/model_card.html``, kept for every version.
        live_path: ``reports/live/model_card.html`` when this version went live, else None.
        decision: ``"promote"`` or ``"needs_investigation"``.
        summary: one line for a registry description or a notification.
    """

    path: Path
    version_path: Path
    live_path: Path | None
    decision: str
    model: str
    version: str
    summary: str

    @property
    def written(self) -> list[Path]:
        return [p for p in (self.path, self.version_path, self.live_path) if p is not None]


@dataclass(frozen=True)
class CardContext:
    """Everything the template renders, already loaded and typed."""

    taxonomy: str
    promotion: Promotion
    summary: str
    data: DataSummary
    validation: Validation | None
    nodes: list[NodeMetrics]
    stack: StackMetrics
    recall_chart: str
    lineage: Lineage
    generated_at: str


def write_model_card(paths: Paths, taxonomy: Taxonomy) -> ModelCard:
    """Render the model card for the challenger in ``reports/promotion.json``.

    Writes ``reports/model_card.html`` and ``reports/<version>/model_card.html``, and
    ``reports/live/model_card.html`` too when the decision was to promote, so that
    ``reports/live/`` always describes the stack holding the ``live`` alias.

    Raises:
        DataError: promotion.json, stack.json or a node's metrics is missing or broken.
    """
    context = build_context(paths, taxonomy)
    html = render_card(context)
    promotion = context.promotion
    version_path = paths.reports / promotion.version / CARD_NAME
    live_path = paths.reports / LIVE_FOLDER / CARD_NAME if promotion.promoted else None
    card = ModelCard(
        paths.model_card, version_path, live_path,
        promotion.decision, promotion.model, promotion.version, context.summary,
    )
    for target in card.written:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
    return card


def build_context(paths: Paths, taxonomy: Taxonomy) -> CardContext:
    """Load every input of the card (see :mod:`taxonomist.report.inputs`)."""
    promotion = load_promotion(paths.promotion)
    stack = load_stack_metrics(paths.stack_metrics)
    return CardContext(
        taxonomy=taxonomy.name,
        promotion=promotion,
        summary=summary_line(promotion),
        data=load_data_summary(paths, taxonomy.nodes),
        validation=load_validation(paths.validation),
        nodes=[load_node_metrics(paths, node) for node in taxonomy.inner_nodes],
        stack=stack,
        recall_chart=_recall_chart(taxonomy, promotion, stack),
        lineage=load_lineage(paths, promotion),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def render_card(context: CardContext) -> str:
    """The card's HTML for ``context``."""
    return _environment().get_template(TEMPLATE).render(card=context)


def summary_line(promotion: Promotion) -> str:
    """One line saying what happened, e.g. for the registry's version description.

    Example: ``"digits.stack v3 promoted to live: leaf_accuracy 0.9620 (+0.0120 vs v2)"``.
    """
    verdict = "promoted to live" if promotion.promoted else "needs investigation"
    line = f"{promotion.model} v{promotion.version} {verdict}: {promotion.metric} " + _fmt(
        promotion.challenger_value
    )
    if promotion.live_version is not None and promotion.difference is not None:
        line += f" ({promotion.difference:+.4f} vs v{promotion.live_version})"
    elif promotion.live_version is None:
        line += " (nothing was live)"
    return f"{line}. {promotion.reason}".strip()


def _recall_chart(taxonomy: Taxonomy, promotion: Promotion, stack: StackMetrics) -> str:
    live = (promotion.live_metrics or {}).get("per_class_recall")
    live = live if isinstance(live, dict) else None
    classes = list(taxonomy.leaves)
    classes += sorted(set(stack.per_class_recall).union(live or {}) - set(classes))
    png = recall_chart(
        classes,
        stack.per_class_recall,
        live,
        challenger_label=f"v{promotion.version} (challenger)",
        live_label=f"v{promotion.live_version} (live before)",
    )
    return png_data_uri(png)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("taxonomist.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("j2",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _fmt
    env.filters["signed"] = lambda value, digits=4: "—" if value is None else f"{value:+.{digits}f}"
    return env


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
