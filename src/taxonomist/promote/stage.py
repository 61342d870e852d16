"""The promote stage: challenger vs live on the same frozen test split, then one alias move.

The whole stack is one registered model version and going live is one alias move, so
``@live`` always names a complete stack. The move is a compare-and-set under a lock:
just before moving, live is read again, and if another promotion moved it since the
comparison, the challenger is compared again with the new live instead of overwriting it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd

from taxonomist.config import Config, Paths
from taxonomist.contracts.files import write_atomic, write_text_atomic
from taxonomist.contracts.promotion import (
    Outcome,
    PromotionRecord,
    StackSide,
    Verdict,
    p_value_test,
)
from taxonomist.promote.rule import compare, first_promotion
from taxonomist.stack.build import StackVersion, evaluate_stack
from taxonomist.tracking.client import client_for
from taxonomist.tracking.live_alias import PROMOTE as MOVE_PROMOTE
from taxonomist.tracking.live_alias import current_actor, live_version, move_live
from taxonomist.tracking.lock import promotion_lock
from taxonomist.tracking.names import (
    COMPARED_WITH_TAG,
    DECISION_REASON_TAG,
    DECISION_TAG,
    DIFFERENCE_CI_TAG,
    DIFFERENCE_TAG,
    FAILING_CHECKS_TAG,
    LIVE_ALIAS,
    NEEDS_INVESTIGATION_TAG,
    p_value_tag,
)
from taxonomist.tracking.permissions import permission_needed
from taxonomist.tracking.versions import load_served_model, set_version_tags

OUTCOMES_FILE = "outcomes.parquet"
IMAGE_COLUMNS = ("id", "set_id", "label")  # the same for both stacks: not prefixed
# A reader's promotion is refused at its first write; the lock it took is released then.
_MOVING = "record a promotion decision on {0} and move its @live"


def promote(config: Config, paths: Paths) -> PromotionRecord:
    """Decide on the stack registered by the stack stage and act on the decision.

    Writes ``reports/promotion.json`` (the decision and every number behind it, see
    :class:`~taxonomist.contracts.promotion.PromotionRecord`) and
    ``reports/outcomes.parquet`` (both stacks' per-image outcomes).

    Raises:
        RegistryPermissionError: the tracking server refused the decision's tags or the
            move of ``@live`` to this user (``$MLFLOW_TRACKING_USERNAME``); nothing on
            the registry changed and the promotion lock is released.
    """
    rule = config.project.promotion
    challenger = StackVersion.load(paths.stack_dir)
    client = client_for(config.project.mlflow, paths)
    chal_metrics, chal_out = _evaluate_version(client, paths, challenger.name, challenger.version)
    compared_with: object = object()  # nothing compared yet
    while True:
        live = live_version(client, challenger.name)
        if live != compared_with:
            live_metrics, live_out, verdict = _judge(
                config, paths, client, challenger, chal_metrics, chal_out, live
            )
            compared_with = live
        with (permission_needed(challenger.name, "EDIT", _MOVING.format(challenger.name)),
              promotion_lock(client, challenger.name, rule.lock_timeout_s)):
            if live_version(client, challenger.name) == compared_with:
                _record_on_registry(client, challenger, verdict, live, rule.metric)
                break
    paths.promotion.parent.mkdir(parents=True, exist_ok=True)
    _write_outcomes(paths, chal_out, live_out)
    record = _record(challenger, chal_metrics, live, live_metrics, verdict, rule.metric)
    record = replace(record, tracking_uri=client.tracking_uri)  # where both versions live
    write_text_atomic(paths.promotion, json.dumps(record.to_json(), indent=2))
    return record


def _judge(
    config: Config, paths: Paths, client, challenger: StackVersion, chal_metrics, chal_out, live
):
    rule = config.project.promotion
    if live is None:
        return None, None, first_promotion(rule, chal_metrics)
    if live == challenger.version:
        return chal_metrics, chal_out, Verdict(
            Outcome.PROMOTE, f"no change: v{live} already holds '{LIVE_ALIAS}'"
        )
    live_metrics, live_out = _evaluate_version(client, paths, challenger.name, live)
    verdict = compare(rule, config.taxonomy, chal_out, live_out, config.project.seed)
    return live_metrics, live_out, verdict


def _evaluate_version(client, paths: Paths, name: str, version: str):
    """Load a registered stack exactly as it will be served and test it."""
    return evaluate_stack(load_served_model(client, name, version).predictor, paths)


def _record_on_registry(
    client, challenger: StackVersion, verdict: Verdict, live, metric: str
) -> None:
    if live != challenger.version:  # a rerun keeps the first promotion's tags: its evidence
        tags = _decision_tags(verdict, live, metric)
        set_version_tags(client, challenger.name, challenger.version, tags)
    if verdict.decision == Outcome.PROMOTE:
        # On a rerun this writes nothing, unless a crash left the first move unrecorded.
        move_live(
            client, challenger.name, challenger.version,
            reason=verdict.reason, actor=current_actor(), kind=MOVE_PROMOTE,
        )


def _decision_tags(verdict: Verdict, live: str | None, metric: str) -> dict[str, str]:
    """The decision as registry tags; the p-value's tag names its test (``mcnemar_p``,
    as every version had before, or ``wilcoxon_p``)."""
    tags = {DECISION_TAG: verdict.decision.value, DECISION_REASON_TAG: verdict.reason[:4000]}
    if verdict.comparison is not None:
        comp = verdict.comparison
        tags |= {
            DIFFERENCE_TAG: str(comp.difference),
            DIFFERENCE_CI_TAG: f"[{comp.ci_low}, {comp.ci_high}]",
            p_value_tag(p_value_test(metric)): str(comp.p_value),
            FAILING_CHECKS_TAG: ", ".join(c.name for c in verdict.failing or [])[:4000],
        }
    if live:
        tags[COMPARED_WITH_TAG] = live
    if verdict.decision == Outcome.INVESTIGATE:
        tags[NEEDS_INVESTIGATION_TAG] = "true"
    return tags


def _write_outcomes(paths: Paths, chal_out: pd.DataFrame, live_out: pd.DataFrame | None):
    """One row per test image: the image's own columns, then every outcome column of
    each stack as ``challenger_<column>`` and ``live_<column>`` (None: nothing live)."""
    sides = [c for c in chal_out.columns if c not in IMAGE_COLUMNS]
    table = chal_out.rename(columns={c: f"challenger_{c}" for c in sides})
    for col in sides:
        table[f"live_{col}"] = None if live_out is None else live_out[col].to_numpy()
    write_atomic(paths.reports / OUTCOMES_FILE, lambda tmp: table.to_parquet(tmp, index=False))


def _record(
    challenger: StackVersion, chal_metrics, live, live_metrics, verdict: Verdict, metric: str
) -> PromotionRecord:
    promoted = verdict.decision == Outcome.PROMOTE
    return PromotionRecord(
        verdict=verdict,
        metric=metric,
        registered_model=challenger.name,
        challenger=StackSide(challenger.version, chal_metrics, challenger.run_id),
        live_before=StackSide(live, live_metrics) if live else None,
        live_after=challenger.version if promoted else live,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
    )
