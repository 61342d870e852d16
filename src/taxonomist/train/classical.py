"""Old-school heads: scikit-learn on embeddings of a frozen backbone, extracted once.

The talk's advice for little data: reduce the dimensionality, then KNN, an SVM or a
logistic regression. The result is saved, registered, evaluated and stacked exactly like
a neural head: ``load_classical`` gives a module whose output are log-probabilities.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import skops.io as sio
import torch
from mlflow.entities import Metric, Param
from safetensors.torch import load_file, save_file
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from torch import nn

from taxonomist.cached import load_split
from taxonomist.config import Config, Paths
from taxonomist.config.schema import Balance, ClassifierConfig, Head
from taxonomist.errors import DataError
from taxonomist.tracking import client_for, ensure_experiment
from taxonomist.train.datamodule import NodeSplit, node_split
from taxonomist.train.model import WEIGHTS_FILE, NodeSpec, create_backbone, normalize, to_input
from taxonomist.train.publish import TrainResult, publish_node
from taxonomist.train.trial import Trial

CLASSICAL = {Head.knn, Head.svm, Head.logreg}
HEAD_FILE = "head.skops"


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


def train_classical(
    node: str, config: Config, paths: Paths, source: str, trial: Trial | None = None
) -> TrainResult:
    """Embed the node's train/val images once, fit the estimator, publish like a network
    (a sweep ``trial`` is logged, tagged, and not published)."""
    cfg = config.classifiers[node]
    classes = list(config.taxonomy.children[node])
    backbone = create_backbone(cfg.backbone, 0, source).eval()
    spec = NodeSpec(
        node,
        classes,
        cfg.backbone.name,
        cfg.image_size,
        list(backbone.pretrained_cfg.get("mean", (0.485, 0.456, 0.406))),
        list(backbone.pretrained_cfg.get("std", (0.229, 0.224, 0.225))),
        cfg.threshold,
        head=str(cfg.head),
    )
    splits = {s: node_split(load_split(paths, s), config.taxonomy, node) for s in ("train", "val")}
    fingerprint = _fingerprint(cfg, config.project.seed, paths)
    features = {
        s: cached_embeddings(backbone, spec, data, paths.root / "checkpoints" / node, fingerprint)
        for s, data in splits.items()
    }
    estimator = estimator_for(cfg, config.project.seed).fit(
        features["train"], splits["train"].targets
    )
    model = ClassicalNode(backbone, estimator, len(classes))
    val_loss, val_acc = _score(model, features["val"], splits["val"].targets)
    run_id = _log_run(node, config, paths, cfg, val_loss, val_acc, len(splits["train"]), trial)

    def write(folder: Path) -> None:
        save_file(
            {k: v.contiguous() for k, v in backbone.state_dict().items()}, folder / WEIGHTS_FILE
        )
        sio.dump(estimator, folder / HEAD_FILE)
        spec.save(folder)

    result = publish_node(node, config, paths, run_id, write, val_loss, 1, trial)
    client_for(config.project.mlflow, paths).set_terminated(run_id)
    return result


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


def _fingerprint(cfg: ClassifierConfig, seed: int, paths: Paths) -> str:
    """What the embeddings depend on: the backbone, its seed, the size, the cache files."""
    stats = [
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(paths.cache.glob("*"))
    ]
    return json.dumps([asdict(cfg.backbone), seed, cfg.image_size, stats], default=str)


@torch.inference_mode()
def embed(backbone: nn.Module, spec: NodeSpec, images: np.ndarray, batch: int = 256) -> np.ndarray:
    chunks = [
        backbone(
            normalize(to_input(torch.from_numpy(images[i : i + batch]), spec.image_size), spec)
        )
        for i in range(0, len(images), batch)
    ]
    return torch.cat(chunks).float().numpy()


def load_classical(folder: Path, spec: NodeSpec) -> ClassicalNode:
    """Rebuild a classical node; the estimator loads with skops, never with pickle."""
    import timm

    backbone = timm.create_model(spec.backbone, pretrained=False, num_classes=0)
    backbone.load_state_dict(load_file(folder / WEIGHTS_FILE))
    untrusted = sio.get_untrusted_types(file=folder / HEAD_FILE)
    unexpected = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
    if unexpected:
        raise DataError(f"{folder / HEAD_FILE}: refusing to load unexpected types {unexpected}")
    estimator = sio.load(folder / HEAD_FILE, trusted=untrusted)
    return ClassicalNode(backbone.eval(), estimator, len(spec.classes))


def _score(model: ClassicalNode, features: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    proba = np.zeros((len(features), model.num_classes))
    proba[:, model.estimator.classes_] = model.estimator.predict_proba(features)
    loss = log_loss(targets, proba, labels=list(range(model.num_classes)))
    return float(loss), float(accuracy_score(targets, proba.argmax(1)))


def _log_run(node, config, paths, cfg, val_loss, val_acc, n_train, trial) -> str:
    client = client_for(config.project.mlflow, paths)
    experiment = ensure_experiment(client, config.project.mlflow, paths)
    run = client.create_run(
        experiment,
        run_name=trial.name if trial else f"train {node}",
        tags={"taxonomist.stage": "train", "taxonomist.node": node} | (trial.tags if trial else {}),
    )
    params = {
        "head": str(cfg.head),
        "backbone.name": cfg.backbone.name,
        "pca": str(cfg.pca),
        "neighbors": str(cfg.neighbors),
        "n_train": str(n_train),
    }
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("val_loss", val_loss, 0, 0), Metric("val_acc", val_acc, 0, 0)],
        params=[Param(k, v) for k, v in params.items()],
    )
    return run.info.run_id
