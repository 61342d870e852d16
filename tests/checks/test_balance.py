"""Imbalance: the table the balance check runs on."""

from __future__ import annotations

import math

from taxonomist.checks import class_counts, imbalance
from tests.checks.shapes import TAXONOMY, make_manifest


def test_imbalance_is_largest_over_smallest_and_infinite_for_an_empty_class():
    counts = class_counts(make_manifest({"circle": 2, "oval": 7, "square": 4}), TAXONOMY)
    table = imbalance(counts).set_index("node")
    assert table.loc["round", "ratio"] == 3.5
    assert table.loc["round", ["largest_class", "smallest_class"]].tolist() == ["oval", "circle"]
    assert math.isinf(table.loc["angular", "ratio"])
    assert table.loc["angular", "smallest_class"] == "triangle"
