from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from taxonomist.config import PromotionConfig
from taxonomist.contracts.comparison import Status
from taxonomist.contracts.promotion import Outcome
from taxonomist.errors import ConfigError
from taxonomist.evaluate.hierarchy import stack_outcomes
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
    assert decision.reason.endswith(
        "; worse: node 'round' (-0.900), class 'zero' (-0.900), class 'six' (-0.900)")
    assert {c.name for c in decision.failing} >= {"round", "zero", "six"}
    assert "straight" not in {c.name for c in decision.failing}


def test_a_class_regression_hidden_by_gains_elsewhere_is_investigated() -> None:
    live = {"zero": 25, "six": 25, "one": 25, "seven": 0}
    challenger = {"zero": 0, "six": 0, "one": 0, "seven": 30}
    decision = compare(RULE, TAXONOMY, outcomes(challenger), outcomes(live))
    assert decision.comparison.difference > 0
    assert decision.decision == Outcome.INVESTIGATE
    assert re.search(r"regression beyond the margin in .*class 'seven'", decision.reason)


def test_one_class_check_among_many_is_held_to_the_family_wise_error() -> None:
    """Seven node and class checks at alpha 0.05: a drop in one class that one test alone
    would call a regression (p < 0.05) is not one after Holm's correction, so a challenger
    significantly better overall is promoted rather than sent to a person."""
    live = {"zero": 20, "six": 20, "seven": 20, "one": 6}
    challenger = {"zero": 0, "six": 0, "seven": 0, "one": 15}
    decision = compare(RULE, TAXONOMY, outcomes(challenger), outcomes(live))
    one = next(c for c in decision.checks if c.name == "one")
    assert one.difference < -RULE.margin and one.p_value < RULE.alpha
    assert one.p_value_adjusted > RULE.alpha and one.status == Status.INCONCLUSIVE
    # the one-sided paired t-test's p and Holm's, to six decimals (no bootstrap: exact)
    assert (one.p_value, one.p_value_adjusted) == (0.017785, 0.124496)
    assert decision.decision == Outcome.PROMOTE, decision.reason


def test_non_inferiority_must_hold_for_the_family_not_for_each_check_alone() -> None:
    """One more mistake in each of three classes: each alone is non-inferior within the
    margin at alpha 0.05 (one-sided t-test, p ~0.03), but not all three together after
    Holm's correction, so a small gain elsewhere does not promote."""
    challenger = {"zero": 7, "six": 7, "one": 7, "seven": 0}
    decision = compare(RULE, TAXONOMY, outcomes(challenger), outcomes(BASE))
    assert decision.decision == Outcome.INVESTIGATE
    assert {c.name for c in decision.checks if c.status == Status.INCONCLUSIVE} == \
        {"zero", "six", "one"}
    assert "not shown non-inferior" in decision.reason


def test_small_noninferior_gain_needs_min_improvement() -> None:
    live, challenger = outcomes(BASE), outcomes({**BASE, "one": 4})
    rule = PromotionConfig(n_resamples=500, margin=0.5, min_improvement=0.0)
    assert compare(rule, TAXONOMY, challenger, live).decision == Outcome.PROMOTE
    rule = PromotionConfig(n_resamples=500, margin=0.5, min_improvement=0.05)
    assert compare(rule, TAXONOMY, challenger, live).decision == Outcome.INVESTIGATE
    # better by exactly min_improvement (2 of 240 images) is not better by more than it
    rule = PromotionConfig(n_resamples=500, margin=0.5, min_improvement=0.0083)
    assert compare(rule, TAXONOMY, challenger, live).difference == 0.0083
    assert compare(rule, TAXONOMY, challenger, live).decision == Outcome.INVESTIGATE


def test_accuracy_at_a_depth_counts_the_images_labelled_that_deep() -> None:
    """accuracy_depth_2 is the leaf level of this tree: every image counts there."""
    rule = PromotionConfig(metric="accuracy_depth_2", n_resamples=200)
    decision = compare(rule, TAXONOMY, outcomes({}), outcomes(BASE))
    assert decision.comparison.n_images == 4 * PER_CLASS
    assert decision.difference == pytest.approx(24 / 240, abs=1e-4)


def test_stopping_early_on_the_right_branch_counts_at_the_upper_depth() -> None:
    stopped = outcomes({"zero": PER_CLASS}, answer={"zero": "round"})
    rule = PromotionConfig(metric="accuracy_depth_1", n_resamples=200)
    assert compare(rule, TAXONOMY, stopped, outcomes({})).difference == 0.0
    assert compare(RULE, TAXONOMY, stopped, outcomes({})).difference < 0


