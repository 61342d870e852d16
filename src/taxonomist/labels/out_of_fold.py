"""Out-of-fold doubt: how unlikely each image's label is to a model that never saw it.

The live stack cannot testify against the labels it was trained on: a network that fits
its train split has memorised them, mistakes included, and a head fitted out of fold on
that network's embeddings still carries what the network memorised. So the evidence
here comes from a model that never met the stack: the project's classical baseline
(scikit-learn's ``SVC`` on grey pixels, ``baseline.svc`` in ``conf/baseline/``), fitted
K times. The images under a node are dealt into K folds **by set** (``set_id``, so no
other view of an image is fitted with its label), and each fold is scored by an SVC
fitted on the other K - 1 folds, its probabilities calibrated by Platt scaling. Every
image, whatever its split, gets the same kind of score:

    doubt = 1 - P(the image's label)

where the probability of an inner class is the sum of its leaves'. An image with a leaf
the other folds hold too few images of (:data:`MIN_PER_CLASS`) gets none (NaN): no
evidence either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GroupKFold
from sklearn.svm import SVC

from taxonomist.config.schema import SvcBaselineConfig
from taxonomist.taxonomy import Taxonomy

FOLDS = 5
MIN_PER_CLASS = 3  # Platt scaling is fitted on 3 internal folds: a leaf needs one in each


@dataclass(frozen=True)
class OutOfFold:
    """Per image, what the model that never saw its label makes of it.

    Attributes:
        doubt: ``1 - P(label)``; NaN where there is no evidence (see the module's doc).
        likeliest: the leaf it finds likeliest ("" where it scored nothing).
    """

    doubt: np.ndarray
    likeliest: np.ndarray


def grey_features(images: Sequence[Image.Image], size: int) -> np.ndarray:
    """Decoded images -> (N, size * size) ink in [0, 1], as the SVC baseline sees them
    (:func:`taxonomist.evaluate.baselines.grey_pixels`: grey, box-averaged, inverted)."""
    rows = [1.0 - np.asarray(image.convert("L").resize((size, size), Image.Resampling.BOX),
                             dtype=np.float32).ravel() / 255.0 for image in images]
    return np.stack(rows) if rows else np.zeros((0, size * size), np.float32)


def out_of_fold_doubt(features: np.ndarray, rows: pd.DataFrame, node: str,
                      taxonomy: Taxonomy, svc: SvcBaselineConfig, folds: int = FOLDS
                      ) -> OutOfFold:
    """Per row of ``rows`` (manifest rows: ``label``, ``set_id``), ``1 - P(label)`` and
    the likeliest leaf, from an SVC fitted on the other folds (see the module's doc).

    Args:
        features: :func:`grey_features` of ``rows``' images, in their order.
        node: the node whose leaves the SVC tells apart.

    Example:
        >>> doubt = out_of_fold_doubt(grey_features(images, 8), rows, "digit", digits,
        ...                           SvcBaselineConfig())  # doctest: +SKIP
    """
    labels = rows["label"].to_numpy(dtype=object)
    scored = OutOfFold(np.full(len(rows), np.nan), np.full(len(rows), "", dtype=object))
    groups = rows["set_id"].astype(str).to_numpy()
    k = min(folds, len(set(groups)))
    if k < 2:
        return scored
    fitted_on = np.isin(labels, _leaves_under(node, taxonomy))
    for fit, score in GroupKFold(n_splits=k).split(features, groups=groups):
        fit = fit[fitted_on[fit]]
        model = _fitted_svc(features[fit], labels[fit], svc)
        if model is not None:
            proba = model.predict_proba(features[score])
            scored.doubt[score] = _doubt(proba, model.classes_, labels[score], taxonomy)
            scored.likeliest[score] = model.classes_[proba.argmax(axis=1)]
    return scored


def _leaves_under(node: str, taxonomy: Taxonomy) -> list[str]:
    return [leaf for leaf in taxonomy.leaves if node in taxonomy.path(leaf)[:-1]]


def _fitted_svc(features: np.ndarray, labels: np.ndarray, svc: SvcBaselineConfig
                ) -> CalibratedClassifierCV | None:
    """An SVC on the leaves with at least :data:`MIN_PER_CLASS` images; None for fewer
    than two such leaves (nothing to tell apart)."""
    names, counts = np.unique(labels, return_counts=True)
    kept = np.isin(labels, names[counts >= MIN_PER_CLASS])
    if (counts >= MIN_PER_CLASS).sum() < 2:
        return None
    gamma = "scale" if svc.gamma is None else svc.gamma
    model = CalibratedClassifierCV(SVC(C=svc.C, gamma=gamma), cv=MIN_PER_CLASS,
                                   ensemble=False)
    return model.fit(features[kept], labels[kept])


def _doubt(proba: np.ndarray, classes: np.ndarray, labels: np.ndarray, taxonomy: Taxonomy
           ) -> np.ndarray:
    """``1 - P(label)``, an inner label's probability the sum of its leaves'; NaN for a
    label with a leaf the model was not fitted on (its probability is unknown)."""
    column = {leaf: k for k, leaf in enumerate(classes)}
    doubt = np.full(len(labels), np.nan)
    for label in set(labels):
        leaves = [leaf for leaf in taxonomy.leaves if label in taxonomy.path(leaf)]
        if all(leaf in column for leaf in leaves):
            mine = labels == label
            doubt[mine] = 1.0 - proba[np.ix_(mine, [column[leaf] for leaf in leaves])].sum(1)
    return doubt
