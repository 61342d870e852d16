"""The promotion rule: three outcomes from paired statistics, all thresholds in YAML."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from taxonomist.config import PromotionConfig
from taxonomist.contracts.comparison import Check, PairedComparison, Scope, Status
from taxonomist.contracts.promotion import (
    CONTINUOUS_METRICS,
    STACK_METRIC_OF,
    Outcome,
    Verdict,
    p_value_test,
)
from taxonomist.errors import ConfigError
from taxonomist.promote.stats import (
    holm,
    margin_test,
    paired_comparison,
    paired_ratio_comparison,
)
from taxonomist.taxonomy import Taxonomy

DEPTH_METRIC = re.compile(r"accuracy_depth_(\d+)")
LOWER_IS_BETTER = {"distance_at_1"}  # mean tree distance: 0 is perfect
# coverage_at_precision: coverage (walks reaching a leaf), paired like accuracy, on the
# condition that precision where walks stop is non-inferior within the margin.
COVERAGE = "coverage_at_precision"
PRECISION_CHECK = "precision where walks stop"


def first_promotion(rule: PromotionConfig, metrics: dict) -> Verdict:
    """Nothing is live: the challenger must still clear the absolute floor
    (``min_metric``; a ceiling for a metric where lower is better)."""
    score = metric_value(rule, metrics)
    lower = rule.metric in LOWER_IS_BETTER
    if (score > rule.min_metric) if lower else (score < rule.min_metric):
        bound = "above the ceiling" if lower else "below the floor"
        reason = (f"{rule.metric} {score:.4f} is {bound} min_metric="
                  f"{rule.min_metric} for a first promotion")
        return Verdict(Outcome.INVESTIGATE, reason)
    return Verdict(Outcome.PROMOTE, f"nothing is live yet and {rule.metric} {score:.4f} "
                             f"{'<=' if lower else '>='} min_metric {rule.min_metric}")


def compare(
    rule: PromotionConfig,
    taxonomy: Taxonomy,
    challenger: pd.DataFrame,
    live: pd.DataFrame,
    seed: int = 0,
) -> Verdict:
    """Decide from both stacks' per-image outcomes on the same test images.

    ``promote``: significantly better (exact McNemar), or non-inferior on every node and
    class and better by more than ``min_improvement``. ``reject``: significantly worse.
    ``investigate``: anything else, including a node or class shown to regress beyond
    its margin while the total is not significantly worse.
    """
    both = challenger.merge(live, on=["id", "label"], suffixes=("_c", "_l"), validate="1:1")
    comparison = _primary_comparison(rule, taxonomy, both, seed)
    checks = _margin_checks(rule, taxonomy, both)
    return _decide(rule, comparison, checks)


def metric_value(rule: PromotionConfig, metrics: dict) -> float:
    """The stack's value of the gate's metric (coverage_at_precision: its coverage)."""
    value = metrics.get(STACK_METRIC_OF.get(rule.metric, rule.metric))
    if not isinstance(value, int | float):
        valid = sorted(k for k, v in metrics.items() if isinstance(v, int | float))
        raise ConfigError(
            "conf/promotion", "metric", f"'{rule.metric}' is not a stack metric",
            f"use one of: {', '.join(valid)}",
        )
    return float(value)


def _decide(rule: PromotionConfig, comp: PairedComparison, checks: list[Check]) -> Verdict:
    def made(decision: Outcome, reason: str) -> Verdict:
        return Verdict(decision, reason, comp.difference, comp, checks)

    test = p_value_test(rule.metric)
    test += " signed-rank on per-image values" if rule.metric in CONTINUOUS_METRICS else ""
    direction = " (lower is better)" if rule.metric in LOWER_IS_BETTER else ""
    numbers = (f"{rule.metric}{direction} {comp.difference:+.4f} "
               f"[{comp.confidence:.0%} CI {comp.ci_low:+.4f}, {comp.ci_high:+.4f}], "
               f"{test} p={comp.p_value:.4g}")
    gain = -comp.difference if rule.metric in LOWER_IS_BETTER else comp.difference
    regressions = [c for c in checks if c.status == Status.REGRESSION]
    named = _names(regressions)
    if comp.p_value < rule.alpha and gain < 0:
        worse = f"; worse: {named}" if named else ""
        return made(Outcome.REJECT, f"significantly worse: {numbers}{worse}")
    if regressions:
        return made(Outcome.INVESTIGATE, f"regression beyond the margin in {named}; {numbers}")
    if comp.p_value < rule.alpha and gain > 0:
        return made(Outcome.PROMOTE, f"significantly better: {numbers}")
    if all(c.status == Status.OK for c in checks) and gain > rule.min_improvement:
        return made(Outcome.PROMOTE, f"non-inferior on every node and class and better by more "
                             f"than {rule.min_improvement}: {numbers}")
    unproven = _names([c for c in checks if c.status == Status.INCONCLUSIVE])
    detail = f"; not shown non-inferior: {unproven}" if unproven else ""
    return made(Outcome.INVESTIGATE, f"inconclusive: {numbers}{detail}")


def _primary_comparison(
    rule: PromotionConfig, taxonomy: Taxonomy, both: pd.DataFrame, seed: int
) -> PairedComparison:
    """The paired comparison of the primary metric over the images it counts."""
    if rule.metric in CONTINUOUS_METRICS:
        rows = np.ones(len(both), bool)  # every image counts for these
        challenger, live = (_ratio_terms(rule.metric, both, side) for side in ("c", "l"))
    else:
        rows, challenger, live = _primary(rule, taxonomy, both)
    groups = both.loc[rows, "set_id_c"].to_numpy() if "set_id_c" in both else None
    if rule.metric in CONTINUOUS_METRICS:
        return paired_ratio_comparison(
            challenger, live, groups, rule.confidence, rule.n_resamples, seed,
            lower_is_better=rule.metric in LOWER_IS_BETTER,
        )
    return paired_comparison(challenger, live, groups, rule.confidence, rule.n_resamples, seed)


def _ratio_terms(metric: str, both: pd.DataFrame, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the numerator and denominator whose sums make the metric."""
    if metric == "distance_at_1":
        return both[f"distance_{side}"].to_numpy(float), np.ones(len(both))
    size = both[f"h_predicted_{side}"] + both[f"h_true_{side}"]  # hierarchical_f1
    return 2 * both[f"h_overlap_{side}"].to_numpy(float), size.to_numpy(float)


