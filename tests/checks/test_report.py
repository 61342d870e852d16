"""ValidationReport: the one-screen summary and the JSON form, on reports built by hand."""

from __future__ import annotations

import json
import math

import pandas as pd

from taxonomist.checks import ValidationReport
from taxonomist.checks.report import SHOWN_WARNINGS, WIDTH


def _report(**overrides) -> ValidationReport:
    counts = pd.DataFrame(
        [("shape", "round", 14), ("shape", "angular", 0)], columns=["node", "class", "count"]
    )
    fields = {"success": True, "errors": [], "warnings": [], "counts": counts, "n_images": 14}
    return ValidationReport(**{**fields, **overrides})


def test_long_lists_of_warnings_are_cut_short_in_the_summary():
    warnings = [f"warning {i}" for i in range(SHOWN_WARNINGS + 3)]
    text = _report(warnings=warnings).summary()
    assert f"warning {SHOWN_WARNINGS - 1}" in text
    assert f"warning {SHOWN_WARNINGS}\n" not in text
    assert "... and 3 more in the JSON report" in text


def test_a_node_with_many_classes_wraps_under_its_first_class():
    counts = pd.DataFrame(
        [("make", f"brand_{i:02d}", 1000 + i) for i in range(40)],
        columns=["node", "class", "count"],
    )
    lines = _report(counts=counts).summary().splitlines()
    table = lines[lines.index("images per class") + 1 :]
    assert len(table) > 1 and all(len(line) <= WIDTH for line in table)
    assert table[0].startswith("  make  brand_00 1000")
    assert table[1].startswith("        brand_")
    assert sum(line.count("brand_") for line in table) == 40


def test_to_json_is_strict_json_even_with_nan_statistics():
    stats = {"manifest": {"evaluated_expectations": 0, "success_percent": math.nan}}
    data = _report(statistics=stats).to_json()
    assert data["statistics"]["manifest"]["success_percent"] is None
    assert data["counts"][1] == {"node": "shape", "class": "angular", "count": 0}
    json.dumps(data, allow_nan=False)
