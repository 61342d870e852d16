"""Thresholds for a target precision, and risk-coverage curves (hierarchical selective
classification, Goren, Galil and El-Yaniv, NeurIPS 2024).

An answer is *right* when it is the label or an ancestor of it: stopping early trades
specificity (coverage: the share of walks that reach a leaf) for fewer wrong answers
(risk: one minus that precision). The promise a target makes, per node ``n``:

    among the images of ``n``'s subtree whose path passes ``n``, the answers the stack
    gives from ``n`` on are right at least ``target_precision`` of the time on val.

At the root every image counts, so the root's target is the precision of all answers.
Stopping at ``n`` is always right for those images, so every target can be met, and
lowering the threshold can only lower the precision. The thresholds are chosen
bottom-up, children first, each one as low (as much coverage) as keeps its node's
promise given the thresholds below it: candidates are scanned from the strictest (stop
every walk there) down, and the scan ends at the first that misses the target. With
``confidence`` the test is the lower Clopper-Pearson bound, so the promise holds with
that probability for new images like val's; scanning in a fixed order and stopping at
the first miss needs no correction for the many candidates tried (fixed-sequence
testing, as in Learn-then-Test, Angelopoulos et al. 2021).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import beta

from taxonomist.stack.decoding import Step
from taxonomist.taxonomy import Taxonomy

STOP_ALL = math.nextafter(1.0, 2.0)  # above any probability: every walk stops there
CURVE_COLUMNS = ["threshold", "coverage", "risk"]
MAX_CURVE_POINTS = 200  # a curve's thresholds: at most this many quantiles of the data


@dataclass(frozen=True)
class Target:
    """A node's stopping target: ``precision`` as measured, or its lower bound at
    ``confidence`` (None: as measured)."""

    precision: float
    confidence: float | None = None


@dataclass(frozen=True)
class NodeEvidence:
    """How the answers given from one node on did, on one split.

    Attributes:
        threshold: the node's threshold, chosen or hand-set.
        images: images of the node's subtree whose path passes the node.
        right: how many of their answers were right (label or an ancestor of it).
        passed: how many of them the node let through to a child.
    """

    node: str
    threshold: float
    images: int
    right: int
    passed: int

    @property
    def precision(self) -> float:
        return round(self.right / self.images, 4) if self.images else 0.0

    @property
    def coverage(self) -> float:
        return round(self.passed / self.images, 4) if self.images else 0.0


# (node, probabilities of the steps taken there, whether passing on is right) -> threshold
Picker = Callable[[str, np.ndarray, np.ndarray], float]


def choose_thresholds(
    taxonomy: Taxonomy, paths: Sequence[list[Step]], labels: Sequence[str],
    targets: Mapping[str, Target | None], hand_set: Mapping[str, float],
) -> dict[str, NodeEvidence]:
    """Per node, the lowest threshold keeping its target on these images (val), or the
    hand-set one where it has no target (or no image reaches it)."""
    def pick(node: str, conf: np.ndarray, pass_right: np.ndarray) -> float:
        target = targets.get(node)
        if target is None or len(conf) == 0:
            return hand_set[node]
        return lowest_threshold(conf, pass_right, target)

    return subtree_evidence(taxonomy, paths, labels, pick)


def measure_thresholds(
    taxonomy: Taxonomy, paths: Sequence[list[Step]], labels: Sequence[str],
    thresholds: Mapping[str, float],
) -> dict[str, NodeEvidence]:
    """Per node, how its promise held on these images (test) with ``thresholds``."""
    return subtree_evidence(taxonomy, paths, labels, lambda node, *_: thresholds[node])


def subtree_evidence(
    taxonomy: Taxonomy, paths: Sequence[list[Step]], labels: Sequence[str], pick: Picker
) -> dict[str, NodeEvidence]:
    """Bottom-up over the inner nodes: each node's threshold from ``pick``, then whether
    each image's answer from that node on is right, which its parent needs."""
    truths = [set(taxonomy.path(label)) for label in labels]
    at_node: dict[str, list[tuple[int, Step]]] = {n: [] for n in taxonomy.inner_nodes}
    for image, steps in enumerate(paths):
        for step in steps:
            if step.node in truths[image]:  # the walk is still on the label's branch
                at_node[step.node].append((image, step))
    right_from: dict[str, dict[int, bool]] = {}
    evidence = {}
    for node in reversed(taxonomy.inner_nodes):  # breadth first, reversed: children first
        rows = at_node[node]
        conf = np.array([step.probability for _, step in rows], float)
        pass_right = np.array([
            step.child in truths[image] and right_from.get(step.child, {}).get(image, True)
            for image, step in rows
        ], bool)
        threshold = pick(node, conf, pass_right)
        right = (conf < threshold) | pass_right  # a stop here is right: node is on the path
        right_from[node] = {image: bool(r) for (image, _), r in zip(rows, right, strict=True)}
        evidence[node] = NodeEvidence(node, threshold, len(rows), int(right.sum()),
                                      int((conf >= threshold).sum()))
    return {node: evidence[node] for node in taxonomy.inner_nodes}


