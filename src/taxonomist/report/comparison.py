"""Challenger vs live side by side: the rows of the card's comparison charts and tables.

The numbers come from ``reports/promotion.json`` as the promote stage wrote it (see
:class:`~taxonomist.contracts.promotion.PromotionRecord`): one row per node/class check
where the record has checks, else per-class recall as both stacks recorded it. Nothing
here is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taxonomist.contracts.comparison import Check, Scope, Status
from taxonomist.contracts.files import number_or_none


@dataclass(frozen=True)
class SideBySide:
    """One row of the side-by-side chart and table; None where a side has no number."""

    name: str
    challenger: float | None
    live: float | None
    margin: float | None = None
    status: Status | None = None
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


def rows_from_checks(checks: Sequence[Check], scope: Scope) -> list[SideBySide]:
    """The side-by-side rows of one scope (nodes or classes), in check order."""
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
        SideBySide(n, number_or_none(challenger.get(n)), number_or_none((live or {}).get(n)))
        for n in ordered
    ]