def _primary(rule: PromotionConfig, taxonomy: Taxonomy, both: pd.DataFrame):
    """Rows that count for the metric and each stack's per-image correctness there."""
    if rule.metric == COVERAGE:  # every image: did its walk reach a leaf?
        rows = np.ones(len(both), bool)
        return rows, both["reached_leaf_c"].to_numpy(bool), both["reached_leaf_l"].to_numpy(bool)
    if rule.metric == "leaf_accuracy":
        rows = both["label"].isin(taxonomy.leaves).to_numpy()
        challenger = both.loc[rows, "correct_c"].to_numpy()
        return rows, challenger, both.loc[rows, "correct_l"].to_numpy()
    match = DEPTH_METRIC.fullmatch(rule.metric)
    if not match:
        raise ConfigError(
            "conf/promotion", "metric",
            f"'{rule.metric}' cannot be compared image by image",
            f"use leaf_accuracy, accuracy_depth_<N>, {COVERAGE}, "
            f"{', '.join(sorted(CONTINUOUS_METRICS))}",
        )
    depth = int(match.group(1))
    truth = [taxonomy.path(label)[1:] for label in both["label"]]
    rows = np.array([len(t) >= depth for t in truth])
    wanted = [t[depth - 1] for t, keep in zip(truth, rows, strict=True) if keep]
    challenger = _reached(both.loc[rows, "path_c"], wanted)
    return rows, challenger, _reached(both.loc[rows, "path_l"], wanted)


def _reached(paths: pd.Series, wanted: list[str]) -> np.ndarray:
    return np.array([w in p.split("/") for p, w in zip(paths, wanted, strict=True)], bool)


def _margin_checks(rule: PromotionConfig, taxonomy: Taxonomy, both: pd.DataFrame) -> list[Check]:
    tests = []
    for node in taxonomy.inner_nodes:
        truth = [taxonomy.child_for_label(node, label) for label in both["label"]]
        rows = np.array([t is not None for t in truth])
        wanted = [t for t in truth if t is not None]
        margin = rule.margins.get(node, rule.margin)
        tests.append(margin_test(
            Scope.NODE, node, _reached(both.loc[rows, "path_c"], wanted),
            _reached(both.loc[rows, "path_l"], wanted), margin,
        ))
    for leaf in taxonomy.leaves:
        rows = (both["label"] == leaf).to_numpy()
        if rows.any():
            tests.append(margin_test(
                Scope.CLASS, leaf, both.loc[rows, "correct_c"].to_numpy(),
                both.loc[rows, "correct_l"].to_numpy(), rule.margins.get(leaf, rule.margin),
            ))
    if rule.metric == COVERAGE:  # more coverage must not cost precision where walks stop
        tests.append(margin_test(
            Scope.STACK, PRECISION_CHECK, both["on_path_c"].to_numpy(bool),
            both["on_path_l"].to_numpy(bool), rule.margins.get(PRECISION_CHECK, rule.margin),
        ))
    adjusted_reg = holm([t.p_regression for t in tests])
    adjusted_ni = holm([t.p_noninferior for t in tests])
    return [
        Check(t.scope, t.name, t.challenger, t.live, t.difference, t.margin, t.n_images,
              round(t.p_regression, 6), round(reg, 6),
              _status(rule, reg, ni))
        for t, reg, ni in zip(tests, adjusted_reg, adjusted_ni, strict=True)
    ]


def _status(rule: PromotionConfig, p_regression: float, p_noninferior: float) -> Status:
    """Shown worse beyond the margin, else shown non-inferior, else not shown either way."""
    if p_regression < rule.alpha:
        return Status.REGRESSION
    return Status.OK if p_noninferior < rule.alpha else Status.INCONCLUSIVE


def _names(checks: list[Check]) -> str:
    return ", ".join(f"{c.scope} '{c.name}' ({c.difference:+.3f})" for c in checks)
