"""Fit the stack's stopping on val (temperatures, then thresholds) and measure it on test.

Both splits are run through every node once (:meth:`StackPredictor.node_outputs` with
``everywhere``); everything here works on those probabilities, so trying a threshold or
the other decoding costs no network call.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from taxonomist.config import Config
from taxonomist.config.schema import Decoding
from taxonomist.contracts.metrics import DecodingScores, NodeCalibration
from taxonomist.evaluate.hierarchy import stack_metrics, stack_outcomes
from taxonomist.evaluate.metrics import expected_calibration_error
from taxonomist.stack.blending import fit_weight
from taxonomist.stack.calibration import fit_temperature, scale
from taxonomist.stack.decoding import NodeOutputs, decode, stop
from taxonomist.stack.predictor import StackPredictor, Stopping
from taxonomist.stack.stopping import (
    STOP_ALL,
    NodeEvidence,
    Target,
    choose_thresholds,
    measure_thresholds,
    node_curve,
    stack_curve,
)
from taxonomist.taxonomy import Taxonomy


class UnreachableTargetWarning(UserWarning):
    """A node's stopping target cannot be met on val: every walk stops at that node."""


@dataclass(frozen=True)
class Split:
    """One split's raw node probabilities (temperature 1) and its labels."""

    outputs: NodeOutputs
    labels: list[str]


@dataclass(frozen=True)
class StoppingReport:
    """What the stack stage writes about its stopping (``plots/_stack/``)."""

    calibration: list[NodeCalibration]
    node_curves: dict[str, pd.DataFrame]
    stack_curve: pd.DataFrame
    decodings: list[DecodingScores]


def fit_stopping(config: Config, val: Split, weights: Mapping[str, float] | None = None
                 ) -> tuple[Stopping, dict[str, NodeEvidence]]:
    """Temperatures (nodes with ``stopping.calibrate``), then thresholds (nodes with a
    ``stopping.target_precision``; the others keep ``threshold``), all on val.

    Args:
        config: the project.
        val: the raw outputs on val, computed with ``weights``.
        weights: each node's ancestor weight (:func:`fit_ancestor_weights`); None: as
            configured, a null one 0.
    """
    taxonomy = config.taxonomy
    temperatures = {
        node: fit_temperature(*node_targets(taxonomy, val, node))
        if config.classifiers[node].stopping.calibrate else 1.0
        for node in taxonomy.inner_nodes
    }
    decoding = config.classifiers[taxonomy.root].stopping.decoding
    evidence = _chosen(config, calibrated(val.outputs, temperatures), val.labels, decoding)
    targets = {n: config.classifiers[n].stopping.target_precision for n in taxonomy.inner_nodes}
    thresholds = {node: e.threshold for node, e in evidence.items()}
    for node in taxonomy.inner_nodes:
        if targets[node] is not None and thresholds[node] == STOP_ALL:
            warnings.warn(_unreachable(config, node, evidence[node]), UnreachableTargetWarning,
                          stacklevel=2)
    stopping = Stopping(thresholds, temperatures, decoding, targets,
                        dict(weights or ancestor_weights(config)))
    return stopping, evidence


def ancestor_weights(config: Config) -> dict[str, float]:
    """Each node's configured ``ancestor_weight``; a null one (fitted on val) is 0 until
    :func:`fit_ancestor_weights` has fitted it."""
    return {node: config.classifiers[node].ancestor_weight or 0.0
            for node in config.taxonomy.inner_nodes}


def fit_ancestor_weights(config: Config, stack: StackPredictor, images: np.ndarray,
                         labels: Sequence[str]) -> dict[str, float]:
    """Each node's ancestor weight: as configured, or (null) the one with the least
    log-loss on the val ``images`` (uint8, with their ``labels``) under the node. Fitted
    by log-loss, not accuracy: val's few mistakes per node would pick a weight from noise,
    while every image's probability of its true child moves with it."""
    weights = ancestor_weights(config)
    for node in config.taxonomy.inner_nodes:
        if config.classifiers[node].ancestor_weight is None:
            rows, targets = under(config.taxonomy, stack.nodes[node][0].classes, labels, node)
            own, seen = stack.opinions(node, images[rows])
            weights[node] = 0.0 if seen is None else fit_weight(own, seen, targets)
    return weights


def _unreachable(config: Config, node: str, val: NodeEvidence) -> str:
    """Why ``node`` stops every walk, and the smallest val split that could do better."""
    stopping = config.classifiers[node].stopping
    wanted = f"stopping.target_precision {stopping.target_precision}"
    needed = ""
    if stopping.confidence is not None:  # all right on n images: lower bound (1 - c)^(1/n)
        wanted += f" at confidence {stopping.confidence}"
        least = math.ceil(math.log(1 - stopping.confidence) / math.log(stopping.target_precision))
        if val.images < least:
            needed = f" (even all right needs {least} val images; it has {val.images})"
    return (f"conf/{config.project.classifier_dir}: node '{node}': {wanted} cannot be met on "
            f"val{needed}, so every walk stops at '{node}'\n  hint: lower the target or the "
            "confidence, or give the node more val images")


