"""From node probabilities to walks: which class a walk heads for, and where it stops.

A walk is decided in two steps, so that the stack stage can try other thresholds on
the same probabilities without running a network again:

1. :func:`decode` picks, per image, the full path from the root to a leaf. ``greedy``
   takes each node's likeliest child; ``bayes_risk`` takes the leaf with the least
   expected tree distance to the label, ``argmin_l sum_y p(y|x) d(l, y)``, where a
   leaf's probability is the product of the node probabilities along its path
   (conditional risk minimisation, Karthik et al., "No cost likelihood manipulation at
   test time for making better mistakes in deep networks", ICLR 2021); ``best_path``
   takes the leaf of the largest such product.
2. :func:`stop` cuts each path at the first node whose probability for the child the
   path takes is under that node's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from taxonomist.config.schema import Decoding
from taxonomist.taxonomy import Taxonomy


@dataclass(frozen=True)
class Stop:
    """Why a walk ended above the leaves: at ``node``, the child ``best`` the walk was
    heading for had ``probability`` under the node's ``threshold`` (``reason``
    ``below_threshold``), or the image was refused at the root as unlike the training
    images (``unfamiliar``, :mod:`~.familiarity`), whatever the root's probability."""

    node: str
    best: str
    probability: float
    threshold: float
    reason: str = "below_threshold"


@dataclass(frozen=True)
class Prediction:
    """One image's walk: the classes chosen from the root's children down, with the
    probability of each choice. It ends early where a node was not confident enough;
    ``stop`` then says where and why (None: the walk reached a leaf)."""

    path: list[str]
    probs: list[float]
    stop: Stop | None = None

    @property
    def label(self) -> str | None:
        return self.path[-1] if self.path else None


@dataclass(frozen=True)
class Step:
    """At ``node`` the path takes ``child``, which the node gives ``probability``."""

    node: str
    child: str
    probability: float


@dataclass(frozen=True)
class NodeOutputs:
    """Every inner node's probabilities of its children on the same N images.

    Attributes:
        classes: per node, its children in the order of its probability columns.
        probs: per node, an (N, len(classes)) array; NaN rows where the node did not run.
    """

    classes: Mapping[str, list[str]]
    probs: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.probs.values()))) if self.probs else 0

    def rows(self, images: np.ndarray) -> NodeOutputs:
        """The same outputs for a subset of the images (an index array)."""
        return NodeOutputs(self.classes, {n: p[images] for n, p in self.probs.items()})


def decode(taxonomy: Taxonomy, outputs: NodeOutputs, decoding: Decoding) -> list[list[Step]]:
    """Each image's full path, root to leaf, as the steps taken (see the module).

    ``greedy`` needs each node only on the images whose path reaches it, and ends a path
    where a node did not run; the other two weigh every leaf, so every node on every image.
    """
    if decoding is Decoding.greedy:
        return [_greedy_steps(taxonomy, outputs, i) for i in range(len(outputs))]
    if decoding is Decoding.bayes_risk:
        leaves = least_expected_distance(taxonomy, outputs)
    else:
        leaves = likeliest_leaves(taxonomy, outputs)
    return [_steps_to(taxonomy, outputs, i, leaf) for i, leaf in enumerate(leaves)]


def stop(paths: Sequence[list[Step]], thresholds: Mapping[str, float]) -> list[Prediction]:
    """Cut every path at the first step whose probability is under its node's threshold."""
    return [_stopped(steps, thresholds) for steps in paths]


def leaf_probabilities(taxonomy: Taxonomy, outputs: NodeOutputs) -> np.ndarray:
    """(N, leaves) probability of each leaf: the product of the node probabilities along
    its path (columns in ``taxonomy.leaves`` order)."""
    columns = []
    for leaf in taxonomy.leaves:
        path = taxonomy.path(leaf)
        column = np.ones(len(outputs))
        for node, child in zip(path, path[1:], strict=False):
            column = column * outputs.probs[node][:, outputs.classes[node].index(child)]
        columns.append(column)
    return np.stack(columns, axis=1)


def likeliest_leaves(taxonomy: Taxonomy, outputs: NodeOutputs) -> list[str]:
    """Per image, the leaf of the largest path probability (ties: the first listed). A
    leaf under a node that did not run (NaN: it could not hold a likelier leaf) is none."""
    probs = np.nan_to_num(leaf_probabilities(taxonomy, outputs), nan=0.0)
    return [taxonomy.leaves[k] for k in np.argmax(probs, axis=1)]


def least_expected_distance(taxonomy: Taxonomy, outputs: NodeOutputs) -> list[str]:
    """Per image, the leaf ``l`` minimising ``sum_y p(y) d(l, y)`` over the leaves ``y``
    (ties go to the leaf listed first in the taxonomy)."""
    leaves = taxonomy.leaves
    distance = np.array([[taxonomy.distance(a, b) for b in leaves] for a in leaves], float)
    risk = leaf_probabilities(taxonomy, outputs) @ distance
    return [leaves[k] for k in np.argmin(risk, axis=1)]


def _greedy_steps(taxonomy: Taxonomy, outputs: NodeOutputs, image: int) -> list[Step]:
    steps, node = [], taxonomy.root
    while taxonomy.children[node]:
        row = outputs.probs[node][image]
        if np.isnan(row).any():  # the node did not run on this image
            break
        best = int(np.argmax(row))
        steps.append(Step(node, outputs.classes[node][best], float(row[best])))
        node = steps[-1].child
    return steps


def _steps_to(taxonomy: Taxonomy, outputs: NodeOutputs, image: int, leaf: str) -> list[Step]:
    path = taxonomy.path(leaf)
    return [
        Step(node, child, float(outputs.probs[node][image, outputs.classes[node].index(child)]))
        for node, child in zip(path, path[1:], strict=False)
    ]


def _stopped(steps: list[Step], thresholds: Mapping[str, float]) -> Prediction:
    for depth, step in enumerate(steps):
        if step.probability < thresholds[step.node]:  # not sure enough: the walk ends here
            taken = steps[:depth]
            return Prediction(
                [s.child for s in taken], [round(s.probability, 4) for s in taken],
                Stop(step.node, step.child, round(step.probability, 4), thresholds[step.node]),
            )
    return Prediction([s.child for s in steps], [round(s.probability, 4) for s in steps])


def refused(prediction: Prediction, root: str, threshold: float) -> Prediction:
    """``prediction``'s image refused at ``root`` as unfamiliar: no class at all, and the
    stop keeps what the root would have chosen."""
    if prediction.path:
        best, probability = prediction.path[0], prediction.probs[0]
    else:
        best, probability = prediction.stop.best, prediction.stop.probability
    return Prediction([], [], Stop(root, best, probability, threshold, "unfamiliar"))
