"""Old-school heads: scikit-learn on embeddings of a frozen backbone, extracted once.

The talk's advice for little data: reduce the dimensionality, then KNN, an SVM or a
logistic regression. The result is saved, registered, evaluated and stacked exactly like
a neural head: :class:`ClassicalNode` is a module whose outputs are log-probabilities.
Fitting one is :mod:`~.fit_classical`; its folder format is :mod:`~.artifact`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from torch import nn

from taxonomist.config.schema import Balance, ClassifierConfig, Head
from taxonomist.train.datamodule import NodeSplit
from taxonomist.train.model import NodeSpec, normalize, to_input


class ClassicalNode(nn.Module):
    """Frozen backbone + fitted scikit-learn pipeline; returns log-probabilities."""

    def __init__(self, backbone: nn.Module, estimator: Pipeline, num_classes: int) -> None:
        super().__init__()
        self.backbone, self.estimator, self.num_classes = backbone, estimator, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features = self.backbone(x).float().cpu().numpy()
        proba = np.zeros((len(features), self.num_classes))
        # a class missing from the training data has no column: it gets probability 0
        proba[:, self.estimator.classes_] = self.estimator.predict_proba(features)
        return torch.log(torch.from_numpy(proba).clamp_min(1e-9)).float()


def estimator_for(cfg: ClassifierConfig, seed: int) -> Pipeline:
    """StandardScaler -> optional PCA(cfg.pca) -> the configured classifier."""
    balanced = "balanced" if cfg.balance is not Balance.none else None
    final = {
        Head.knn: lambda: KNeighborsClassifier(n_neighbors=cfg.neighbors),
        Head.svm: lambda: CalibratedClassifierCV(
            SVC(class_weight=balanced, random_state=seed), ensemble=False
        ),
        Head.logreg: lambda: LogisticRegression(max_iter=2000, class_weight=balanced),
    }[cfg.head]()
    reduce = [PCA(n_components=cfg.pca, random_state=seed)] if cfg.pca else []
    return make_pipeline(StandardScaler(), *reduce, final)


def cached_embeddings(
    backbone: nn.Module, spec: NodeSpec, data: NodeSplit, folder: Path, fingerprint: str
) -> np.ndarray:
    """Pooled features of ``data``, computed once per backbone, cache and image selection,
    so trying another estimator or PCA size does not run the network again."""
    key = hashlib.sha256(f"{fingerprint}{data.rows.tolist()}".encode()).hexdigest()[:16]
    path = folder / f"embeddings-{key}.npy"
    if path.exists():
        return np.load(path)
    folder.mkdir(parents=True, exist_ok=True)
    features = embed(backbone, spec, np.asarray(data.images[data.rows]))
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # sweep trials share the cache:
    with open(temp, "wb") as file:  # a reader sees the whole file or none
        np.save(file, features)
    os.replace(temp, path)
    return features


@torch.inference_mode()
def embed(backbone: Callable[[torch.Tensor], torch.Tensor], spec: NodeSpec, images: np.ndarray,
          batch: int = 256) -> np.ndarray:
    """The backbone's pooled features of uint8 ``images`` (N, H, W, 3), ``batch`` at a time."""
    chunks = [
        backbone(
            normalize(to_input(torch.from_numpy(images[i : i + batch]), spec.image_size), spec)
        )
        for i in range(0, len(images), batch)
    ]
    return torch.cat(chunks).float().numpy()
