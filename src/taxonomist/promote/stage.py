"""The promote stage: challenger vs live on the same frozen test split, then one alias move.

The whole stack is one registered model version and going live is one alias move, so
``@live`` always names a complete stack. The move is a compare-and-set under a lock:
just before moving, live is read again, and if another promotion moved it since the
comparison, the challenger is compared again with the new live instead of overwriting it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import mlflow
import pandas as pd
from mlflow import MlflowClient

from taxonomist.config import Config, Paths, resolve_tracking_uri
from taxonomist.promote.lock import promotion_lock
from taxonomist.promote.rule import INVESTIGATE, PROMOTE, Decision, compare, first_promotion
from taxonomist.registry import LIVE, current_actor, live_version, move_live
from taxonomist.registry import PROMOTE as MOVE_PROMOTE
from taxonomist.stack.build import StackVersion, evaluate_stack

OUTCOMES_FILE = "outcomes.parquet"


def promote(config: Config, paths: Paths) -> dict[str, object]:
    """Decide on the stack registered by the stack stage and act on the decision.

    Writes ``reports/promotion.json`` (the decision and every number behind it) and
    ``reports/outcomes.parquet`` (both stacks' per-image outcomes).
    """
    rule = config.project.promotion
    challenger = StackVersion.load(paths.stack_dir)
    client = MlflowClient(resolve_tracking_uri(config.project.mlflow.tracking_uri, paths))
    mlflow.set_tracking_uri(client.tracking_uri)
    chal_metrics, chal_out = _evaluate_version(paths, challenger.name, challenger.version)
    compared_with: object = object()  # nothing compared yet
    while True:
        live = live_version(client, challenger.name)
        if live != compared_with:
            live_metrics, live_out, decision = _judge(
                config, paths, challenger, chal_metrics, chal_out, live
            )
            compared_with = live
        with promotion_lock(client, challenger.name, rule.lock_timeout_s):
            if live_version(client, challenger.name) == compared_with:
                _record_on_registry(client, challenger, decision, live)
                break
    paths.promotion.parent.mkdir(parents=True, exist_ok=True)
    _write_outcomes(paths, chal_out, live_out)
    record = _record(challenger, chal_metrics, live, live_metrics, decision, rule.metric)
    record["tracking_uri"] = client.tracking_uri
    paths.promotion.write_text(json.dumps(record, indent=2))
    return record


def _judge(config, paths, challenger, chal_metrics, chal_out, live):
    rule = config.project.promotion
    if live is None:
        return None, None, first_promotion(rule, chal_metrics)
    if live == challenger.version:
        return chal_metrics, chal_out, Decision(PROMOTE, f"v{live} already holds '{LIVE}'")
    live_metrics, live_out = _evaluate_version(paths, challenger.name, live)
    decision = compare(rule, config.taxonomy, chal_out, live_out, config.project.seed)
    return live_metrics, live_out, decision


def _evaluate_version(paths: Paths, name: str, version: str):
    """Load a registered stack exactly as it will be served and test it."""
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    return evaluate_stack(model.unwrap_python_model().predictor, paths)


def _record_on_registry(client, challenger: StackVersion, decision: Decision, live) -> None:
    tags = {"decision": decision.decision, "decision_reason": decision.reason[:4000]}
    if decision.comparison is not None:
        comp = decision.comparison
        tags |= {
            "difference_vs_live": str(comp.difference),
            "difference_ci": f"[{comp.ci_low}, {comp.ci_high}]",
            "mcnemar_p": str(comp.p_value),
            "failing_checks": ", ".join(c.name for c in decision.failing)[:4000],
        }
    if live:
        tags["compared_with_version"] = live
    if decision.decision == INVESTIGATE:
        tags["needs_investigation"] = "true"
    for key, value in tags.items():
        client.set_model_version_tag(challenger.name, challenger.version, key, value)
    if decision.decision == PROMOTE and live != challenger.version:
        move_live(
            client, challenger.name, challenger.version,
            reason=decision.reason, actor=current_actor(), kind=MOVE_PROMOTE,
        )


def _write_outcomes(paths: Paths, chal_out: pd.DataFrame, live_out: pd.DataFrame | None):
    cols = ["predicted", "correct", "distance", "path"]
    table = chal_out.rename(columns={c: f"challenger_{c}" for c in cols})
    for col in cols:
        table[f"live_{col}"] = None if live_out is None else live_out[col].to_numpy()
    table.to_parquet(paths.reports / OUTCOMES_FILE, index=False)


def _record(challenger, chal_metrics, live, live_metrics, decision: Decision, metric) -> dict:
    promoted = decision.decision == PROMOTE
    return {
        **decision.to_json(),
        "metric": metric,
        "registered_model": challenger.name,
        "challenger": {
            "version": challenger.version, "run_id": challenger.run_id, "metrics": chal_metrics,
        },
        "live_before": {"version": live, "metrics": live_metrics} if live else None,
        "live_after": challenger.version if promoted else live,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
