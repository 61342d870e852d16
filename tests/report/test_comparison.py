from __future__ import annotations

import pytest

from taxonomist.contracts.comparison import Check, Scope
from taxonomist.report.comparison import SideBySide, rows_from_checks, rows_from_metrics
from tests.report.make_inputs import checks


def test_rows_of_one_scope_keep_the_check_order() -> None:
    rows = rows_from_checks([Check.from_json(c) for c in checks()], Scope.NODE)
    assert [r.name for r in rows] == ["digit", "round", "straight"]
    assert rows[1].status == "inconclusive"
    assert rows[1].difference == pytest.approx(-0.05)
    assert rows[1].floor == pytest.approx(0.90)  # live 0.95 minus margin 0.05


def test_rows_from_metrics_in_taxonomy_order_then_the_rest() -> None:
    rows = rows_from_metrics(["zero", "six", "one"], {"six": 0.8, "nine": 1.0}, {"zero": 0.9})
    assert rows == [
        SideBySide("zero", None, 0.9), SideBySide("six", 0.8, None), SideBySide("nine", 1.0, None)
    ]
    assert rows[0].difference is None and rows[0].floor is None
