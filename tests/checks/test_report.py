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


def test_counts_per_split_show_after_the_total_and_land_in_the_json():
    split_counts = pd.DataFrame(
        [
            ("shape", "round", s, n)
            for s, n in (("all", 14), ("train", 10), ("val", 1), ("test", 3))
        ]
        + [("shape", "angular", s, 0) for s in ("all", "train", "val", "test")],
        columns=["node", "class", "split", "count"],
    )
    near = {"max_distance": 4, "hashed": 14, "skipped": 0, "pairs": 2, "train_test": 1}
    report = _report(
        split_counts=split_counts, near_duplicates=near, notes=["no label_source column"],
        data_docs="docs/index.html",
    )
    text = report.summary()
    assert text.startswith("validation passed: 14 images (train 10, val 1, test 3)")
    table = "images per class: all (train/val/test)\n  shape  round 14 (10/1/3)  angular 0 (0/0/0)"
    assert table in text
    assert "near-duplicates: 2 pair(s) in different sets within 4 bits (1 across" in text
    assert "Data Docs: docs/index.html" in text
    assert text.index("Data Docs") < text.index("notes (1)")
    data = report.to_json()
    assert data["splits"] == {"train": 10, "val": 1, "test": 3}
    assert {"node": "shape", "class": "round", "split": "val", "count": 1} in data["split_counts"]
    assert data["near_duplicates"]["train_test"] == 1
    assert data["data_docs"] == "docs/index.html" and data["notes"] == ["no label_source column"]
    json.dumps(data, allow_nan=False)
