"""The near-duplicate search: pairs of close perceptual hashes across sets."""

from __future__ import annotations

import pandas as pd

from taxonomist.checks.near_duplicates import near_duplicates


def _images(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["path", "set_id", "split", "phash"])


def test_near_duplicates_skip_a_sets_own_views_and_flag_train_test():
    h = "00000000000000ff"
    images = _images(
        [
            ("a.png", "s1", "train", h), ("b.png", "s1", "train", "00000000000000fe"),
            ("c.png", "s2", "test", "00000000000000fc"), ("d.png", "s3", "val", "ffffffff00000000"),
            ("e.png", "s4", "train", None),
        ]
    )
    found = near_duplicates(images, max_distance=2)
    assert (found.hashed, found.skipped) == (4, 1)
    pairs = found.pairs[["path_a", "path_b", "distance", "kind"]]
    got = {tuple(sorted(r[:2])) + tuple(r[2:]) for r in pairs.itertuples(index=False)}
    assert got == {("a.png", "c.png", 2, "leak"), ("b.png", "c.png", 1, "leak")}


def test_identical_hashes_in_one_set_and_split_are_one_row():
    h = "0123456789abcdef"
    images = _images([(f"{i}.png", "s1", "train", h) for i in range(50)] + [
        ("x.png", "s2", "train", h)
    ])
    pairs = near_duplicates(images, max_distance=0).pairs
    assert len(pairs) == 1 and pairs.loc[0, "images"] == 50
    assert pairs.loc[0, "kind"] == "near_duplicate"