@pytest.mark.parametrize(("score", "decision", "reason"), [
    (0.9, Outcome.PROMOTE, "nothing is live yet and leaf_accuracy 0.9000 >= min_metric 0.5"),
    (0.5, Outcome.PROMOTE, "leaf_accuracy 0.5000 >= min_metric 0.5"),  # on the floor clears it
    (0.4, Outcome.INVESTIGATE, "leaf_accuracy 0.4000 is below the floor min_metric=0.5"),
])
def test_first_promotion_must_clear_the_floor(score: float, decision: str, reason: str) -> None:
    verdict = first_promotion(RULE, {"leaf_accuracy": score})
    assert verdict.decision == decision and reason in verdict.reason


@pytest.mark.parametrize(
    ("metric", "message"),
    [("leaf_acc", "use one of: leaf_accuracy, mistake_severity$"), ("mistake_severity", None)],
)
def test_metric_names_are_checked(metric: str, message: str | None) -> None:
    rule = PromotionConfig(metric=metric)
    if message:
        with pytest.raises(ConfigError, match=rf"^conf/promotion: metric: '{metric}' is not a "
                           rf"stack metric\n  hint: {message}") as raised:
            first_promotion(rule, {"leaf_accuracy": 0.9, "mistake_severity": 1.0, "run": "x"})
        assert "run" not in raised.value.hint  # only the metrics with a number are offered
    else:
        with pytest.raises(ConfigError, match=r"^conf/promotion: metric: 'mistake_severity' "
                           r"cannot be compared image by image\n  hint: use leaf_accuracy, "
                           r"accuracy_depth_<N>, coverage_at_precision, distance_at_1, "
                           r"hierarchical_f1$"):
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


def walked(wrong: dict[str, tuple[int, list[str]]]) -> pd.DataFrame:
    """PER_CLASS images per leaf as the stack stage records them (``stack_outcomes``),
    two per set; the first ``n`` of leaf's images walk ``walk`` where ``wrong[leaf] =
    (n, walk)``, the others walk to their leaf."""
    labels, walks = [], []
    for leaf in TAXONOMY.leaves:
        n, walk = wrong.get(leaf, (0, []))
        labels += [leaf] * PER_CLASS
        walks += [walk] * n + [TAXONOMY.path(leaf)[1:]] * (PER_CLASS - n)
    table = stack_outcomes(TAXONOMY, labels, walks)
    ids = [f"{label}{i % PER_CLASS}" for i, label in enumerate(labels)]
    table.insert(0, "id", ids)
    table.insert(1, "set_id", [f"{label}{(i % PER_CLASS) // 2}" for i, label in enumerate(labels)])
    return table


# Ten mistakes per leaf either way, so leaf accuracy is the same: the sensible stack
# answers the sibling (same family, distance 2), the other a leaf across the root (4).
SENSIBLE = {"zero": (10, ["round", "six"]), "six": (10, ["round", "zero"]),
            "one": (10, ["straight", "seven"]), "seven": (10, ["straight", "one"])}
ACROSS = {"zero": (10, ["straight", "one"]), "six": (10, ["straight", "seven"]),
          "one": (10, ["round", "zero"]), "seven": (10, ["round", "six"])}


def test_leaf_accuracy_cannot_tell_sensible_mistakes_apart() -> None:
    decision = compare(RULE, TAXONOMY, walked(SENSIBLE), walked(ACROSS))
    assert decision.difference == 0.0 and decision.decision == Outcome.INVESTIGATE


def test_hierarchical_f1_promotes_sensible_mistakes_with_wilcoxon() -> None:
    rule = PromotionConfig(metric="hierarchical_f1", n_resamples=500)
    decision = compare(rule, TAXONOMY, walked(SENSIBLE), walked(ACROSS))
    # micro hF = 2 sum|P∩T| / sum(|P|+|T|), 240 images of |P| = |T| = 2:
    # sensible 2*(200*2 + 40*1)/960 = 0.9167, across 2*(200*2 + 40*0)/960 = 0.8333
    assert decision.difference == pytest.approx(0.0833, abs=1e-4)
    assert decision.decision == Outcome.PROMOTE, decision.reason
    assert "Wilcoxon signed-rank" in decision.reason and "McNemar" not in decision.reason
    # the 40 mistaken images score 0.5 per image against 0: all favour the challenger
    assert decision.comparison.challenger_only_correct == 40
    assert decision.comparison.live_only_correct == 0
    assert decision.comparison.ci_low > 0


