"""Paired statistics for challenger vs live on the same test images (scipy, statsmodels).

On a few hundred test images a one-point gain is noise, so the gate never compares two
point estimates: it compares the two stacks image by image.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from taxonomist.contracts.comparison import PairedComparison, Scope


def paired_comparison(
    challenger: np.ndarray,
    live: np.ndarray,
    groups: np.ndarray | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> PairedComparison:
    """Compare two boolean correctness vectors over the same images.

    ``groups`` (e.g. each image's ``set_id``) makes the bootstrap resample whole groups.
    """
    challenger, live = np.asarray(challenger, bool), np.asarray(live, bool)
    only_c = int((challenger & ~live).sum())
    only_l = int((live & ~challenger).sum())
    both = int((challenger & live).sum())
    table = [[both, only_c], [only_l, len(live) - both - only_c - only_l]]
    p_value = 1.0 if only_c + only_l == 0 else float(mcnemar(table, exact=True).pvalue)
    ones = np.ones(len(live))
    low, high = _bootstrap_interval(
        (challenger.astype(float), ones, live.astype(float), ones), groups,
        confidence, n_resamples, seed,
    )
    return PairedComparison(
        difference=round(float(challenger.mean() - live.mean()), 4) if len(live) else 0.0,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        p_value=round(p_value, 6),
        n_images=len(live),
        challenger_only_correct=only_c,
        live_only_correct=only_l,
        resampled="set_id" if groups is not None else "image",
    )


def paired_ratio_comparison(
    challenger: tuple[np.ndarray, np.ndarray],
    live: tuple[np.ndarray, np.ndarray],
    groups: np.ndarray | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    lower_is_better: bool = False,
) -> PairedComparison:
    """Compare a metric ``sum(numerator) / sum(denominator)`` with continuous per-image
    values (``numerator / denominator`` of each image), over the same images.

    A mean is the case ``denominator = 1`` (tree distance); a micro-averaged hierarchical
    F1 is ``2|P∩T| / (|P| + |T|)`` per image. The interval is the paired bootstrap of the
    difference of the two ratios (whole ``groups`` resampled); the p-value is the
    Wilcoxon signed-rank test of the per-image differences, since McNemar's test needs
    right/wrong per image. ``challenger_only_correct`` / ``live_only_correct`` count
    the images where that side's value is the better one.
    """
    (c_num, c_den), (l_num, l_den) = (_floats(challenger), _floats(live))
    diff = _per_image(c_num, c_den) - _per_image(l_num, l_den)
    better = -diff if lower_is_better else diff
    nonzero = diff[diff != 0]
    p_value = 1.0 if len(nonzero) == 0 else float(stats.wilcoxon(nonzero).pvalue)
    low, high = _bootstrap_interval(
        (c_num, c_den, l_num, l_den), groups, confidence, n_resamples, seed
    )
    return PairedComparison(
        difference=round(_ratio(c_num, c_den) - _ratio(l_num, l_den), 4),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        p_value=round(p_value, 6),
        n_images=len(diff),
        challenger_only_correct=int((better > 0).sum()),
        live_only_correct=int((better < 0).sum()),
        resampled="set_id" if groups is not None else "image",
    )


def _floats(pair: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(pair[0], float), np.asarray(pair[1], float)


def _per_image(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    zero = np.zeros_like(numerator)
    return np.divide(numerator, denominator, out=zero, where=denominator > 0)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> float:
    total = float(denominator.sum())
    return float(numerator.sum()) / total if total else 0.0


def _bootstrap_interval(
    columns: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    groups: np.ndarray | None, confidence: float, n: int, seed: int,
) -> tuple[float, float]:
    """Percentile interval of ``sum(c_num)/sum(c_den) - sum(l_num)/sum(l_den)`` over
    resamples of whole groups (each image its own group when ``groups`` is None)."""
    c_num, c_den, l_num, l_den = columns
    if len(c_num) == 0 or _no_variation(columns):
        value = _ratio(c_num, c_den) - _ratio(l_num, l_den) if len(c_num) else 0.0
        return round(value, 4), round(value, 4)  # every resample gives this difference
    if groups is None:
        groups = np.arange(len(c_num))
    _, inverse = np.unique(groups, return_inverse=True)
    sums = tuple(np.bincount(inverse, weights=column) for column in columns)

    def difference(cn, cd, ln, ld, axis: int = -1) -> np.ndarray:
        return cn.sum(axis=axis) / cd.sum(axis=axis) - ln.sum(axis=axis) / ld.sum(axis=axis)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples are expected on tiny sets
        result = stats.bootstrap(
            sums, difference, paired=True, vectorized=True, n_resamples=n,
            confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed),
        )
    ci = result.confidence_interval
    return round(float(ci.low), 4), round(float(ci.high), 4)


def _no_variation(columns: tuple[np.ndarray, ...]) -> bool:
    c_num, c_den, l_num, l_den = columns
    diff = _per_image(c_num, c_den) - _per_image(l_num, l_den)
    return bool(np.ptp(diff) == 0 and np.ptp(c_den) == 0 and np.ptp(l_den) == 0)


@dataclass(frozen=True)
class MarginTest:
    """One node's accuracy or one class's recall, challenger vs live, against a margin.

    The rule turns these into :class:`~taxonomist.contracts.promotion.Check` records
    once Holm's correction has been applied across all of them.
    """

    scope: Scope
    name: str
    challenger: float
    live: float
    difference: float
    margin: float
    n_images: int
    p_regression: float  # H1: the challenger is worse by more than the margin
    p_noninferior: float  # H1: the challenger is worse by less than the margin


def margin_test(
    scope: Scope, name: str, challenger: np.ndarray, live: np.ndarray, margin: float
) -> MarginTest:
    """Two one-sided paired t-tests of the per-image difference against ``-margin``."""
    diff = np.asarray(challenger, float) - np.asarray(live, float)
    mean = float(diff.mean()) if len(diff) else 0.0
    if len(diff) < 2 or np.ptp(diff) == 0:
        # no spread: the observed difference is the whole story
        p_reg, p_ni = (0.0, 1.0) if mean < -margin else (1.0, 0.0 if len(diff) else 1.0)
    else:
        p_reg = float(stats.ttest_1samp(diff, -margin, alternative="less").pvalue)
        p_ni = float(stats.ttest_1samp(diff, -margin, alternative="greater").pvalue)
    return MarginTest(
        scope, name,
        challenger=round(float(np.mean(challenger)), 4) if len(diff) else 0.0,
        live=round(float(np.mean(live)), 4) if len(diff) else 0.0,
        difference=round(mean, 4), margin=margin, n_images=len(diff),
        p_regression=p_reg, p_noninferior=p_ni,
    )


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (family-wise error across many node/class checks)."""
    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, method="holm")[1]]
