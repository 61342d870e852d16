from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from taxonomist.config import PromotionConfig
from taxonomist.errors import ConfigError
from taxonomist.promote import INVESTIGATE, PROMOTE, REJECT, compare, first_promotion
from taxonomist.taxonomy import Taxonomy

TAXONOMY = Taxonomy.from_tree(
    "digits", {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}}
)
RULE = PromotionConfig(n_resamples=500)
PER_CLASS = 60


def outcomes(wrong: dict[str, int], *, answer: dict[str, str] | None = None) -> pd.DataFrame:
    """PER_CLASS images per leaf, two per set; ``wrong[leaf]`` of them mispredicted as
    ``answer[leaf]`` (default: the sibling leaf)."""
    rows = []
    for leaf in TAXONOMY.leaves:
        sibling = next(c for c in TAXONOMY.children[TAXONOMY.parent[leaf]] if c != leaf)
        for i in range(PER_CLASS):
            predicted = (answer or {}).get(leaf, sibling) if i < wrong.get(leaf, 0) else leaf
            rows.append({
                "id": f"{leaf}{i}", "set_id": f"{leaf}{i // 2}", "label": leaf,
                "predicted": predicted, "path": "/".join(TAXONOMY.path(predicted)[1:]),
                "correct": predicted == leaf, "distance": TAXONOMY.distance(predicted, leaf),
            })
    return pd.DataFrame(rows)


BASE = {"zero": 6, "six": 6, "one": 6, "seven": 6}


def test_identical_challenger_is_never_promoted() -> None:
    decision = compare(RULE, TAXONOMY, outcomes(BASE), outcomes(BASE))
    assert decision.decision == INVESTIGATE
    assert decision.difference == 0 and decision.comparison.p_value == 1.0


def test_clearly_better_challenger_is_promoted() -> None:
    decision = compare(RULE, TAXONOMY, outcomes({}), outcomes({k: 20 for k in BASE}))
    assert decision.decision == PROMOTE, decision.reason
    assert decision.comparison.p_value < 0.001 and decision.comparison.ci_low > 0
    assert "significantly better" in decision.reason


def test_a_broken_node_is_rejected_and_named() -> None:
    broken = {**BASE, "zero": PER_CLASS, "six": PER_CLASS}  # round always picks wrong
    decision = compare(RULE, TAXONOMY, outcomes(broken), outcomes(BASE))
    assert decision.decision == REJECT
    assert "node 'round'" in decision.reason and "class 'zero'" in decision.reason
    assert {c.name for c in decision.failing} >= {"round", "zero", "six"}
    assert "straight" not in {c.name for c in decision.failing}


def test_a_class_regression_hidden_by_gains_elsewhere_is_investigated() -> None:
    live = {"zero": 25, "six": 25, "one": 25, "seven": 0}
    challenger = {"zero": 0, "six": 0, "one": 0, "seven": 30}
    decision = compare(RULE, TAXONOMY, outcomes(challenger), outcomes(live))
    assert decision.comparison.difference > 0
    assert decision.decision == INVESTIGATE
    assert re.search(r"regression beyond the margin in .*class 'seven'", decision.reason)


def test_small_noninferior_gain_needs_min_improvement() -> None:
    live, challenger = outcomes(BASE), outcomes({**BASE, "one": 4})
    rule = PromotionConfig(n_resamples=500, margin=0.5, min_improvement=0.0)
    assert compare(rule, TAXONOMY, challenger, live).decision == PROMOTE
    rule = PromotionConfig(n_resamples=500, margin=0.5, min_improvement=0.05)
    assert compare(rule, TAXONOMY, challenger, live).decision == INVESTIGATE


def test_stopping_early_on_the_right_branch_counts_at_the_upper_depth() -> None:
    stopped = outcomes({"zero": PER_CLASS}, answer={"zero": "round"})
    rule = PromotionConfig(metric="accuracy_depth_1", n_resamples=200)
    assert compare(rule, TAXONOMY, stopped, outcomes({})).difference == 0.0
    assert compare(RULE, TAXONOMY, stopped, outcomes({})).difference < 0


@pytest.mark.parametrize(
    ("score", "decision"), [(0.9, PROMOTE), (0.4, INVESTIGATE)]
)
def test_first_promotion_must_clear_the_floor(score: float, decision: str) -> None:
    assert first_promotion(RULE, {"leaf_accuracy": score}).decision == decision


@pytest.mark.parametrize(
    ("metric", "message"),
    [("leaf_acc", "use one of: leaf_accuracy"), ("mistake_severity", None)],
)
def test_metric_names_are_checked(metric: str, message: str | None) -> None:
    rule = PromotionConfig(metric=metric)
    if message:
        with pytest.raises(ConfigError, match=message):
            first_promotion(rule, {"leaf_accuracy": 0.9, "mistake_severity": 1.0})
    else:
        with pytest.raises(ConfigError, match="cannot be compared image by image"):
            compare(rule, TAXONOMY, outcomes({}), outcomes({}))


def test_bootstrap_resamples_whole_sets() -> None:
    decision = compare(RULE, TAXONOMY, outcomes({}), outcomes(BASE))
    assert decision.comparison.resampled == "set_id"
    assert decision.comparison.n_images == 4 * PER_CLASS
    assert np.isclose(decision.difference, 24 / 240)
