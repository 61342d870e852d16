"""A node's probabilities leaning on an ancestor trained on leaves (``ancestor_weight``).

A node trained on its leaves (``targets: leaves``) has seen every image under it, while
each node below it learns from its own part of the tree only. The ancestor's network
already has a view of each lower node's choice: the probability of the leaves under each
of that node's children, renormalised within the node. The stack mixes the two, ``(1 -
w) own + w ancestor`` (a linear opinion pool of a local classifier and a more global one),
so a child that has learnt less from its few images is outvoted where the ancestor is
sure, and the other way round.
"""

from __future__ import annotations

import numpy as np

from taxonomist.taxonomy import Taxonomy


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


def nearest_leaf_ancestor(taxonomy: Taxonomy, node: str, trained_on_leaves: set[str]
                          ) -> str | None:
    """The closest proper ancestor of ``node`` whose network is over its leaves."""
    return next((a for a in reversed(taxonomy.path(node)[:-1]) if a in trained_on_leaves),
                None)


def blend(own: np.ndarray, view: np.ndarray, weight: float) -> np.ndarray:
    return (1.0 - weight) * own + weight * view
