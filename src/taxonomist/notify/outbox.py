"""The outbox: one JSON line per decision, the record every other channel is checked against."""

from __future__ import annotations

import json
from pathlib import Path

from taxonomist.notify.base import Notifier
from taxonomist.notify.message import Notification


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