@pytest.mark.parametrize(("challenger", "live", "expected", "difference"), [
    # mean tree distance over 240 images: 40 mistakes at 2 = 0.3333, at 4 = 0.6667
    (SENSIBLE, ACROSS, Outcome.PROMOTE, -0.3333),
    (ACROSS, SENSIBLE, Outcome.REJECT, 0.3333),
])
def test_distance_at_1_lower_is_better(challenger, live, expected, difference) -> None:
    rule = PromotionConfig(metric="distance_at_1", n_resamples=500)
    decision = compare(rule, TAXONOMY, walked(challenger), walked(live))
    assert decision.difference == pytest.approx(difference, abs=1e-4)
    assert decision.decision == expected, decision.reason
    assert "lower is better" in decision.reason and "Wilcoxon" in decision.reason
    # the 40 mistaken images are closer to the truth on the sensible side
    sensible = (decision.comparison.challenger_only_correct if expected == Outcome.PROMOTE
                else decision.comparison.live_only_correct)
    assert sensible == 40


STOPS = {"zero": (40, ["round"])}  # 40 'zero' images stop, rightly, at 'round'


def test_coverage_at_precision_promotes_walking_on_rightly() -> None:
    rule = PromotionConfig(metric="coverage_at_precision", n_resamples=500)
    decision = compare(rule, TAXONOMY, walked({}), walked(STOPS))
    assert decision.difference == pytest.approx(40 / 240, abs=1e-4)  # coverage 1 vs 200/240
    assert decision.decision == Outcome.PROMOTE, decision.reason
    assert "McNemar" in decision.reason
    precision = next(c for c in decision.checks if c.name == "precision where walks stop")
    assert (precision.scope, precision.challenger, precision.live) == ("stack", 1.0, 1.0)


def test_coverage_bought_with_wrong_answers_is_caught_by_the_precision_check() -> None:
    rule = PromotionConfig(metric="coverage_at_precision", n_resamples=500)
    guessing = walked({"zero": (40, ["round", "six"])})  # walks on where live stopped: wrong
    decision = compare(rule, TAXONOMY, guessing, walked(STOPS))
    assert decision.comparison.difference > 0  # more coverage...
    assert decision.decision == Outcome.INVESTIGATE  # ...at 200/240 precision instead of 1
    assert re.search(r"regression beyond the margin in stack 'precision where walks stop' "
                     r"\(-0\.167\)", decision.reason)


@pytest.mark.parametrize(("score", "decision", "reason"), [
    (0.3, Outcome.PROMOTE, "nothing is live yet and distance_at_1 0.3000 <= min_metric 0.5"),
    (0.5, Outcome.PROMOTE, "distance_at_1 0.5000 <= min_metric 0.5"),  # on the ceiling
    (0.8, Outcome.INVESTIGATE, "distance_at_1 0.8000 is above the ceiling min_metric=0.5"),
])
def test_first_promotion_on_distance_needs_to_be_under_the_ceiling(
    score: float, decision: str, reason: str
) -> None:
    rule = PromotionConfig(metric="distance_at_1", min_metric=0.5)
    verdict = first_promotion(rule, {"distance_at_1": score})
    assert verdict.decision == decision and reason in verdict.reason, verdict.reason


def test_first_promotion_on_coverage_reads_the_coverage() -> None:
    rule = PromotionConfig(metric="coverage_at_precision")
    assert first_promotion(rule, {"coverage": 0.9}).decision == Outcome.PROMOTE


def numbers(verdict, metric: str = "leaf_accuracy", test: str = "McNemar") -> str:
    """The figures every reason quotes, worded from the verdict's own comparison."""
    comp = verdict.comparison
    return (f"{metric} {comp.difference:+.4f} [95% CI {comp.ci_low:+.4f}, "
            f"{comp.ci_high:+.4f}], {test} p={comp.p_value:.4g}")


def test_each_reason_says_what_was_decided_and_quotes_the_figures() -> None:
    better = compare(RULE, TAXONOMY, outcomes({}), outcomes({k: 20 for k in BASE}))
    assert better.reason == f"significantly better: {numbers(better)}"
    broken = compare(RULE, TAXONOMY, outcomes({**BASE, "zero": PER_CLASS}), outcomes(BASE))
    assert broken.reason.startswith(f"significantly worse: {numbers(broken)}; worse: ")
    same = compare(RULE, TAXONOMY, outcomes(BASE), outcomes(BASE))
    assert same.reason == f"inconclusive: {numbers(same)}"
    rule = PromotionConfig(n_resamples=500, margin=0.5, min_improvement=0.0)
    gain = compare(rule, TAXONOMY, outcomes({**BASE, "one": 4}), outcomes(BASE))
    assert gain.reason == ("non-inferior on every node and class and better by more than "
                           f"0.0: {numbers(gain)}")


