"""Images per class, in all and in each split: the tables the coverage checks run on."""

from __future__ import annotations

import pandas as pd

from taxonomist.checks import class_counts
from taxonomist.checks.coverage import split_counts
from taxonomist.checks.dataset import node_rows, with_splits
from tests.checks.shapes import GOOD, TAXONOMY, make_dataset, make_manifest


def _as_dict(counts: pd.DataFrame) -> dict[tuple[str, str], int]:
    return {(n, c): int(k) for n, c, k in counts[["node", "class", "count"]].itertuples(False)}


def test_an_image_counts_at_every_node_above_its_label():
    counts = _as_dict(class_counts(make_manifest(GOOD), TAXONOMY))
    assert counts == {
        ("shape", "round"): 14,  # 6 circle + 6 oval + 2 labelled only "round"
        ("shape", "angular"): 12,
        ("round", "circle"): 6,
        ("round", "oval"): 6,
        ("angular", "square"): 6,
        ("angular", "triangle"): 6,
    }


def test_a_class_without_images_is_listed_with_zero():
    counts = class_counts(make_manifest({"circle": 4, "oval": 4}), TAXONOMY)
    assert list(counts.columns) == ["node", "class", "count"]
    assert len(counts) == 6
    assert _as_dict(counts)[("angular", "triangle")] == 0
    assert _as_dict(counts)[("shape", "angular")] == 0


def test_unknown_and_missing_labels_count_nowhere():
    manifest = make_manifest({"circle": 3, "hexagon": 5, "oval": 2})
    manifest.loc[0, "label"] = None
    counts = _as_dict(class_counts(manifest, TAXONOMY))
    assert counts[("round", "circle")] == 2
    assert counts[("shape", "round")] == 4


def test_no_rows_or_no_label_column_gives_all_zeros():
    empty = make_manifest({})
    for manifest in (empty, empty.drop(columns=["label"])):
        counts = class_counts(manifest, TAXONOMY)
        assert len(counts) == 6 and counts["count"].eq(0).all()


def test_split_counts_list_every_class_in_every_split_in_use():
    manifest, splits = make_dataset({"train": {"circle": 2, "oval": 1}, "test": {"circle": 1}})
    images = with_splits(manifest, splits)
    rows = node_rows(images, TAXONOMY, ["split"])
    table = split_counts(rows, TAXONOMY, images["split"].dropna().unique())
    counts = table.set_index(["node", "class", "split"])["count"]
    assert set(table["split"]) == {"all", "train", "test"}  # no val images: no val rows
    assert len(table) == 6 * 3
    assert counts[("round", "circle", "all")] == 3
    assert counts[("round", "oval", "test")] == 0
    assert counts[("shape", "round", "train")] == 3
    assert counts[("angular", "square", "all")] == 0
