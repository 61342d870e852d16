"""What a notification says: built once from ``reports/promotion.json``, sent by every channel."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taxonomist.registry import LiveEvent

PROMOTE, REJECT, ROLLBACK = "promote", "reject", "rollback"


@dataclass(frozen=True)
class Notification:
    """One decision, ready to send.

    Attributes:
        decision: ``"promote"``, ``"reject"``, ``"investigate"`` (older records:
            ``"needs_investigation"``), or ``"rollback"`` for a manual move back.
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


def notification_from_promotion(promotion: dict[str, Any], card_path: Path) -> Notification:
    """Turn ``reports/promotion.json`` into a notification.

    Example:
        >>> n = notification_from_promotion({
        ...     "decision": "promote", "reason": "leaf_accuracy improved by +0.0120",
        ...     "metric": "leaf_accuracy", "registered_model": "digits.stack",
        ...     "challenger": {"version": "3", "metrics": {"leaf_accuracy": 0.962}},
        ...     "live_before": {"version": "2", "metrics": {"leaf_accuracy": 0.95}},
        ...     "live_after": "3", "difference": 0.012}, Path("reports/model_card.html"))
        >>> n.title
        'digits.stack v3 promoted to live: leaf_accuracy 0.962 (+0.012 vs v2)'
    """
    challenger = promotion.get("challenger") or {}
    metrics = {
        k: float(v) for k, v in (challenger.get("metrics") or {}).items() if _is_number(v)
    }
    return Notification(
        decision=str(promotion.get("decision", "")),
        title=_title(promotion, metrics),
        text=_text(promotion, metrics, card_path),
        card_path=Path(card_path),
        model=str(promotion.get("registered_model", "")),
        version=_version(promotion),
        metrics=metrics,
        timestamp=str(promotion.get("timestamp", "")),
        reason=str(promotion.get("reason", "")),
        metric=str(promotion.get("metric", "")),
    )


def _title(promotion: dict[str, Any], metrics: dict[str, float]) -> str:
    who = f"{promotion.get('registered_model', '?')} v{_version(promotion)}"
    reason = promotion.get("reason") or "no reason given"
    if promotion.get("decision") == REJECT:
        return f"{who} rejected: {reason}"
    if promotion.get("decision") != PROMOTE:  # investigate, needs_investigation, unknown
        return f"{who} needs investigation: {reason}"
    metric = promotion.get("metric", "leaf_accuracy")
    score = f"{metric} {_fmt(metrics.get(metric))}"
    live, difference = promotion.get("live_before"), promotion.get("difference")
    if live and _is_number(difference):
        return f"{who} promoted to live: {score} ({difference:+.3f} vs v{live.get('version')})"
    return f"{who} promoted to live: {score} (first live version)"


def _text(promotion: dict[str, Any], metrics: dict[str, float], card_path: Path) -> str:
    metric = promotion.get("metric", "leaf_accuracy")
    live = promotion.get("live_before") or None
    lines = [f"Decision: {promotion.get('decision')} ({promotion.get('reason', '')})"]
    lines.append(f"Challenger v{_version(promotion)}: {metric} {_fmt(metrics.get(metric))}")
    if live:
        live_value = (live.get("metrics") or {}).get(metric)
        lines.append(f"Live before, v{live.get('version')}: {metric} {_fmt(live_value)}")
    drops = promotion.get("class_recall_drops") or {}
    if drops:
        lines.append("Recall fell for: " + ", ".join(f"{c} (-{d:.3f})" for c, d in drops.items()))
    after = promotion.get("live_after")
    lines.append(f"Live now: {'v' + str(after) if after is not None else 'nothing'}")
    lines.append(f"Model card: {card_path}")
    if promotion.get("tracking_uri"):
        lines.append(f"MLflow: {promotion['tracking_uri']}")
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
        event: what :func:`taxonomist.registry.rollback` recorded.
        card_path: the model card of the version now live.
        metrics: that version's scalar metrics, if known.
        metric: the metric to quote, e.g. ``"leaf_accuracy"``.

    Example:
        >>> from taxonomist.registry import LiveEvent
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


def _version(promotion: dict[str, Any]) -> str:
    return str((promotion.get("challenger") or {}).get("version", "?"))


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if _is_number(value) else "n/a"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
