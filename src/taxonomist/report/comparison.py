"""Challenger vs live on the same images: the paired comparison and the per-node/class checks.

The promote stage writes both into ``reports/promotion.json``: a ``comparison`` block
(the paired difference of the primary metric, its bootstrap interval and the exact
McNemar p-value) and a ``checks`` list (one non-inferiority test per node's accuracy and
per class's recall, Holm-corrected). This module parses them into typed records and
turns them into the rows the card's side-by-side chart and table show. Nothing here is
recomputed: a record that lacks a block (an older promotion.json, a first promotion)
simply has no comparison, and the rows fall back to the metrics both stacks recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NODE, CLASS = "node", "class"
OK, REGRESSION, INCONCLUSIVE = "ok", "regression", "inconclusive"


@dataclass(frozen=True)
class Comparison:
    """The ``comparison`` block: challenger minus live on the primary metric, paired.

    Attributes:
        difference: challenger minus live, on the same images.
        ci_low, ci_high: the bootstrap confidence interval of ``difference``.
        confidence: its level, e.g. 0.95.
        p_value: exact McNemar test on the images only one of the two got right.
        challenger_only_correct, live_only_correct: those discordant images, or None.
        resampled: what the bootstrap resampled (``"set_id"`` groups or ``"image"``).
    """

    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    n_images: int
    challenger_only_correct: int | None = None
    live_only_correct: int | None = None
    resampled: str = ""


@dataclass(frozen=True)
class Check:
    """One node's accuracy or one class's recall, challenger vs live, after Holm."""

    scope: str
    name: str
    challenger: float | None
    live: float | None
    difference: float | None
    margin: float | None
    p_value: float | None
    p_value_adjusted: float | None
    status: str

    @property
    def failed(self) -> bool:
        return self.status != OK


@dataclass(frozen=True)
class SideBySide:
    """One row of the side-by-side chart and table; None where a side has no number."""

    name: str
    challenger: float | None
    live: float | None
    margin: float | None = None
    status: str | None = None
    p_value_adjusted: float | None = None

    @property
    def difference(self) -> float | None:
        if self.challenger is None or self.live is None:
            return None
        return self.challenger - self.live

    @property
    def floor(self) -> float | None:
        """Where the challenger must stay above: live minus the non-inferiority margin."""
        return None if self.live is None or self.margin is None else self.live - self.margin


def parse_comparison(record: Mapping[str, Any]) -> Comparison | None:
    """The ``comparison`` block of promotion.json, or None when absent or incomplete."""
    block = record.get("comparison")
    if not isinstance(block, Mapping):
        return None
    try:
        return Comparison(
            difference=float(block["difference"]),
            ci_low=float(block["ci_low"]),
            ci_high=float(block["ci_high"]),
            confidence=float(block.get("confidence", 0.95)),
            p_value=float(block["p_value"]),
            n_images=int(block.get("n_images", 0)),
            challenger_only_correct=_int_or_none(block.get("challenger_only_correct")),
            live_only_correct=_int_or_none(block.get("live_only_correct")),
            resampled=str(block.get("resampled") or ""),
        )
    except (KeyError, TypeError, ValueError):
        return None  # a partial record: the card shows the plain difference instead


def parse_checks(items: Any) -> list[Check]:
    """Each well-formed entry of a ``checks`` (or ``failing``) list; others are skipped."""
    if not isinstance(items, Sequence) or isinstance(items, str):
        return []
    return [
        Check(
            scope=str(item.get("scope", "")),
            name=str(item["name"]),
            challenger=_float_or_none(item.get("challenger")),
            live=_float_or_none(item.get("live")),
            difference=_float_or_none(item.get("difference")),
            margin=_float_or_none(item.get("margin")),
            p_value=_float_or_none(item.get("p_value")),
            p_value_adjusted=_float_or_none(item.get("p_value_adjusted")),
            status=str(item.get("status", OK)),
        )
        for item in items
        if isinstance(item, Mapping) and "name" in item
    ]


def rows_from_checks(checks: Sequence[Check], scope: str) -> list[SideBySide]:
    """The side-by-side rows of one scope (``"node"`` or ``"class"``), in check order."""
    return [
        SideBySide(c.name, c.challenger, c.live, c.margin, c.status, c.p_value_adjusted)
        for c in checks
        if c.scope == scope
    ]


def rows_from_metrics(
    names: Sequence[str], challenger: Mapping[str, Any], live: Mapping[str, Any] | None
) -> list[SideBySide]:
    """Rows from two ``{name: value}`` maps, for records without checks.

    ``names`` come first in their order, then any name only the maps know, sorted.
    """
    known = set(challenger) | set(live or {})
    ordered = [n for n in names if n in known] + sorted(known - set(names))
    return [
        SideBySide(n, _float_or_none(challenger.get(n)), _float_or_none((live or {}).get(n)))
        for n in ordered
    ]


def _float_or_none(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