def test_a_continuous_metric_names_its_test_and_direction() -> None:
    rule = PromotionConfig(metric="distance_at_1", n_resamples=500)
    decision = compare(rule, TAXONOMY, walked(SENSIBLE), walked(ACROSS))
    figures = numbers(decision, "distance_at_1 (lower is better)",
                      "Wilcoxon signed-rank on per-image values")
    assert decision.reason == f"significantly better: {figures}"


def test_worse_overall_without_a_check_beyond_its_margin_names_none() -> None:
    """Five more mistakes in every class: significantly worse in total, while no single
    node or class is shown beyond its margin after Holm's correction."""
    decision = compare(RULE, TAXONOMY, outcomes({k: 11 for k in BASE}), outcomes(BASE))
    assert decision.decision == Outcome.REJECT
    assert Status.REGRESSION not in {c.status for c in decision.checks}
    assert decision.reason == f"significantly worse: {numbers(decision)}"


@pytest.mark.parametrize(("challenger", "live"), [
    ({"zero": 1}, {"one": 8}),  # 8 images only the challenger gets right, 1 only live
    ({"one": 8}, {"zero": 1}),  # and the other way round
])
def test_a_p_value_equal_to_alpha_is_not_significant(challenger, live) -> None:
    """Exact McNemar on 8 against 1 discordant images: p = 2 * 10 / 512 = 0.039062 (to six
    decimals), here also the level asked for."""
    rule = PromotionConfig(n_resamples=200, alpha=0.039062)
    decision = compare(rule, TAXONOMY, outcomes(challenger), outcomes(live))
    assert decision.comparison.p_value == rule.alpha
    assert not decision.reason.startswith("significantly"), decision.reason


def test_a_node_or_class_margin_overrides_the_default_for_that_check_only() -> None:
    """'seven' drops by half (30 of 60): a regression beyond the default margin, but not
    beyond the 0.6 that conf/promotion's ``margins`` allows that class."""
    live = {"zero": 25, "six": 25, "one": 25, "seven": 0}
    challenger = {"zero": 0, "six": 0, "one": 0, "seven": 30}
    rule = PromotionConfig(n_resamples=200, margins={"seven": 0.6, "straight": 0.3})
    decision = compare(rule, TAXONOMY, outcomes(challenger), outcomes(live))
    margins = {c.name: c.margin for c in decision.checks}
    assert margins == {"digit": 0.05, "round": 0.05, "straight": 0.3,
                       "zero": 0.05, "six": 0.05, "one": 0.05, "seven": 0.6}
    seven = next(c for c in decision.checks if c.name == "seven")
    assert seven.difference == -0.5 and seven.status != Status.REGRESSION
    assert seven.n_images == PER_CLASS
    for check in decision.checks:  # p-values to six decimals, adjusted ones no smaller
        assert 0 <= check.p_value <= check.p_value_adjusted <= 1, check
        assert (check.p_value, check.p_value_adjusted) == \
            (round(check.p_value, 6), round(check.p_value_adjusted, 6))


def test_the_precision_check_takes_its_own_margin() -> None:
    rule = PromotionConfig(metric="coverage_at_precision", n_resamples=200,
                           margins={"precision where walks stop": 0.2})
    decision = compare(rule, TAXONOMY, walked({"zero": (40, ["round", "six"])}),
                       walked(STOPS))
    precision = next(c for c in decision.checks if c.name == "precision where walks stop")
    assert precision.margin == 0.2 and precision.status != Status.REGRESSION


@pytest.mark.parametrize("metric", ["leaf_accuracy", "hierarchical_f1"])
def test_the_bootstrap_follows_the_seed_it_is_given(metric: str) -> None:
    """Deciding twice with one seed gives the same interval, to the digit; another seed
    draws other resamples (the project's ``seed`` reaches the bootstrap)."""
    rule = PromotionConfig(metric=metric, n_resamples=300)
    challenger, live = walked(SENSIBLE), walked({**ACROSS, "six": (30, ["round", "zero"])})

    def interval(seed: int) -> tuple[float, float]:
        comparison = compare(rule, TAXONOMY, challenger, live, seed=seed).comparison
        assert comparison.resampled == "set_id"
        return comparison.ci_low, comparison.ci_high

    assert interval(3) == interval(3) != interval(4)


def test_outcomes_without_sets_are_resampled_image_by_image() -> None:
    challenger, live = outcomes({}).drop(columns="set_id"), outcomes(BASE).drop(columns="set_id")
    assert compare(RULE, TAXONOMY, challenger, live).comparison.resampled == "image"


def test_an_image_twice_in_one_stack_outcomes_is_refused() -> None:
    """Each test image is one pair: a repeated id would pair it with itself twice."""
    live = outcomes(BASE)
    with pytest.raises(pd.errors.MergeError, match="one-to-one"):
        compare(RULE, TAXONOMY, outcomes({}), pd.concat([live, live.head(1)]))
