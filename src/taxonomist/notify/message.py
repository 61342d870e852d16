"""What a notification says: built once from ``reports/promotion.json``, sent by every channel."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxonomist.contracts.promotion import NO_CHANGE_WORDS, Outcome, PromotionRecord

if TYPE_CHECKING:
    from taxonomist.tracking.live_alias import LiveEvent

ROLLBACK = "rollback"  # a manual move back of @live: the one decision no record holds


@dataclass(frozen=True)
class Notification:
    """One decision, ready to send.

    Attributes:
        decision: an :class:`~taxonomist.contracts.promotion.Outcome` (an older record's
            ``"needs_investigation"`` reads as ``"investigate"``), or ``"rollback"`` for a
            manual move back.
        title: one readable line, e.g. a chat message or an email subject.
        text: a few lines with the reason and the numbers.
        card_path: the model card to open for details.
        model: the registered model, e.g. ``"digits.stack"``.
        version: the challenger's version.
        metrics: the challenger's scalar stack metrics.
        timestamp: when the decision was taken (ISO 8601).
        reason: why, in one line, as the promote stage put it.
        metric: the metric the decision was taken on, e.g. ``"leaf_accuracy"``.
    """

    decision: str
    title: str
    text: str
    card_path: Path
    model: str
    version: str
    metrics: dict[str, float] = field(default_factory=dict)
    timestamp: str = ""
    reason: str = ""
    metric: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the card path as text)."""
        return {**asdict(self), "card_path": str(self.card_path)}


def notification_from_promotion(record: PromotionRecord, card_path: Path) -> Notification:
    """Turn ``reports/promotion.json`` into a notification.

    Example:
        >>> record = PromotionRecord.from_json({
        ...     "decision": "promote", "reason": "leaf_accuracy improved by +0.0120",
        ...     "metric": "leaf_accuracy", "registered_model": "digits.stack",
        ...     "challenger": {"version": "3", "metrics": {"leaf_accuracy": 0.962}},
        ...     "live_before": {"version": "2", "metrics": {"leaf_accuracy": 0.95}},
        ...     "live_after": "3", "difference": 0.012})
        >>> notification_from_promotion(record, Path("reports/model_card.html")).title
        'digits.stack v3 promoted to live: leaf_accuracy 0.962 (+0.012 vs v2)'
    """
    metrics = {k: float(v) for k, v in record.challenger.metrics.items() if _is_number(v)}
    return Notification(
        decision=record.verdict.decision.value,
        title=_title(record, metrics),
        text=_text(record, metrics, card_path),
        card_path=Path(card_path),
        model=record.registered_model,
        version=record.challenger.version,
        metrics=metrics,
        timestamp=record.timestamp,
        reason=record.verdict.reason,
        metric=record.metric,
    )


def _title(record: PromotionRecord, metrics: dict[str, float]) -> str:
    who = f"{record.registered_model} v{record.challenger.version}"
    verdict = record.verdict
    reason = verdict.reason or "no reason given"
    if verdict.decision != Outcome.PROMOTE:
        return f"{who} {verdict.decision.words}: {reason}"
    score = f"{record.metric} {_fmt(metrics.get(record.metric))}"
    if record.unchanged:
        return f"{who} {NO_CHANGE_WORDS}: {score}"
    if record.live_before is not None and verdict.difference is not None:
        return (f"{who} {verdict.decision.words}: {score} "
                f"({verdict.difference:+.3f} vs v{record.live_version})")
    return f"{who} {verdict.decision.words}: {score} (first live version)"


def _text(record: PromotionRecord, metrics: dict[str, float], card_path: Path) -> str:
    metric, verdict = record.metric, record.verdict
    lines = [f"Decision: {verdict.decision} ({verdict.reason})"]
    lines.append(f"Challenger v{record.challenger.version}: {metric} {_fmt(metrics.get(metric))}")
    if record.live_before is not None:
        lines.append(f"Live before, v{record.live_version}: {metric} {_fmt(record.live_value)}")
    drops = record.class_recall_drops
    if drops:
        lines.append("Recall fell for: " + ", ".join(f"{c} (-{d:.3f})" for c, d in drops.items()))
    after = record.live_after
    lines.append(f"Live now: {'v' + after if after is not None else 'nothing'}")
    lines.append(f"Model card: {card_path}")
    if record.tracking_uri:
        lines.append(f"MLflow: {record.tracking_uri}")
    return "\n".join(lines)


def notification_from_rollback(
    model: str,
    event: LiveEvent,
    card_path: Path,
    metrics: dict[str, float] | None = None,
    metric: str = "leaf_accuracy",
) -> Notification:
    """Tell people that ``live`` was moved back by hand.

    Args:
        model: the registered model, e.g. ``"digits.stack"``.
        event: what :func:`taxonomist.tracking.live_alias.rollback` recorded.
        card_path: the model card of the version now live.
        metrics: that version's scalar metrics, if known.
        metric: the metric to quote, e.g. ``"leaf_accuracy"``.

    Example:
        >>> from taxonomist.tracking.live_alias import LiveEvent
        >>> event = LiveEvent("2", "3", "rollback", "ana", "six misread", "2025-01-02T03:04:05Z")
        >>> notification_from_rollback("digits.stack", event, Path("card.html")).title
        'digits.stack rolled back to v2 (from v3) by ana: six misread'
    """
    metrics = {k: float(v) for k, v in (metrics or {}).items() if _is_number(v)}
    came_from = f" (from v{event.previous})" if event.previous else ""
    title = f"{model} rolled back to v{event.version}{came_from} by {event.actor}: {event.reason}"
    lines = [
        f"Decision: rollback ({event.reason})",
        f"Live now: v{event.version}: {metric} {_fmt(metrics.get(metric))}",
        f"Rolled back from: {'v' + event.previous if event.previous else 'nothing'}",
        f"By {event.actor or 'unknown'} at {event.at}",
        f"Model card: {card_path}",
    ]
    return Notification(
        decision=ROLLBACK, title=title, text="\n".join(lines), card_path=Path(card_path),
        model=model, version=str(event.version), metrics=metrics, timestamp=event.at,
        reason=event.reason, metric=metric,
    )


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if _is_number(value) else "n/a"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
