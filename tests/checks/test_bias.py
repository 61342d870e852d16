"""Selection-bias tables: shares per source and month, and split divergence."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from taxonomist.checks.bias import divergence, dominant, month_of, shares
from tests.checks.shapes import CLASSIFIERS


def _rows(spec: list[tuple[str, str, str, str, int]]) -> pd.DataFrame:
    """(node, class, split, source, n) -> n rows."""
    rows = [(n, c, s, src) for n, c, s, src, k in spec for _ in range(k)]
    return pd.DataFrame(rows, columns=["node", "class", "split", "source"])


def test_months_come_from_iso_dates_of_any_offset_and_bad_ones_are_missing():
    months = month_of(pd.Series(["2024-01-31T23:30:00-02:00", "2023-12-01", "", None, "soon"]))
    assert months.tolist()[:2] == ["2024-02", "2023-12"]  # in UTC
    assert months.isna().tolist() == [False, False, True, True, True]


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