def report_stopping(
    config: Config, stopping: Stopping, val: Split, test: Split,
    val_evidence: dict[str, NodeEvidence],
) -> StoppingReport:
    """ECE before and after, val and test evidence per node, the risk-coverage curves
    (test) and both decodings side by side (test), for the card and ``dvc plots``."""
    taxonomy = config.taxonomy
    tuned = calibrated(test.outputs, stopping.temperatures)
    paths = decode(taxonomy, tuned, stopping.decoding)
    test_evidence = measure_thresholds(taxonomy, paths, test.labels, stopping.thresholds)
    rows, curves = [], {}
    for node in taxonomy.inner_nodes:
        probs, targets = node_targets(taxonomy, test, node)
        after = scale(probs, stopping.temperatures[node])
        classes = list(range(probs.shape[1]))
        rows.append(NodeCalibration(
            node=node, temperature=stopping.temperatures[node],
            ece_before=expected_calibration_error(probs, list(targets), classes),
            ece_after=expected_calibration_error(after, list(targets), classes),
            threshold=stopping.thresholds[node], target_precision=stopping.targets.get(node),
            val_images=val_evidence[node].images, val_precision=val_evidence[node].precision,
            test_images=test_evidence[node].images,
            test_precision=test_evidence[node].precision,
            test_coverage=test_evidence[node].coverage,
        ))
        curves[node] = node_curve(after.max(axis=1), after.argmax(axis=1) == targets)
    val_tuned = calibrated(val.outputs, stopping.temperatures)
    return StoppingReport(rows, curves, stack_curve(taxonomy, paths, test.labels),
                          _decodings(config, stopping, val_tuned, val.labels, tuned, test))


def node_targets(taxonomy: Taxonomy, split: Split, node: str) -> tuple[np.ndarray, np.ndarray]:
    """The node's raw probabilities on the images whose label falls under one of its
    children, and the index of that child for each."""
    rows, targets = under(taxonomy, split.outputs.classes[node], split.labels, node)
    return split.outputs.probs[node][rows], targets


def under(taxonomy: Taxonomy, classes: Sequence[str], labels: Sequence[str], node: str
          ) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose label falls under one of ``node``'s children, and the index of that
    child (in ``classes``) for each."""
    truth = [taxonomy.child_for_label(node, label) for label in labels]
    rows = np.array([i for i, t in enumerate(truth) if t is not None], dtype=np.int64)
    return rows, np.array([classes.index(truth[i]) for i in rows], dtype=np.int64)


def calibrated(outputs: NodeOutputs, temperatures: dict[str, float]) -> NodeOutputs:
    return NodeOutputs(outputs.classes, {
        node: scale(probs, temperatures[node]) for node, probs in outputs.probs.items()
    })


def _chosen(
    config: Config, outputs: NodeOutputs, labels: Sequence[str], decoding: Decoding
) -> dict[str, NodeEvidence]:
    taxonomy = config.taxonomy
    targets = {}
    for node in taxonomy.inner_nodes:
        stopping = config.classifiers[node].stopping
        targets[node] = None if stopping.target_precision is None else Target(
            stopping.target_precision, stopping.confidence)
    hand_set = {node: config.classifiers[node].threshold for node in taxonomy.inner_nodes}
    paths = decode(taxonomy, outputs, decoding)
    return choose_thresholds(taxonomy, paths, labels, targets, hand_set)


def _decodings(
    config: Config, stopping: Stopping, val: NodeOutputs, val_labels: list[str],
    test: NodeOutputs, test_split: Split,
) -> list[DecodingScores]:
    """Each decoding on test, without stopping and with thresholds chosen for it (the
    configured ones for the configured decoding)."""
    taxonomy, scores = config.taxonomy, []
    for decoding in Decoding:
        thresholds = stopping.thresholds if decoding is stopping.decoding else {
            node: e.threshold for node, e in _chosen(config, val, val_labels, decoding).items()
        }
        paths = decode(taxonomy, test, decoding)
        for stops, chosen in (("none", dict.fromkeys(thresholds, 0.0)), ("chosen", thresholds)):
            walks = [p.path for p in stop(paths, chosen)]
            outcomes = stack_outcomes(taxonomy, test_split.labels, walks)
            scores.append(DecodingScores.from_metrics(
                decoding.value, stops, stack_metrics(taxonomy, outcomes, walks)))
    return scores
