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
    low, high = _bootstrap_interval(
        challenger.astype(float) - live, groups, confidence, n_resamples, seed
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


def _bootstrap_interval(
    diff: np.ndarray, groups: np.ndarray | None, confidence: float, n: int, seed: int
) -> tuple[float, float]:
    if len(diff) == 0 or np.ptp(diff) == 0:
        value = float(diff[0]) if len(diff) else 0.0
        return value, value  # no variation: every resample gives the same difference
    if groups is None:
        groups = np.arange(len(diff))
    _, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=diff)
    counts = np.bincount(inverse).astype(float)

    def ratio(s: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        return s.sum(axis=axis) / c.sum(axis=axis)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples are expected on tiny sets
        result = stats.bootstrap(
            (sums, counts), ratio, paired=True, vectorized=True, n_resamples=n,
            confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed),
        )
    ci = result.confidence_interval
    return round(float(ci.low), 4), round(float(ci.high), 4)


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
