"""What the promote stage records besides the decision: the value of the gate's metric,
the name of the test behind its p-value (tags and record), the outcome table's columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taxonomist.config import Paths
from taxonomist.contracts.comparison import PairedComparison
from taxonomist.contracts.promotion import Outcome, PromotionRecord, StackSide, Verdict
from taxonomist.evaluate.hierarchy import stack_outcomes
from taxonomist.promote.stage import _decision_tags, _write_outcomes
from taxonomist.taxonomy import Taxonomy

COMPARISON = PairedComparison(0.01, -0.02, 0.04, 0.95, 0.3, 100, 5, 4, "image")
TREE = Taxonomy.from_tree("t", {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}})


def record(metric: str) -> PromotionRecord:
    verdict = Verdict(Outcome.INVESTIGATE, "inconclusive", 0.01, COMPARISON)
    return PromotionRecord(
        verdict, metric, "digits.stack",
        StackSide("3", {"leaf_accuracy": 0.9, "coverage": 0.97, "distance_at_1": 0.2}),
        StackSide("2", {"leaf_accuracy": 0.88, "coverage": 0.95}), "2", "2026-12-01T00:00:00",
    )


@pytest.mark.parametrize(("metric", "challenger", "live", "test"), [
    ("coverage_at_precision", 0.97, 0.95, "McNemar"),  # read from the stack's coverage
    ("leaf_accuracy", 0.9, 0.88, "McNemar"),
    ("distance_at_1", 0.2, None, "Wilcoxon"),
])
def test_the_gate_metric_value_and_its_test(metric, challenger, live, test) -> None:
    old = PromotionRecord.from_json(record(metric).to_json())  # what a reader gets back
    assert (old.challenger_value, old.live_value, old.p_value_test) == (challenger, live, test)


@pytest.mark.parametrize(("metric", "tag", "absent"), [
    ("leaf_accuracy", "mcnemar_p", "wilcoxon_p"),  # the name every version had before
    ("hierarchical_f1", "wilcoxon_p", "mcnemar_p"),
])
def test_the_p_value_tag_names_its_test(metric: str, tag: str, absent: str) -> None:
    tags = _decision_tags(record(metric).verdict, "2", metric)
    assert tags[tag] == "0.3" and absent not in tags


def test_every_outcome_column_is_prefixed_by_its_stack(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    paths.reports.mkdir()
    labels, walks = ["zero", "one"], [["round", "zero"], ["round"]]
    challenger = stack_outcomes(TREE, labels, walks)
    challenger.insert(0, "id", ["a", "b"])
    challenger.insert(1, "set_id", ["s", "t"])
    _write_outcomes(paths, challenger, None)
    table = pd.read_parquet(paths.reports / "outcomes.parquet")
    sides = [c for c in challenger.columns if c not in ("id", "set_id", "label")]
    assert list(table.columns) == ["id", "set_id", "label",
                                   *(f"challenger_{c}" for c in sides),
                                   *(f"live_{c}" for c in sides)]
    assert table["challenger_reached_leaf"].tolist() == [True, False]
    assert table["live_on_path"].isna().all()
