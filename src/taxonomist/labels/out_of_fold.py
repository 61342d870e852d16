"""Out-of-fold doubt: how unlikely each image's label is to a model that never saw it.

The live stack cannot testify against the labels it was trained on: a network that fits
its train split has memorised them, mistakes included, and a head fitted out of fold on
that network's embeddings still carries what the network memorised. So the evidence
here comes from a model that never met the stack: the nearest neighbours of each image
among the grey pixels the project's classical baseline reads (``baseline.svc.size``).
The images under a node are dealt into K folds **by set** (``set_id``, so no other view
of an image is a neighbour with its label), and each fold is scored by its neighbours in
the other K - 1 folds. Every image, whatever its split, gets the same kind of score:

    doubt = 1 - P(the image's label)

where P is the share of its neighbours with that label, or (an inner class) with a leaf
under it. An image with a leaf the other folds hold fewer than ``neighbours`` images of
gets none (NaN): too few to outvote.

Why neighbours and not the SVC baseline itself (measured 2026-12-07 at commit 1238ce2,
5-fold by set, on the whole digits sample with 5 % of its sets relabelled): both put
every planted image in the top 2N of the ranking; the neighbours put more in the top N
(90-94 % against 77-88 % for the Platt-calibrated SVC) in a tenth of the time, and the
SVC took minutes on 10,000 images of 100 classes. ``bench/flywheel.py`` measures the
whole loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.model_selection import GroupKFold
from sklearn.neighbors import KNeighborsClassifier

from taxonomist.data.pixels import grey_ink, to_rgb
from taxonomist.taxonomy import Taxonomy


@dataclass(frozen=True)
class PixelNeighbours:
    """The out-of-fold model: ``neighbours`` nearest images, on ``size`` x ``size`` grey
    pixels, in ``folds`` folds dealt by set."""

    size: int = 8
    neighbours: int = 10
    folds: int = 5


@dataclass(frozen=True)
class OutOfFold:
    """Per image, what the model that never saw its label makes of it.

    Attributes:
        doubt: ``1 - P(label)``; NaN where there is no evidence (see the module's doc).
        likeliest: the leaf its neighbours vote for most ("" where there is no doubt).
    """

    doubt: np.ndarray
    likeliest: np.ndarray


def grey_features(images: Sequence[Image.Image], size: int) -> np.ndarray:
    """Decoded images -> (N, size * size) ink in [0, 1], as the SVC baseline reads its
    cache (:func:`taxonomist.evaluate.baselines.grey_pixels`), from upright RGB."""
    rows = [grey_ink(np.asarray(to_rgb(image)), size) for image in images]
    return np.stack(rows) if rows else np.zeros((0, size * size), np.float32)


def out_of_fold_doubt(features: np.ndarray, rows: pd.DataFrame, node: str,
                      taxonomy: Taxonomy, model: PixelNeighbours) -> OutOfFold:
    """Per row of ``rows`` (manifest rows: ``label``, ``set_id``), ``1 - P(label)`` and
    the likeliest leaf, from its neighbours in the other folds (see the module's doc).

    Args:
        features: :func:`grey_features` of ``rows``' images at ``model.size``, in order.
        node: the node whose leaves the neighbours vote for.

    Example:
        >>> model = PixelNeighbours(size=8)
        >>> scored = out_of_fold_doubt(grey_features(images, model.size), rows, "digit",
        ...                            digits, model)  # doctest: +SKIP
    """
    labels = rows["label"].to_numpy(dtype=object)
    scored = OutOfFold(np.full(len(rows), np.nan), np.full(len(rows), "", dtype=object))
    groups = rows["set_id"].astype(str).to_numpy()
    k = min(model.folds, len(set(groups)))
    if k < 2:
        return scored
    fitted_on = np.isin(labels, _leaves_under(node, taxonomy))
    for fit, score in GroupKFold(n_splits=k).split(features, groups=groups):
        fit = fit[fitted_on[fit]]
        voters = _fitted(features[fit], labels[fit], model.neighbours)
        if voters is not None:
            proba = voters.predict_proba(features[score])
            known = _with_enough_images(labels[fit], model.neighbours)
            doubt = _doubt(proba, voters.classes_, known, labels[score], taxonomy)
            judged = ~np.isnan(doubt)
            scored.doubt[score] = doubt
            scored.likeliest[score[judged]] = voters.classes_[proba[judged].argmax(axis=1)]
    return scored


def _leaves_under(node: str, taxonomy: Taxonomy) -> list[str]:
    return [leaf for leaf in taxonomy.leaves if node in taxonomy.path(leaf)[:-1]]


def _fitted(features: np.ndarray, labels: np.ndarray, neighbours: int
            ) -> KNeighborsClassifier | None:
    """The neighbours' vote; None with fewer than ``neighbours`` images to vote."""
    if len(labels) < neighbours:
        return None
    return KNeighborsClassifier(n_neighbors=neighbours).fit(features, labels)


def _with_enough_images(labels: np.ndarray, neighbours: int) -> set[str]:
    """The leaves with at least ``neighbours`` images: each could fill a whole vote."""
    names, counts = np.unique(labels, return_counts=True)
    return set(names[counts >= neighbours])


def _doubt(proba: np.ndarray, classes: np.ndarray, known: set[str], labels: np.ndarray,
           taxonomy: Taxonomy) -> np.ndarray:
    """``1 - P(label)``, an inner label's probability the sum of its leaves'; NaN for a
    label with a leaf not ``known`` (too few images to judge it by)."""
    column = {leaf: k for k, leaf in enumerate(classes)}
    doubt = np.full(len(labels), np.nan)
    for label in set(labels):
        leaves = [leaf for leaf in taxonomy.leaves if label in taxonomy.path(leaf)]
        if all(leaf in known for leaf in leaves):
            mine = labels == label
            doubt[mine] = 1.0 - proba[np.ix_(mine, [column[leaf] for leaf in leaves])].sum(1)
    return doubt
