"""The paired statistics behind the promotion gate, called directly with numbers whose
answers can be worked out by hand (or by the scipy test the function names)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from taxonomist.contracts.comparison import Scope
from taxonomist.promote.stats import (
    holm,
    margin_test,
    paired_comparison,
    paired_ratio_comparison,
)

# Per-image tree distances of two stacks over ten images, as integers the way a taxonomy
# counts them; the differences include steps of 1, and one image where both agree.
CHALLENGER_DISTANCE = [0, 0, 0, 1, 0, 2, 0, 0, 1, 2]
LIVE_DISTANCE = [2, 1, 2, 2, 4, 2, 1, 2, 2, 1]
ONES = [1] * 10
SETS = np.repeat(np.arange(5), 2)  # two images per set


def distance_comparison(**options) -> object:
    options = {"confidence": 0.95, "n_resamples": 300, "seed": 0, "lower_is_better": True,
               **options}
    return paired_ratio_comparison((CHALLENGER_DISTANCE, ONES), (LIVE_DISTANCE, ONES), **options)


def test_lower_is_better_counts_the_images_where_the_challenger_is_closer() -> None:
    comparison = distance_comparison()
    # eight images closer to the truth, one farther (2 against 1), one the same
    assert (comparison.challenger_only_correct, comparison.live_only_correct) == (8, 1)
    higher_is_better = distance_comparison(lower_is_better=False)
    assert (higher_is_better.challenger_only_correct, higher_is_better.live_only_correct) == \
        (1, 8)


def test_the_difference_and_p_value_are_those_of_the_per_image_values() -> None:
    """The mean difference (to 4 decimals) and Wilcoxon's signed-rank p on the non-zero
    per-image differences (to 6), whole-number differences of 1 included."""
    comparison = distance_comparison()
    differences = np.subtract(CHALLENGER_DISTANCE, LIVE_DISTANCE)
    assert comparison.difference == round(differences.mean(), 4) == -1.3
    expected_p = stats.wilcoxon(differences[differences != 0]).pvalue
    assert round(expected_p, 6) != round(expected_p, 7)  # the rounding is seen
    assert comparison.p_value == round(expected_p, 6)
    assert comparison.n_images == 10


def test_a_difference_is_rounded_to_four_decimals() -> None:
    comparison = paired_ratio_comparison(([1, 0, 0], [1, 1, 1]), ([0, 0, 0], [1, 1, 1]),
                                         n_resamples=100)
    assert comparison.difference == 0.3333


def test_no_difference_on_any_image_is_p_one_and_a_point_interval() -> None:
    comparison = paired_ratio_comparison((LIVE_DISTANCE, ONES), (LIVE_DISTANCE, ONES),
                                         n_resamples=100)
    assert comparison.p_value == 1.0
    assert (comparison.difference, comparison.ci_low, comparison.ci_high) == (0.0, 0.0, 0.0)


def test_the_interval_resamples_the_groups_it_is_given() -> None:
    by_image = distance_comparison()
    by_set = distance_comparison(groups=SETS)
    assert (by_image.resampled, by_set.resampled) == ("image", "set_id")
    assert (by_set.ci_low, by_set.ci_high) != (by_image.ci_low, by_image.ci_high)


def test_the_interval_is_the_same_for_the_same_seed() -> None:
    first, again = distance_comparison(seed=7), distance_comparison(seed=7)
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert first.ci_low < first.difference < first.ci_high


def test_a_lower_confidence_gives_a_narrower_interval() -> None:
    wide, narrow = distance_comparison(), distance_comparison(confidence=0.5)
    assert (wide.confidence, narrow.confidence) == (0.95, 0.5)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


def test_a_constant_difference_is_its_own_interval() -> None:
    """Every image two steps closer: every resample gives -2, so the interval is [-2, -2]."""
    comparison = paired_ratio_comparison(([1] * 6, [1] * 6), ([3] * 6, [1] * 6),
                                         n_resamples=100, lower_is_better=True)
    assert (comparison.difference, comparison.ci_low, comparison.ci_high) == (-2.0, -2.0, -2.0)
    # a third on every image: the point interval is rounded like the difference
    third = paired_ratio_comparison(([1] * 6, [3] * 6), ([0] * 6, [3] * 6), n_resamples=100)
    assert (third.difference, third.ci_low, third.ci_high) == (0.3333, 0.3333, 0.3333)


def test_an_image_with_nothing_to_count_adds_nothing() -> None:
    """A zero denominator is a per-image value of 0, not a division by zero."""
    comparison = paired_ratio_comparison(([1, 1, 0], [2, 2, 0]), ([0, 0, 0], [2, 2, 0]),
                                         n_resamples=100)
    assert (comparison.challenger_only_correct, comparison.live_only_correct) == (2, 0)
    assert comparison.p_value == round(stats.wilcoxon([0.5, 0.5]).pvalue, 6)
    assert comparison.difference == 0.5


# Right (1) and wrong (0) per image: eight images only the challenger gets right, one only
# live, eleven both; 8 + 1 discordant images make McNemar's exact test a binomial one.
RIGHT_C = [1] * 8 + [0] + [1] * 11
RIGHT_L = [0] * 8 + [1] + [1] * 11


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_images() -> None:
    comparison = paired_comparison(RIGHT_C, RIGHT_L, n_resamples=100)
    exact = stats.binomtest(1, 9).pvalue  # 0.039: the chi-square version says 0.046
    assert comparison.p_value == round(exact, 6)
    assert (comparison.challenger_only_correct, comparison.live_only_correct) == (8, 1)
    assert comparison.difference == round(7 / 20, 4) and comparison.n_images == 20
    assert comparison.resampled == "image"
    assert 0 < comparison.ci_low < comparison.difference < comparison.ci_high < 1


def test_right_and_wrong_may_come_as_any_truth_values() -> None:
    """Booleans of ``object`` dtype (a pandas column after a merge) and 0.0/1.0 floats are
    read as right and wrong; ``~True`` on a Python bool is -2, not False."""
    expected = paired_comparison(np.array(RIGHT_C, bool), np.array(RIGHT_L, bool),
                                 n_resamples=100)
    for kind in (object, float):
        challenger = np.array(RIGHT_C, bool).astype(kind)
        live = np.array(RIGHT_L, bool).astype(kind)
        assert paired_comparison(challenger, live, n_resamples=100) == expected, kind


def test_the_accuracy_interval_is_reproducible_and_resamples_groups() -> None:
    groups = np.repeat(np.arange(10), 2)
    first = paired_comparison(RIGHT_C, RIGHT_L, groups, n_resamples=200, seed=3)
    again = paired_comparison(RIGHT_C, RIGHT_L, groups, n_resamples=200, seed=3)
    assert first == again and first.resampled == "set_id"


def test_no_images_compare_as_no_difference() -> None:
    comparison = paired_comparison([], [], n_resamples=100)
    assert (comparison.difference, comparison.ci_low, comparison.ci_high) == (0.0, 0.0, 0.0)
    assert (comparison.p_value, comparison.n_images) == (1.0, 0)
    ratio = paired_ratio_comparison(([], []), ([], []), n_resamples=100)
    assert (ratio.difference, ratio.ci_low, ratio.ci_high, ratio.p_value) == (0, 0, 0, 1.0)


def test_an_accuracy_difference_is_rounded_to_four_decimals() -> None:
    comparison = paired_comparison([1, 0, 0], [0, 0, 0], n_resamples=100)
    assert comparison.difference == 0.3333


def test_the_interval_is_paired_image_by_image() -> None:
    """Both stacks miss the same nine hard images and the challenger gets one more right:
    resampled as pairs, no resample can show the challenger worse; resampled apart, each
    side's own spread (accuracy 0.5 on 20 images) would reach far below zero."""
    hard = [0] * 10 + [1] * 10
    comparison = paired_comparison([1] + hard[1:], hard, n_resamples=500)
    assert comparison.ci_low >= 0 and comparison.ci_high <= 0.2


