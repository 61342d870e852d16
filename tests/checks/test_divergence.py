"""Split divergence: each split's distribution against train's, per node."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from taxonomist.checks.divergence import divergence
from tests.checks.shapes import CLASSIFIERS


def _rows(spec: list[tuple[str, str, str, str, int]]) -> pd.DataFrame:
    """(node, class, split, source, n) -> n rows."""
    rows = [(n, c, s, src) for n, c, s, src, k in spec for _ in range(k)]
    return pd.DataFrame(rows, columns=["node", "class", "split", "source"])


def test_divergence_is_the_jensen_shannon_distance_from_train_per_node_and_split():
    rows = _rows(
        [
            ("round", "circle", "train", "a", 5), ("round", "oval", "train", "a", 5),
            ("round", "circle", "test", "a", 8), ("round", "oval", "test", "a", 2),
            ("round", "circle", "val", "a", 5), ("round", "oval", "val", "a", 5),
        ]
    )
    strict = {**CLASSIFIERS, "round": dataclasses.replace(CLASSIFIERS["round"],
                                                           fail_on_divergence=True)}
    table = divergence(rows, "class", strict).set_index("split")
    assert table.loc["val", "distance"] == pytest.approx(0.0)
    assert table.loc["test", "distance"] == pytest.approx(0.2704, abs=1e-4)
    assert table.loc["test", ["value", "share", "train_share"]].tolist() == ["circle", 0.8, 0.5]
    assert set(table["severity"]) == {"error"}


def test_no_train_images_means_no_divergence_rows():
    rows = _rows([("round", "circle", "test", "a", 3)])
    assert divergence(rows, "class", CLASSIFIERS).empty
