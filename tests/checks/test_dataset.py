"""The data set the checks look at: the manifest with its splits, per node, with months."""

from __future__ import annotations

import pandas as pd

from taxonomist.checks.dataset import month_of, node_rows, with_splits
from tests.checks.shapes import TAXONOMY, make_dataset, make_manifest


def test_months_come_from_iso_dates_of_any_offset_and_bad_ones_are_missing():
    months = month_of(pd.Series(["2024-01-31T23:30:00-02:00", "2023-12-01", "", None, "soon"]))
    assert months.tolist()[:2] == ["2024-02", "2023-12"]  # in UTC
    assert months.isna().tolist() == [False, False, True, True, True]


def test_with_splits_keeps_the_manifest_rows_and_marks_the_unsplit():
    manifest, splits = make_dataset({"train": {"circle": 3}})
    images = with_splits(manifest, splits.iloc[1:])
    assert list(images.index) == list(manifest.index)
    assert images["split"].isna().tolist() == [True, False, False]


def test_node_rows_give_each_image_its_class_at_every_node_above_it():
    manifest = make_manifest({"oval": 1, "round": 1, "hexagon": 1})
    rows = node_rows(manifest, TAXONOMY, ["path"]).astype(str)
    assert sorted(map(tuple, rows[["node", "class", "path"]].values.tolist())) == [
        ("round", "oval", "images/000.png"),
        ("shape", "round", "images/000.png"),
        ("shape", "round", "images/001.png"),
    ]
