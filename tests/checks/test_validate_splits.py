"""validate() on a manifest with its splits: per-split counts, leakage, bias, provenance.

Cases are in :mod:`tests.checks.cases` (validated once per session, see ``conftest.py``).
"""

from __future__ import annotations

import pytest


def _one(messages: list[str], *pieces: str) -> str:
    matching = [m for m in messages if all(piece in m for piece in pieces)]
    assert len(matching) == 1, f"expected one message with {pieces}:\n" + "\n".join(messages)
    return matching[0]


def test_the_balanced_dataset_passes_without_warnings(validated):
    report = validated("balanced")
    assert report.success and report.warnings == [], report.summary()
    assert report.near_duplicates["pairs"] == 0
    assert report.near_duplicates["hashed"] == 48


def test_a_class_short_in_one_split_fails_naming_the_split(validated):
    report = validated("short_in_test")
    assert not report.success
    error = _one(report.errors, "node 'round', class 'oval'")
    assert "1 image in test, fewer than min_images 3" in error
    assert "all splits" not in error  # 10 in all is enough
    assert "the split keeps whole sets together" in error


def test_a_set_in_train_and_test_fails_naming_the_set_and_both_paths(validated):
    report = validated("set_leak")
    assert not report.success
    error = _one(report.errors, "set(s) with images in both train and test")
    assert "set 'set0': images/000.png in train, images/036.png in test" in error
    assert "delete data/splits.parquet" in error


def test_a_near_duplicate_pair_across_train_and_test_fails_naming_both_paths(validated):
    report = validated("near_duplicate_leak")
    assert not report.success
    error = _one(report.errors, "1 near-duplicate pair(s) across train and test")
    assert "images/001.png (train, set 'set1') ~ images/037.png (test, set 'set37')" in error
    assert "2 bit(s) apart" in error
    assert report.near_duplicates["train_test"] == 1
    assert report.warnings == []  # the leaking pair is not also a plain near-duplicate


def test_near_duplicates_within_train_only_warn(validated):
    report = validated("near_duplicates_in_train")
    assert report.success, report.summary()
    warning = _one(report.warnings, "near-duplicate pair(s) in different sets")
    # 002~003 (1 bit), 002~004 and 003~004; 005 is 002's twin in set2 (a set's own views
    # are not reported), so it joins 002's pairs: 3 pairs standing for 5 pairs of images
    assert warning.startswith("manifest: 3 near-duplicate pair(s)")
    assert report.near_duplicates["image_pairs"] == 5
    assert "images/002.png (train, set 'set2') ~ images/004.png (train, set 'set4')" in warning
    assert "give both one set_id" in warning


def test_a_class_from_one_source_warns(validated):
    report = validated("source_bias")
    assert report.success
    warning = _one(report.warnings, "class 'triangle'")
    assert "100% of its images come from source 'c' (of the node's images: 50%)" in warning
    assert "above max_source_share 0.9" in warning
    assert "conf/classifiers/angular.yaml" in warning
    assert len(report.warnings) == 1  # 'angular' at 'shape' is half c: not flagged


@pytest.mark.parametrize("case, fails", [("divergent", False), ("divergent_fails", True)])
def test_a_divergent_split_warns_or_fails_as_configured(validated, case, fails):
    report = validated(case)
    assert report.success is not fails
    messages = report.errors if fails else report.warnings
    text = _one(messages, "node 'round', split 'test': its class distribution")
    assert "differs from train's by 0.27 (Jensen-Shannon distance)" in text
    assert "above max_split_divergence 0.2" in text
    assert "class 'circle': 80% of test vs 50% of train" in text
    assert not any("distribution differs" in m for m in report.errors + report.warnings
                   if m != text)  # 'shape' is 0.19 from train: within the bound


def test_label_conflicts_are_reported_with_both_labels(validated):
    report = validated("label_conflicts")
    error = _one(report.errors, "label conflict")
    assert "images/000.png as 'circle', images/001.png as 'oval'" in error
    assert not any("used by more than one row" in e for e in report.errors)
    warning = _one(report.warnings, "rejected as label conflicts")
    assert warning.startswith("ingest: 1 row(s)")
    assert "in/x.png labelled 'square': same bytes as 'in/w.png', which is labelled" in warning


def test_boxes_outside_their_image_fail_naming_the_images(validated):
    report = validated("bad_boxes")
    errors = [e for e in report.errors if "bbox is empty or outside the image" in e]
    assert len(errors) == 2, report.summary()  # x1 > x0 and y1 <= height; unboxed rows pass
    assert any("(images/001.png)" in e for e in errors)
    assert any("(images/002.png)" in e for e in errors)


def test_without_phash_the_search_is_skipped_with_a_note(validated):
    report = validated("no_phash")
    assert report.success, report.summary()
    assert report.near_duplicates is None
    assert any("no phash column" in n and "re-run `taxonomist ingest`" in n for n in report.notes)
    assert "notes (2)" in report.summary()  # and no label_source column


def test_images_in_no_split_fail(validated):
    report = validated("not_split")
    error = _one(report.errors, "in no split")
    assert "2 images of the manifest in no split (images/040.png, images/041.png)" in error


def test_label_sources_and_shares_are_in_the_json(validated):
    data = validated("source_bias").to_json()
    assert data["splits"] == {"train": 24, "val": 12, "test": 12}
    row = {"node": "angular", "class": "triangle", "value": "c", "count": 12, "share": 1.0}
    assert row in data["source_shares"]
    assert {"node": "round", "class": "oval", "value": "import", "count": 12, "share": 1.0} in (
        data["label_sources"]
    )
    assert {r["value"] for r in data["month_shares"]} == {"2024-01", "2024-02"}
    assert {(r["node"], r["split"], r["of"]) for r in data["divergence"]} >= {
        ("round", "test", "class"), ("round", "val", "source")
    }


def test_the_summary_has_counts_per_split_then_warnings_then_errors(validated):
    text = validated("short_in_test").summary()
    assert text.startswith("validation FAILED: 46 images (train 24, val 12, test 10)")
    assert "images per class: all (train/val/test)" in text
    assert "  round    circle 12 (6/3/3)  oval 10 (6/3/1)" in text
    assert "label sources: import 100%" in text
    assert "near-duplicates: 0 pair(s) in different sets within 4 bits" in text
    assert text.index("images per class") < text.index("errors (1)")
    warned = validated("near_duplicates_in_train").summary()
    assert warned.index("images per class") < warned.index("warnings (1)")
