from __future__ import annotations

import pytest

from taxonomist.report.comparison import (
    Comparison,
    SideBySide,
    parse_checks,
    parse_comparison,
    rows_from_checks,
    rows_from_metrics,
)
from tests.report.make_inputs import COMPARISON, checks


def test_comparison_block_is_typed() -> None:
    assert parse_comparison({"comparison": COMPARISON}) == Comparison(
        0.012, 0.004, 0.0205, 0.95, 0.0031, 312, 9, 2, "set_id"
    )


@pytest.mark.parametrize("record", [
    {},
    {"comparison": None},
    {"comparison": {"difference": 0.01}},  # no interval: show the plain difference
    {"comparison": {**COMPARISON, "p_value": "n/a"}},
])
def test_missing_or_partial_comparison_is_none(record: dict) -> None:
    assert parse_comparison(record) is None


def test_checks_skip_entries_without_a_name() -> None:
    parsed = parse_checks([*checks(), {"scope": "node"}, "garbage"])
    assert [c.name for c in parsed] == ["digit", "round", "straight", "zero", "six", "one", "four"]
    six = parsed[4]
    assert (six.scope, six.challenger, six.live, six.margin, six.status, six.failed) == (
        "class", 0.8, 0.95, 0.05, "regression", True
    )
    assert parse_checks(None) == parse_checks("not a list") == []


def test_rows_of_one_scope_keep_the_check_order() -> None:
    rows = rows_from_checks(parse_checks(checks()), "node")
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
