"""Tell people what the promote stage decided.

Every channel is a :class:`Notifier` that fills in one hook, :meth:`Notifier.send`. The
outbox (one JSON line per decision, appended to a file) is the default and the one tests
read; Slack and email will be two more subclasses, picked by ``conf/notify/<kind>.yaml``.

Usage, as the notify stage does it::

    notification = notification_from_promotion(promotion, paths.model_card)
    notifier_for(config.project.notify, paths.root).send(notification)
"""

from __future__ import annotations

import abc
import difflib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from taxonomist.config import NotifyConfig
from taxonomist.errors import ConfigError

PROMOTE = "promote"


@dataclass(frozen=True)
class Notification:
    """One decision, ready to send.

    Attributes:
        decision: ``"promote"`` or ``"needs_investigation"``.
        title: one readable line, e.g. a chat message or an email subject.
        text: a few lines with the reason and the numbers.
        card_path: the model card to open for details.
        model: the registered model, e.g. ``"digits.stack"``.
        version: the challenger's version.
        metrics: the challenger's scalar stack metrics.
        timestamp: when the decision was taken (ISO 8601).
    """

    decision: str
    title: str
    text: str
    card_path: Path
    model: str
    version: str
    metrics: dict[str, float] = field(default_factory=dict)
    timestamp: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the card path as text)."""
        return {**asdict(self), "card_path": str(self.card_path)}


class Notifier(abc.ABC):
    """A channel that delivers notifications. Subclasses implement :meth:`send`."""

    @abc.abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver one notification; raise if it could not be delivered."""


class OutboxNotifier(Notifier):
    """Appends one JSON object per line to a file, never rewriting what is there.

    Args:
        path: the outbox file; missing parent folders are created on the first send.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, notification: Notification) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            outbox.write(json.dumps(notification.as_dict(), sort_keys=True) + "\n")

    def __repr__(self) -> str:
        return f"OutboxNotifier({str(self.path)!r})"


NOTIFIERS: dict[str, Callable[[NotifyConfig, Path], Notifier]] = {
    "outbox": lambda cfg, root: OutboxNotifier(root / cfg.outbox),
}


def notifier_for(cfg: NotifyConfig, root: Path) -> Notifier:
    """The notifier that ``conf/notify/<kind>.yaml`` asks for.

    Args:
        cfg: the composed ``notify`` section.
        root: the project root; relative paths in ``cfg`` are taken from here.

    Raises:
        ConfigError: ``kind`` names no notifier; the message lists the valid kinds.
    """
    build = NOTIFIERS.get(cfg.kind)
    if build is None:
        close = difflib.get_close_matches(cfg.kind, NOTIFIERS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"conf/notify/{cfg.kind}.yaml",
            "kind",
            f"unknown notifier kind '{cfg.kind}'; valid kinds: {', '.join(NOTIFIERS)}",
            f"{hint}pick one with `notify=<kind>`, e.g. notify=outbox",
        )
    return build(cfg, Path(root))


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
    )


def _title(promotion: dict[str, Any], metrics: dict[str, float]) -> str:
    who = f"{promotion.get('registered_model', '?')} v{_version(promotion)}"
    if promotion.get("decision") != PROMOTE:
        return f"{who} needs investigation: {promotion.get('reason', 'no reason given')}"
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


def _version(promotion: dict[str, Any]) -> str:
    return str((promotion.get("challenger") or {}).get("version", "?"))


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if _is_number(value) else "n/a"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
