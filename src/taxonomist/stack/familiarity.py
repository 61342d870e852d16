"""Images unlike anything the root was trained on, refused before the walk.

A network answers every image, noise included, and often confidently: softmax
probabilities say which class an image is most like, not whether it is like any. The
stack therefore also asks how far an image's features are from the root's training
images: the Mahalanobis distance of the root network's pre-logit features to the nearest
class mean, with one covariance shared by the classes (Lee et al., "A Simple Unified
Framework for Detecting Out-of-Distribution Samples and Adversarial Attacks", NeurIPS
2018). The means and the covariance are fitted on the root's train images (scikit-learn's
Ledoit-Wolf shrinkage: 512 features from a few thousand images), the limit is a quantile
of the val images' distances (``stopping.unfamiliar_quantile``), so about ``1 - q`` of
images like the training ones are refused, and what lies beyond every val image is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.covariance import LedoitWolf
from torch import nn

from taxonomist.train.classical import ClassicalNode, embed
from taxonomist.train.model import ChildrenFromLeaves, NodeSpec

FAMILIARITY_FILE = "familiarity.npz"


@dataclass(frozen=True)
class Familiarity:
    """What the stack keeps to measure how unlike the training images an image is.

    Attributes:
        means: (classes, features) the root's class means on its train images.
        precision: (features, features) the inverse of their shared covariance.
        limit: the distance beyond which an image is refused.
        quantile: the share of val images within ``limit`` it was chosen for.
    """

    means: np.ndarray
    precision: np.ndarray
    limit: float
    quantile: float

    def distances(self, features: np.ndarray) -> np.ndarray:
        """(N,) each row's squared Mahalanobis distance to its nearest class mean."""
        offsets = features[:, None, :] - self.means[None, :, :]  # (N, classes, features)
        return np.einsum("nkf,fg,nkg->nk", offsets, self.precision, offsets).min(axis=1)

    def refuses(self, features: np.ndarray) -> np.ndarray:
        return self.distances(features) > self.limit

    def save(self, folder: Path) -> None:
        np.savez(folder / FAMILIARITY_FILE, means=self.means, precision=self.precision,
                 limit=self.limit, quantile=self.quantile)

    @classmethod
    def load(cls, folder: Path) -> Familiarity | None:
        """The saved familiarity, or None for a stack saved without one."""
        file = folder / FAMILIARITY_FILE
        if not file.is_file():
            return None
        with np.load(file, allow_pickle=False) as saved:
            return cls(saved["means"], saved["precision"], float(saved["limit"]),
                       float(saved["quantile"]))


def fit_familiarity(train: np.ndarray, classes: np.ndarray, val: np.ndarray,
                    quantile: float) -> Familiarity:
    """Class means and a shared covariance from ``train`` features (N, F) of the class
    indices ``classes``; the limit the ``quantile`` of ``val``'s distances."""
    labels = np.unique(classes)
    means = np.stack([train[classes == k].mean(axis=0) for k in labels])
    offsets = train - means[np.searchsorted(labels, classes)]
    precision = LedoitWolf(assume_centered=True).fit(offsets).precision_
    unfitted = Familiarity(means, precision, np.inf, quantile)
    return Familiarity(means, precision, float(np.quantile(unfitted.distances(val), quantile)),
                       quantile)


def pre_logits(model: nn.Module, spec: NodeSpec, images: np.ndarray) -> np.ndarray:
    """(N, F) the features a node's head reads: a timm network's pooled pre-logits, or a
    classical head's backbone embedding."""
    network = model.network if isinstance(model, ChildrenFromLeaves) else model
    network.eval()
    if isinstance(network, ClassicalNode):
        return embed(network.backbone, spec, images)
    return embed(lambda x: network.forward_head(network.forward_features(x), pre_logits=True),
                 spec, images)
