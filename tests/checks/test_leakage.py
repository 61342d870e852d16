"""The leakage table: the splits each set is in."""

from __future__ import annotations

import pandas as pd

from taxonomist.checks.leakage import set_spans


def _images(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["path", "set_id", "split", "phash"])


def test_each_set_lists_its_splits_and_a_path_from_each_when_mixed():
    images = _images(
        [
            ("a.png", "s1", "train", ""), ("b.png", "s1", "test", ""),
            ("c.png", "s1", "val", ""), ("d.png", "s2", "val", ""),
            ("e.png", "s3", "train", ""), ("f.png", "s3", "val", ""),
        ]
    )
    table = set_spans(images).set_index("set_id")
    assert table["splits"].to_dict() == {"s1": "train+val+test", "s2": "val", "s3": "train+val"}
    assert table["leak"].to_dict() == {"s1": True, "s2": False, "s3": False}
    assert table.loc["s1", ["path_train", "path_val", "path_test"]].tolist() == [
        "a.png", "c.png", "b.png"
    ]
    assert pd.isna(table.loc["s2", "path_val"])  # one split: nothing to show
