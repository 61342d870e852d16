"""Selection-bias tables: shares per source and month, and the top one of each class."""

from __future__ import annotations

import pandas as pd
import pytest

from taxonomist.checks.bias import dominant, shares
from tests.checks.shapes import CLASSIFIERS


def _rows(spec: list[tuple[str, str, str, str, int]]) -> pd.DataFrame:
    """(node, class, split, source, n) -> n rows."""
    rows = [(n, c, s, src) for n, c, s, src, k in spec for _ in range(k)]
    return pd.DataFrame(rows, columns=["node", "class", "split", "source"])


def test_shares_are_within_each_class_largest_first():
    rows = _rows([("n", "x", "train", "a", 3), ("n", "x", "train", "b", 1)])
    table = shares(rows, "source")
    assert table[["value", "count", "share"]].values.tolist() == [["a", 3, 0.75], ["b", 1, 0.25]]


@pytest.mark.parametrize(
    "spec, flagged",
    [
        # each class from its own source: the source gives the class away
        (
            [("round", "circle", "train", "a", 10), ("round", "oval", "train", "c", 5)],
            ["circle", "oval"],
        ),
        # everything from one source: nothing to learn as a shortcut
        ([("round", "circle", "train", "a", 10), ("round", "oval", "train", "a", 5)], []),
        # 95% of the node from a: circle being all a is not suspect, oval all b is
        ([("round", "circle", "train", "a", 19), ("round", "oval", "train", "b", 1)], ["oval"]),
    ],
)
def test_a_class_is_flagged_when_its_source_does_not_dominate_the_node(spec, flagged):
    table = dominant(_rows(spec), "source", CLASSIFIERS, "max_source_share")
    over = table[table["share"] > table["allowed"]]
    assert over["class"].tolist() == flagged
