"""The promote stage: challenger vs live on the same frozen test split, then one alias move.

The rule lives in ``conf/promotion/*.yaml``. Going live is moving the registry alias
``live`` to the challenger's version; anything short of a clear win leaves live alone
and tags the challenger ``needs_investigation`` for a human.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from taxonomist.config import Config, Paths, PromotionConfig, resolve_tracking_uri
from taxonomist.errors import ConfigError
from taxonomist.stack.build import StackVersion, evaluate_stack

LIVE = "live"
PROMOTE, INVESTIGATE = "promote", "needs_investigation"


@dataclass(frozen=True)
class Decision:
    decision: str  # PROMOTE or INVESTIGATE
    reason: str
    difference: float | None = None
    class_recall_drops: dict[str, float] = field(default_factory=dict)


def decide(rule: PromotionConfig, challenger: dict, live: dict | None) -> Decision:
    """Apply the promotion rule to two sets of stack metrics (``metrics/stack.json``).

    Example:
        >>> rule = PromotionConfig(metric="leaf_accuracy", min_metric=0.5)
        >>> decide(rule, {"leaf_accuracy": 0.9, "per_class_recall": {}}, None).decision
        'promote'
    """
    score = _metric(rule, challenger)
    if live is None:
        if score < rule.min_metric:
            return Decision(INVESTIGATE, f"{rule.metric} {score:.4f} is below the floor "
                                         f"min_metric={rule.min_metric} for a first promotion")
        return Decision(PROMOTE, f"nothing is live yet and {rule.metric} {score:.4f} "
                                 f">= min_metric {rule.min_metric}")
    difference = round(score - _metric(rule, live), 4)
    drops = _recall_drops(challenger, live, rule.max_class_recall_drop)
    if drops:
        worst = ", ".join(f"{c} (-{d:.3f})" for c, d in drops.items())
        reason = f"class recall fell more than {rule.max_class_recall_drop}: {worst}"
        return Decision(INVESTIGATE, reason, difference, drops)
    if difference <= rule.min_improvement:
        reason = (f"{rule.metric} changed by {difference:+.4f}, not more than "
                  f"min_improvement {rule.min_improvement}")
        return Decision(INVESTIGATE, reason, difference)
    return Decision(PROMOTE, f"{rule.metric} improved by {difference:+.4f}", difference)


def promote(config: Config, paths: Paths) -> dict[str, object]:
    """Compare the challenger from the stack stage with live and act on the decision.

    The alias moves by compare-and-set: just before moving it, live is read again, and
    if another promotion moved it meanwhile the comparison is made again against the
    new live rather than overwriting it. Writes ``reports/promotion.json``.
    """
    rule = config.project.promotion
    challenger = StackVersion.load(paths.stack_dir)
    client = MlflowClient(resolve_tracking_uri(config.project.mlflow.tracking_uri, paths))
    mlflow.set_tracking_uri(client.tracking_uri)
    challenger_metrics = _evaluate_version(paths, challenger.name, challenger.version)
    while True:
        live_version = live_version_of(client, challenger.name)
        live_metrics = (
            _evaluate_version(paths, challenger.name, live_version) if live_version else None
        )
        decision = (
            Decision(PROMOTE, f"version {live_version} already holds '{LIVE}'")
            if live_version == challenger.version
            else decide(rule, challenger_metrics, live_metrics)
        )
        if live_version_of(client, challenger.name) == live_version:
            break  # nobody moved live while we compared
    _record_on_registry(client, challenger, decision, live_version)
    record = _record(challenger, challenger_metrics, live_version, live_metrics, decision, rule)
    record["tracking_uri"] = client.tracking_uri
    paths.promotion.parent.mkdir(parents=True, exist_ok=True)
    paths.promotion.write_text(json.dumps(record, indent=2))
    return record


def live_version_of(client: MlflowClient, name: str) -> str | None:
    """The version holding alias ``live``, as text (sqlite gives int, HTTP gives str)."""
    try:
        return str(client.get_model_version_by_alias(name, LIVE).version)
    except MlflowException:
        return None


def _evaluate_version(paths: Paths, name: str, version: str) -> dict[str, object]:
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    metrics, _ = evaluate_stack(model.unwrap_python_model().predictor, paths)
    return metrics


def _record_on_registry(client, challenger: StackVersion, decision: Decision, live) -> None:
    tags = {"decision": decision.decision, "decision_reason": decision.reason[:4000]}
    if decision.difference is not None:
        tags["difference_vs_live"] = str(decision.difference)
    if live:
        tags["compared_with_version"] = live
    if decision.decision == INVESTIGATE:
        tags["needs_investigation"] = "true"
    for key, value in tags.items():
        client.set_model_version_tag(challenger.name, challenger.version, key, value)
    if decision.decision == PROMOTE:
        client.set_registered_model_alias(challenger.name, LIVE, challenger.version)


def _record(challenger, challenger_metrics, live_version, live_metrics, decision, rule) -> dict:
    promoted = decision.decision == PROMOTE
    return {
        **asdict(decision),
        "metric": rule.metric,
        "registered_model": challenger.name,
        "challenger": {
            "version": challenger.version,
            "run_id": challenger.run_id,
            "metrics": challenger_metrics,
        },
        "live_before": (
            {"version": live_version, "metrics": live_metrics} if live_version else None
        ),
        "live_after": challenger.version if promoted else live_version,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _metric(rule: PromotionConfig, metrics: dict) -> float:
    value = metrics.get(rule.metric)
    if not isinstance(value, int | float):
        valid = sorted(k for k, v in metrics.items() if isinstance(v, int | float))
        raise ConfigError(
            "conf/promotion", "metric", f"'{rule.metric}' is not a stack metric",
            f"use one of: {', '.join(valid)}",
        )
    return float(value)


def _recall_drops(challenger: dict, live: dict, allowed: float) -> dict[str, float]:
    before, after = live.get("per_class_recall", {}), challenger.get("per_class_recall", {})
    drops = {c: round(before[c] - after.get(c, 0.0), 4) for c in before}
    return {c: d for c, d in sorted(drops.items(), key=lambda x: -x[1]) if d > allowed}
