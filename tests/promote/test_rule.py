from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from taxonomist.config import PromotionConfig
from taxonomist.contracts.promotion import Outcome
from taxonomist.errors import ConfigError
from taxonomist.promote import compare, first_promotion
from taxonomist.taxonomy import Taxonomy

TAXONOMY = Taxonomy.from_tree(
    "digits", {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}}
)
RULE = PromotionConfig(n_resamples=500)
PER_CLASS = 60


def outcomes(
    wrong: dict[str, int], *, answer: dict[str, str] | None = None, set_size: int = 2
) -> pd.DataFrame:
    """PER_CLASS images per leaf, ``set_size`` per set (in order); ``wrong[leaf]`` of them
    (the first ones) mispredicted as ``answer[leaf]`` (default: the sibling leaf)."""
    rows = []
    for leaf in TAXONOMY.leaves:
        sibling = next(c for c in TAXONOMY.children[TAXONOMY.parent[leaf]] if c != leaf)
        for i in range(PER_CLASS):
            predicted = (answer or {}).get(leaf, sibling) if i < wrong.get(leaf, 0) else leaf
            rows.append({
                "id": f"{leaf}{i}", "set_id": f"{leaf}{i // set_size}", "label": leaf,
                "predicted": predicted, "path": "/".join(TAXONOMY.path(predicted)[1:]),
                "correct": predicted == leaf, "distance": TAXONOMY.distance(predicted, leaf),
            })
    return pd.DataFrame(rows)


BASE = {"zero": 6, "six": 6, "one": 6, "seven": 6}


def test_identical_challenger_is_never_promoted() -> None:
    decision = compare(RULE, TAXONOMY, outcomes(BASE), outcomes(BASE))
    assert decision.decision == Outcome.INVESTIGATE
    assert decision.difference == 0 and decision.comparison.p_value == 1.0


def test_clearly_better_challenger_is_promoted() -> None:
    decision = compare(RULE, TAXONOMY, outcomes({}), outcomes({k: 20 for k in BASE}))
    assert decision.decision == Outcome.PROMOTE, decision.reason
    assert decision.comparison.p_value < 0.001 and decision.comparison.ci_low > 0
    assert "significantly better" in decision.reason


def test_a_broken_node_is_rejected_and_named() -> None:
    broken = {**BASE, "zero": PER_CLASS, "six": PER_CLASS}  # round always picks wrong
    decision = compare(RULE, TAXONOMY, outcomes(broken), outcomes(BASE))
    assert decision.decision == Outcome.REJECT
    assert "node 'round'" in decision.reason and "class 'zero'" in decision.reason
    assert {c.name for c in decision.failing} >= {"round", "zero", "six"}
    assert "straight" not in {c.name for c in decision.failing}


def test_a_class_regression_hidden_by_gains_elsewhere_is_investigated() -> None:
    live = {"zero": 25, "six": 25, "one": 25, "seven": 0}
    challenger = {"zero": 0, "six": 0, "one": 0, "seven": 30}
    decision = compare(RULE, TAXONOMY, outcomes(challenger), outcomes(live))
    assert decision.comparison.difference > 0
    assert decision.decision == Outcome.INVESTIGATE
    assert re.search(r"regression beyond the margin in .*class 'seven'", decision.reason)


def test_small_noninferior_gain_needs_min_improvement() -> None:
    live, challenger = outcomes(BASE), outcomes({**BASE, "one": 4})
    rule = PromotionConfig(n_resamples=500, margin=0.5, min_improvement=0.0)
    assert compare(rule, TAXONOMY, challenger, live).decision == Outcome.PROMOTE
    rule = PromotionConfig(n_resamples=500, margin=0.5, min_improvement=0.05)
    assert compare(rule, TAXONOMY, challenger, live).decision == Outcome.INVESTIGATE


def test_stopping_early_on_the_right_branch_counts_at_the_upper_depth() -> None:
    stopped = outcomes({"zero": PER_CLASS}, answer={"zero": "round"})
    rule = PromotionConfig(metric="accuracy_depth_1", n_resamples=200)
    assert compare(rule, TAXONOMY, stopped, outcomes({})).difference == 0.0
    assert compare(RULE, TAXONOMY, stopped, outcomes({})).difference < 0


@pytest.mark.parametrize(
    ("score", "decision"), [(0.9, Outcome.PROMOTE), (0.4, Outcome.INVESTIGATE)]
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


def ci_width(challenger: pd.DataFrame, live: pd.DataFrame) -> float:
    comparison = compare(RULE, TAXONOMY, challenger, live).comparison
    return comparison.ci_high - comparison.ci_low


def test_sets_that_succeed_or_fail_together_widen_the_interval() -> None:
    """Sets of ten images that are all right or all wrong together: 24 independent sets,
    not 240 independent images, so the interval is about sqrt(10) ~ 3.2x wider.

    The challenger misses two whole sets of 'zero' and of 'one', live three of 'six' and
    of 'seven'; each image of a set agrees with the others (the per-image differences are
    +1 on 6 sets, -1 on 4, 0 on 14).
    """
    challenger = outcomes({"zero": 20, "one": 20}, set_size=10)
    live = outcomes({"six": 30, "seven": 30}, set_size=10)
    by_set = ci_width(challenger, live)
    by_image = ci_width(  # the same outcomes, every image its own set
        challenger.assign(set_id=challenger["id"]), live.assign(set_id=live["id"])
    )
    assert by_set > 2 * by_image, (by_set, by_image)
