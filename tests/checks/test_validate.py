"""validate(): the great-expectations gate on the manifest, one case per kind of problem.

The cases are in :mod:`tests.checks.cases`; each is validated once per session (see
``conftest.py``). The leakage and bias cases are in ``test_validate_splits.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taxonomist.checks import validate
from taxonomist.errors import ConfigError
from tests.checks.shapes import CLASSIFIERS, GOOD, TAXONOMY, all_train, make_manifest


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
                "2 images in all splits (train 2),",
                "min_images 3",
                "add images of 'circle'",
                "lower min_images in conf/classifiers/round.yaml",
            ],
        ),
        (
            "zero",
            ["node 'angular', class 'triangle'", "no images (0) in all splits", "min_images 3"],
        ),
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
        ("balanced", 0, 0),
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


def test_the_json_report_is_written(validated):
    report = validated("too_few")
    path = validated.folder("too_few") / "validation.json"
    written = json.loads(path.read_text())
    assert written == report.to_json()
    assert written["success"] is False
    assert written["n_images"] == report.n_images
    assert written["errors"] == report.errors and written["warnings"] == report.warnings
    assert {"node": "round", "class": "circle", "count": 2} in written["counts"]
    assert {"node": "round", "class": "circle", "split": "train", "count": 2} in written[
        "split_counts"
    ]
    assert {"manifest", "class_counts", "imbalance", "sets"} <= set(written["statistics"])
    stats = written["statistics"]["class_counts"]
    assert stats["evaluated_expectations"] == 2  # min_images and recommended_images
    assert stats["unsuccessful_expectations"] >= 1
    json.dumps(written, allow_nan=False)


def test_data_docs_are_built_beside_the_json_and_recorded_in_it(validated):
    validated("too_few")
    folder = validated.folder("too_few")
    written = json.loads((folder / "validation.json").read_text())
    assert written["data_docs"] == "docs/index.html"
    index = folder / written["data_docs"]
    assert index.is_file() and "class_counts" in index.read_text()
    pages = list((folder / "docs" / "validations").rglob("*.html"))
    assert {p.parts[-4] for p in pages} >= {"manifest", "class_counts", "imbalance"}


def test_a_rerun_replaces_the_old_data_docs(tmp_path: Path):
    manifest = make_manifest(GOOD)
    for _ in range(2):
        validate(manifest, all_train(manifest), TAXONOMY, CLASSIFIERS, tmp_path / "v.json")
    runs = list((tmp_path / "docs" / "validations" / "manifest").glob("*/*"))
    assert len(runs) == 1, runs


def test_a_node_without_a_classifier_definition_is_a_config_error(tmp_path: Path):
    partial = {node: CLASSIFIERS[node] for node in ("shape", "round")}
    manifest = make_manifest(GOOD)
    with pytest.raises(ConfigError, match="no classifier definition for inner node.*angular"):
        validate(manifest, all_train(manifest), TAXONOMY, partial, tmp_path / "v.json")


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("max_source_share", 0.0, "round.yaml .*max_source_share: expected a fraction"),
        ("max_month_share", 1.5, "max_month_share: expected a fraction from above 0 to 1"),
        ("max_split_divergence", -0.1, "max_split_divergence: expected a fraction from 0"),
    ],
)
def test_a_threshold_out_of_range_is_a_config_error(tmp_path: Path, key, value, match):
    import dataclasses

    bad = {**CLASSIFIERS, "round": dataclasses.replace(CLASSIFIERS["round"], **{key: value})}
    manifest = make_manifest(GOOD)
    with pytest.raises(ConfigError, match=match):
        validate(manifest, all_train(manifest), TAXONOMY, bad, tmp_path / "v.json")


def test_a_near_duplicate_distance_out_of_range_is_a_config_error(tmp_path: Path):
    manifest = make_manifest(GOOD)
    with pytest.raises(ConfigError, match="split.near_duplicate_distance: expected 0 to 10"):
        validate(
            manifest, all_train(manifest), TAXONOMY, CLASSIFIERS, tmp_path / "v.json",
            max_distance=11,
        )


def test_importing_the_package_does_not_import_great_expectations():
    code = "import sys, taxonomist.checks; sys.exit('great_expectations' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