def test_the_interval_is_given_to_four_decimals() -> None:
    """Seven images: every resampled difference is a multiple of 1/7, so the bounds have
    decimals to round."""
    comparison = paired_comparison([1, 1, 1, 1, 0, 1, 0], [0, 0, 1, 0, 1, 1, 0],
                                   n_resamples=200)
    for bound in (comparison.ci_low, comparison.ci_high):
        assert round(bound * 7) / 7 == pytest.approx(bound, abs=1e-4)  # a seventh, rounded
        assert bound == round(bound, 4)


@pytest.mark.parametrize(("challenger", "live"), [
    (([1, 0] * 10, [1] * 20), ([0, 1] * 10, [1] * 20)),  # each right where the other is wrong
    (([1, 1, 0, 1] * 5, [1] * 20), ([0] * 20, [1] * 20)),  # differences 1 and 0
    # the same per-image gain of 0.5, on images of two sizes on one side: the ratio of
    # the sums still moves with which images a resample draws
    (([1, 3] * 10, [2, 3] * 10), ([0, 1] * 10, [2, 2] * 10)),
    (([0, 1] * 10, [2, 2] * 10), ([1, 3] * 10, [2, 3] * 10)),
])
def test_only_a_difference_no_resample_can_move_is_a_point_interval(challenger, live) -> None:
    comparison = paired_ratio_comparison(challenger, live, n_resamples=200)
    assert comparison.ci_low < comparison.ci_high, comparison


