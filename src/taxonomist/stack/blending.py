"""A node's probabilities leaning on an ancestor trained on leaves (``ancestor_weight``).

A node trained on its leaves (``targets: leaves``) has seen every image under it, while
each node below it learns from its own part of the tree only. The ancestor's network
already has a view of each lower node's choice: the probability of the leaves under each
of that node's children, renormalised within the node. The stack mixes the two, ``(1 -
w) own + w ancestor`` (a linear opinion pool of a local classifier and a more global one),
so a child that has learnt less from its few images is outvoted where the ancestor is
sure, and the other way round. With ``ancestor_weight: null`` the stack stage picks ``w``
per node on val: the weight under which the true child is likeliest (least log-loss),
so a node that learnt nothing its ancestor does not know defers to it, and one that
knows better keeps its say.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from taxonomist.taxonomy import Taxonomy

_FLOOR = 1e-12  # log(0) of a probability that is exactly zero


def ancestor_view(taxonomy: Taxonomy, classes: list[str], ancestor_leaves: list[str],
                  leaf_probs: np.ndarray) -> np.ndarray:
    """(N, len(classes)): each of a node's children's share of the ancestor's probability
    (``leaf_probs``, (N, ancestor_leaves)) for the leaves under the node; uniform where
    the ancestor gives those leaves nothing at all."""
    member = np.array([[child in taxonomy.path(leaf) for leaf in ancestor_leaves]
                       for child in classes], dtype=leaf_probs.dtype)  # (children, leaves)
    mass = leaf_probs @ member.T
    total = mass.sum(axis=1, keepdims=True)
    uniform = np.full_like(mass, 1.0 / len(classes))
    return np.divide(mass, total, out=uniform, where=total > 0)


def leaf_ancestor(taxonomy: Taxonomy, node: str, trained_on_leaves: set[str]) -> str | None:
    """The proper ancestor of ``node`` nearest the root whose network is over its leaves:
    the one that learnt from the most images."""
    return next((a for a in taxonomy.path(node)[:-1] if a in trained_on_leaves), None)


def blend(own: np.ndarray, view: np.ndarray, weight: float) -> np.ndarray:
    return (1.0 - weight) * own + weight * view


def fit_weight(own: np.ndarray, view: np.ndarray, targets: np.ndarray) -> float:
    """The ``w`` in [0, 1] under which ``blend(own, view, w)`` gives the ``targets`` (child
    indices) the least mean log-loss; 0 with no images to fit on."""
    if not len(targets):
        return 0.0
    rows = np.arange(len(targets))

    def log_loss(weight: float) -> float:
        chosen = blend(own[rows, targets], view[rows, targets], weight)
        return float(-np.log(np.maximum(chosen, _FLOOR)).mean())

    best = minimize_scalar(log_loss, bounds=(0.0, 1.0), method="bounded",
                           options={"xatol": 1e-3})
    return round(float(best.x), 3)
