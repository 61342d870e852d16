"""Sorting failed results into errors and warnings, each worded by its check."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from taxonomist.checks.verdict import sort_messages


def _failed(meta: dict, result: dict, exception_info: dict | None = None, severity="critical"):
    config = SimpleNamespace(
        type="expect_column_values_to_be_between",
        kwargs={"column": "count"},
        meta=meta,
        severity=severity,
    )
    return SimpleNamespace(
        success=False,
        expectation_config=config,
        result=result,
        exception_info=exception_info or {"raised_exception": False},
    )


def test_a_check_that_raised_reports_the_exception_as_an_error():
    nested = {"metric-id": {"raised_exception": True, "exception_message": "bad dtype"}}
    errors, warnings = sort_messages([_failed({"check": "min_images"}, {}, nested)])
    assert errors == ["check expect_column_values_to_be_between on count could not run: bad dtype"]
    assert warnings == []


def test_a_warning_severity_goes_to_the_warnings():
    rows = [{"node": "round", "class": "oval", "count": "4", "recommended_images": "5"}]
    meta = {"check": "recommended_images"}
    errors, warnings = sort_messages(
        [_failed(meta, {"unexpected_index_list": rows}, severity="warning")]
    )
    assert errors == [] and len(warnings) == 1
    assert "node 'round', class 'oval': 4 images, fewer than recommended_images 5" in warnings[0]


@pytest.mark.parametrize("meta", [{}, {"check": "min_image"}])  # none, and misspelt
def test_a_result_of_no_registered_check_is_a_bug_not_a_generic_message(meta):
    with pytest.raises(LookupError, match="no registered data check is named .*registry.py"):
        sort_messages([_failed(meta, {"observed_value": 7})])


def test_a_class_with_an_error_gets_no_warning_as_well():
    rows = [
        {"node": "round", "class": "oval", "count": "1", "min_images": "3"},
        {"node": "round", "class": "circle", "count": "4", "min_images": "3"},
    ]
    for row in rows:
        row["recommended_images"] = "5"
    errors, warnings = sort_messages(
        [
            _failed(
                {"check": "recommended_images"}, {"unexpected_index_list": rows}, None, "warning"
            ),
            _failed({"check": "min_images"}, {"unexpected_index_list": rows[:1]}),
        ]
    )
    assert len(errors) == 1 and "class 'oval'" in errors[0]
    assert len(warnings) == 1 and "class 'circle'" in warnings[0]
