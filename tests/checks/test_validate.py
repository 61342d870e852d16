"""validate(): the great-expectations gate on the manifest, one case per kind of problem.

Importing great-expectations takes seconds, so each manifest is validated once per module
and the tests read the cached report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from taxonomist.checks import ValidationReport, validate
from taxonomist.errors import ConfigError
from tests.checks.shapes import CLASSIFIERS, GOOD, TAXONOMY, make_manifest


def _bad_rows() -> pd.DataFrame:
    manifest = make_manifest({**GOOD, "hexagon": 2})
    manifest.loc[1, "id"] = manifest.loc[0, "id"]  # images/000.png and images/001.png
    manifest.loc[2, "id"] = None  # images/002.png
    manifest.loc[3, "label"] = ""  # images/003.png; ingest writes a missing label as ""
    return manifest


CASES: dict[str, Callable[[], pd.DataFrame]] = {
    "good": lambda: make_manifest(GOOD),
    "too_few": lambda: make_manifest({**GOOD, "circle": 2}),
    "zero": lambda: make_manifest({**GOOD, "triangle": 0}),
    "unbalanced": lambda: make_manifest({**GOOD, "triangle": 20}),
    "below_recommended": lambda: make_manifest({**GOOD, "oval": 4}),
    "bad_rows": _bad_rows,
    "missing_columns": lambda: make_manifest(GOOD).drop(columns=["label", "width"]),
}


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ValidationReport]:
    """Validate each case once; ``validated("zero")`` returns its report."""
    out = tmp_path_factory.mktemp("checks")
    reports: dict[str, ValidationReport] = {}

    def run(case: str) -> ValidationReport:
        if case not in reports:
            path = out / case / "reports" / "data" / "validation.json"
            reports[case] = validate(CASES[case](), TAXONOMY, CLASSIFIERS, path)
        return reports[case]

    run.out = out  # type: ignore[attr-defined]
    return run


def test_a_good_manifest_passes(validated):
    report = validated("good")
    assert report.success, report.summary()
    assert report.errors == [] and report.warnings == []
    assert report.n_images == sum(GOOD.values())


@pytest.mark.parametrize(
    "case, expected",
    [
        (
            "too_few",
            [
                "node 'round', class 'circle'",
                "2 images",
                "min_images 3",
                "add images of 'circle'",
                "lower min_images in conf/classifiers/round.yaml",
            ],
        ),
        ("zero", ["node 'angular', class 'triangle'", "no images (0)", "min_images 3"]),
        ("zero", ["node 'angular'", "'triangle' 0 images = infinite", "max_imbalance 3"]),
        (
            "unbalanced",
            [
                "node 'angular'",
                "'triangle' 20 / 'square' 6 images = 3.3",
                "max_imbalance 3",
                "raise max_imbalance in conf/classifiers/angular.yaml",
            ],
        ),
        ("bad_rows", ["taxonomy 'shapes'", "'hexagon' (2 images)", "conf/taxonomy/shapes.yaml"]),
        ("bad_rows", ["used by more than one row", "images/000.png, images/001.png"]),
        ("bad_rows", ["1 image without id", "images/002.png"]),
        ("bad_rows", ["1 image without label", "images/003.png"]),
        ("missing_columns", ["missing column(s) 'label', 'width'", "taxonomist ingest"]),
    ],
)
def test_each_problem_fails_with_a_message_that_names_it(validated, case, expected):
    report = validated(case)
    assert not report.success
    matching = [e for e in report.errors if all(piece in e for piece in expected)]
    assert matching, f"no error contains {expected}:\n" + "\n".join(report.errors)


@pytest.mark.parametrize(
    "case, n_errors, n_warnings",
    [
        ("good", 0, 0),
        ("too_few", 1, 0),  # below min_images: the error only, not also the warning
        ("zero", 2, 0),  # too few, and infinitely unbalanced
        ("unbalanced", 1, 0),
        ("below_recommended", 0, 1),
        ("bad_rows", 4, 0),  # an empty label is missing, not also unknown
        ("missing_columns", 1, 0),  # no label column: class counts are not checked
    ],
)
def test_no_other_messages(validated, case, n_errors, n_warnings):
    report = validated(case)
    assert (len(report.errors), len(report.warnings)) == (n_errors, n_warnings), report.summary()


def test_a_class_with_zero_images_stays_in_the_counts(validated):
    counts = validated("zero").counts.set_index(["node", "class"])["count"]
    assert counts[("angular", "triangle")] == 0


def test_below_recommended_is_a_warning_that_does_not_fail(validated):
    report = validated("below_recommended")
    assert report.success
    (warning,) = report.warnings
    for piece in (
        "node 'round', class 'oval'",
        "4 images",
        "recommended_images 5",
        "conf/classifiers/round.yaml",
    ):
        assert piece in warning


def test_the_summary_shows_counts_then_warnings_then_errors(validated):
    report = validated("zero")
    text = report.summary()
    assert text.startswith("validation FAILED")
    assert "angular  square 6  triangle 0" in text
    assert text.index("images per class") < text.index("errors (2)")
    assert "warnings" not in validated("zero").summary()
    warned = validated("below_recommended").summary()
    assert warned.startswith("validation passed") and "warnings (1)" in warned


def test_the_json_report_is_written(validated):
    report = validated("too_few")
    path = validated.out / "too_few" / "reports" / "data" / "validation.json"
    written = json.loads(path.read_text())
    assert written == report.to_json()
    assert written["success"] is False
    assert written["n_images"] == report.n_images
    assert written["errors"] == report.errors and written["warnings"] == report.warnings
    assert {"node": "round", "class": "circle", "count": 2} in written["counts"]
    assert set(written["statistics"]) == {"manifest", "class_counts", "imbalance"}
    stats = written["statistics"]["class_counts"]
    assert stats["evaluated_expectations"] == 2  # min_images and recommended_images
    assert stats["unsuccessful_expectations"] >= 1


def test_a_node_without_a_classifier_definition_is_a_config_error(tmp_path: Path):
    partial = {node: CLASSIFIERS[node] for node in ("shape", "round")}
    with pytest.raises(ConfigError, match="no classifier definition for inner node.*angular"):
        validate(make_manifest(GOOD), TAXONOMY, partial, tmp_path / "v.json")


def test_importing_the_package_does_not_import_great_expectations():
    code = "import sys, taxonomist.checks; sys.exit('great_expectations' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
