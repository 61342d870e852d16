"""``taxonomist history``: the versions that held ``live`` over time, as a table.

One row per move of ``live`` (see :mod:`taxonomist.tracking.live_alias`): when, which version, what
kind of move, who, the version's primary metric and its difference from the version it
was compared with at promotion, and why. The newest row is marked as live now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from taxonomist.tracking.live_alias import PROMOTE, history, version_metrics
from taxonomist.tracking.names import DIFFERENCE_TAG
from taxonomist.tracking.versions import version_tag

if TYPE_CHECKING:
    from taxonomist.tracking.client import Client

MAX_WHY = 72


@dataclass(frozen=True)
class HistoryRow:
    """One move of ``live``, with what the registry knows about the version it moved to."""

    at: str
    version: str | None
    previous: str | None
    kind: str
    actor: str
    reason: str
    metric: float | None
    difference: float | None


def history_rows(client: Client, name: str, metric: str) -> list[HistoryRow]:
    """The recorded moves of ``live`` of ``name``, oldest first, with ``metric`` of each."""
    cache: dict[str, tuple[float | None, float | None]] = {}
    rows = []
    for event in history(client, name):
        if event.version is not None and event.version not in cache:
            cache[event.version] = _numbers(client, name, event.version, metric)
        value, difference = cache.get(event.version or "", (None, None))
        rows.append(HistoryRow(event.at, event.version, event.previous, event.kind,
                               event.actor, event.reason, value, difference))
    return rows


def format_history(name: str, rows: list[HistoryRow], metric: str) -> str:
    """A plain-text table of ``rows`` for a terminal, the newest last.

    Example::

        digits.stack: versions that held @live, oldest first
        when (UTC)           version  move      by   leaf_accuracy  vs live  why
        2025-01-02 03:04:05  v1       promote   ci   0.9500         —        nothing is live yet …
        2025-01-03 10:00:00  v2       promote   ci   0.9620         +0.0120  significantly better …
        2025-01-03 11:30:00  v1 ←     rollback  ana  0.9500         —        six misread on …
    """
    if not rows:
        return f"{name}: nothing has held @live yet"
    header = ["when (UTC)", "version", "move", "by", metric, "vs live", "why"]
    table = [header] + [_cells(row, last=i == len(rows) - 1) for i, row in enumerate(rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    lines = [f"{name}: versions that held @live, oldest first ('←' holds it now)"]
    for cells in table:
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=False)]
        lines.append("  ".join([*padded, cells[-1]]).rstrip())
    return "\n".join(lines)


def _cells(row: HistoryRow, last: bool) -> list[str]:
    version = "none" if row.version is None else f"v{row.version}"
    return [
        row.at.replace("T", " ").removesuffix("+00:00") or "?",
        f"{version} ←" if last else version,
        row.kind,
        row.actor or "?",
        "—" if row.metric is None else f"{row.metric:.4f}",
        "—" if row.difference is None or row.kind != PROMOTE else f"{row.difference:+.4f}",
        _shorten(row.reason or "(moved outside taxonomist)"),
    ]


def _numbers(client: Client, name: str, version: str, metric: str):
    value = version_metrics(client, name, version).get(metric)
    try:
        difference = float(version_tag(client, name, version, DIFFERENCE_TAG) or "")
    except ValueError:  # deleted, first live (no tag), or not a number
        difference = None
    return value, difference


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_WHY else text[: MAX_WHY - 1] + "…"