@pytest.mark.parametrize(("challenger", "live", "margin", "p_regression", "p_noninferior"), [
    ([0, 0, 0], [1, 1, 1], 0.05, 0.0, 1.0),  # worse on every image: shown worse
    ([1, 1, 1], [1, 1, 1], 0.05, 1.0, 0.0),  # the same on every image: shown not worse
    ([0, 0, 0], [1, 1, 1], 1.0, 1.0, 0.0),  # worse by the margin exactly is within it
    ([], [], 0.05, 1.0, 1.0),  # no images: nothing shown either way
])
def test_a_difference_without_spread_is_judged_as_it_is(
    challenger, live, margin: float, p_regression: float, p_noninferior: float
) -> None:
    test = margin_test(Scope.CLASS, "zero", challenger, live, margin)
    assert (test.p_regression, test.p_noninferior) == (p_regression, p_noninferior)
    assert (test.margin, test.n_images) == (margin, len(live))
    assert test.difference == (float(np.mean(challenger) - np.mean(live)) if live else 0.0)
    assert (test.challenger, test.live) == ((np.mean(challenger), np.mean(live)) if live
                                            else (0.0, 0.0))


def test_a_margin_test_gives_its_rates_to_four_decimals() -> None:
    test = margin_test(Scope.CLASS, "six", [1, 0, 0], [1, 1, 0], 0.05)
    assert (test.challenger, test.live, test.difference) == (0.3333, 0.6667, -0.3333)


def test_holm_multiplies_the_smallest_p_by_the_number_of_checks() -> None:
    """Holm's step-down: sorted, the k-th smallest of m times (m - k + 1), kept monotone
    (not Holm-Sidak, statsmodels' default, whose 1 - (1 - p)^m is a little smaller)."""
    assert holm([0.02, 0.01, 0.03]) == pytest.approx([0.04, 0.03, 0.04], abs=1e-12)
    assert holm([]) == []


def test_two_images_that_differ_get_the_t_test() -> None:
    """Two images are enough for a spread: one-sided t-tests against -margin."""
    test = margin_test(Scope.NODE, "round", [0, 1], [1, 1], 0.05)
    differences = [-1.0, 0.0]
    assert test.p_regression == stats.ttest_1samp(differences, -0.05, alternative="less").pvalue
    assert test.p_noninferior == \
        stats.ttest_1samp(differences, -0.05, alternative="greater").pvalue
    assert (test.challenger, test.live, test.difference) == (0.5, 1.0, -0.5)


def test_the_interval_is_the_percentile_interval() -> None:
    """Twenty images: every resampled difference is a multiple of 1/20, and the percentile
    interval's bounds fall on such values here (BCa's adjusted levels land between them,
    at 0.5619 for the upper bound)."""
    comparison = paired_comparison(RIGHT_C, RIGHT_L, n_resamples=300)
    assert (comparison.ci_low, comparison.ci_high) == (0.1, 0.6)
