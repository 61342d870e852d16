from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taxonomist.config import Paths
from taxonomist.errors import DataError
from taxonomist.report.mistakes import (
    SIBLING,
    STOPPED_EARLY,
    WRONG_BRANCH,
    SeverityRow,
    load_outcomes,
    mistake_kind,
    summarise_mistakes,
)
from tests.report.make_inputs import taxonomy, write_inputs


@pytest.mark.parametrize(("label", "predicted", "kind"), [
    ("six", "six", None),
    ("six", "round", STOPPED_EARLY),  # stopped at its parent
    ("six", "digit", STOPPED_EARLY),  # unsure at the root: still on the true path
    ("six", "zero", SIBLING),
    ("six", "straight", WRONG_BRANCH),
    ("six", "one", WRONG_BRANCH),
    ("round", "six", None),  # labelled only "round": going deeper is no mistake
    ("round", "one", WRONG_BRANCH),
    ("six", "seven", WRONG_BRANCH),  # a class the taxonomy no longer has
])
def test_mistake_kinds(label: str, predicted: str, kind: str | None) -> None:
    assert mistake_kind(taxonomy(), label, predicted) == kind


def test_counts_by_distance_and_kind_for_both_stacks(tmp_path: Path) -> None:
    outcomes = load_outcomes(write_inputs(tmp_path))
    assert outcomes is not None
    summary = summarise_mistakes(taxonomy(), outcomes)
    assert (summary.n_images, summary.challenger_mistakes, summary.live_mistakes) == (7, 4, 1)
    assert summary.by_distance == [
        SeverityRow("1", 1, 0), SeverityRow("2", 1, 1), SeverityRow("4", 2, 0)
    ]
    assert summary.by_kind == [
        SeverityRow(STOPPED_EARLY, 1, 0), SeverityRow(SIBLING, 1, 1),
        SeverityRow(WRONG_BRANCH, 2, 0),
    ]


def test_without_live_only_the_challenger_counts(tmp_path: Path) -> None:
    outcomes = load_outcomes(write_inputs(tmp_path, live=False))
    summary = summarise_mistakes(taxonomy(), outcomes)
    assert summary.live_mistakes is None
    assert all(row.live is None for row in summary.by_distance + summary.by_kind)


def test_outcomes_are_optional_but_must_be_complete(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    assert load_outcomes(paths) is None
    paths.reports.mkdir()
    pd.DataFrame({"id": ["a"], "label": ["six"]}).to_parquet(paths.reports / "outcomes.parquet")
    with pytest.raises(DataError, match=r"(?s)outcomes\.parquet: expected columns .*missing "
                                        r"challenger_predicted.*dvc repro promote"):
        load_outcomes(paths)