def lowest_threshold(conf: np.ndarray, pass_right: np.ndarray, target: Target) -> float:
    """The lowest threshold, scanning down from :data:`STOP_ALL`, before the first that
    misses ``target``; 0.0 when even letting every image through meets it.

    Args:
        conf: per image, the node's probability of the child its path takes.
        pass_right: per image, whether its answer is right if the node lets it through
            (a stop at the node is always right).
        target: the precision to keep.
    """
    order = np.argsort(-conf, kind="stable")
    conf, pass_right = conf[order], pass_right[order]
    values, first = np.unique(-conf, return_index=True)  # distinct, highest first
    last = np.r_[first[1:], len(conf)] - 1  # the last image at or above each value
    passed = last + 1
    right = len(conf) - passed + np.cumsum(pass_right)[last]
    ok = meets(right, len(conf), target)
    if ok.all():
        return 0.0
    misses = int(np.argmin(ok))  # the first candidate that misses the target
    return STOP_ALL if misses == 0 else float(-values[misses - 1])


def meets(right: np.ndarray, images: int, target: Target) -> np.ndarray:
    """Whether ``right`` of ``images`` answers keep the target: as measured, or for the
    lower Clopper-Pearson bound at ``target.confidence``."""
    right = np.asarray(right, float)
    if target.confidence is None:
        return right >= target.precision * images - 1e-9
    lower = beta.ppf(1 - target.confidence, right, images - right + 1)
    return np.nan_to_num(lower, nan=0.0) >= target.precision  # no right answer: bound 0


def node_curve(conf: np.ndarray, right: np.ndarray) -> pd.DataFrame:
    """One node alone: for each threshold, the share of its images it lets through
    (coverage) and the share of those whose likeliest child is wrong (risk)."""
    order = np.argsort(-conf, kind="stable")
    conf, wrong = conf[order], ~np.asarray(right, bool)[order]
    if len(conf) == 0:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    values, first = np.unique(-conf, return_index=True)
    passed = np.r_[first[1:], len(conf)]
    frame = pd.DataFrame({
        "threshold": -values,
        "coverage": passed / len(conf),
        "risk": np.cumsum(wrong)[passed - 1] / passed,
    })
    return _thinned(frame).round(4)


def stack_curve(
    taxonomy: Taxonomy, paths: Sequence[list[Step]], labels: Sequence[str]
) -> pd.DataFrame:
    """The whole stack with one threshold at every node: for each, the share of walks
    that reach a leaf (coverage) and the share of answers that are wrong (risk)."""
    depth = max((len(steps) for steps in paths), default=0)
    minima = np.full((len(paths), depth), -np.inf)  # a walk passes depth d while t <= these
    right_at = np.zeros((len(paths), depth + 1), bool)  # answer at depth d is right
    for image, steps in enumerate(paths):
        truth = set(taxonomy.path(labels[image]))
        minima[image, : len(steps)] = np.minimum.accumulate([s.probability for s in steps])
        right_at[image, : len(steps) + 1] = [taxonomy.root in truth,
                                             *(s.child in truth for s in steps)]
    lengths = np.array([len(steps) for steps in paths])
    rows = []
    for t in _grid(minima[np.isfinite(minima)]):
        reached = (minima >= t).sum(axis=1)
        rows.append((t, (reached == lengths).mean(), 1 - right_at[np.arange(len(paths)),
                                                                  reached].mean()))
    return pd.DataFrame(rows, columns=CURVE_COLUMNS).round(4)


def _grid(values: np.ndarray) -> np.ndarray:
    """Thresholds for a curve: 0, the distinct values (or as many quantiles), STOP_ALL."""
    distinct = np.unique(values)
    if len(distinct) > MAX_CURVE_POINTS:
        distinct = np.unique(np.quantile(values, np.linspace(0, 1, MAX_CURVE_POINTS)))
    return np.r_[0.0, distinct, STOP_ALL]


def _thinned(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= MAX_CURVE_POINTS:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, MAX_CURVE_POINTS).round().astype(int))
    return frame.iloc[keep].reset_index(drop=True)
