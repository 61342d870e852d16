"""The train@NODE stage for a classical head: embed once, fit scikit-learn, publish.

The backbone is frozen, so there is nothing to early-stop: one pass over train and val
gives the embeddings (cached, see :func:`~.classical.cached_embeddings`), the estimator
is fitted on train and scored on val, and the result is published like a network.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
from sklearn.metrics import accuracy_score, log_loss

from taxonomist.config import Config, Paths
from taxonomist.config.schema import ClassifierConfig
from taxonomist.contracts.cache import load_node_split, node_cache
from taxonomist.tracking.names import stage_tags
from taxonomist.tracking.runs import RunLog
from taxonomist.train.artifact import save_node_model
from taxonomist.train.backbone import create_backbone
from taxonomist.train.classical import ClassicalNode, cached_embeddings, estimator_for
from taxonomist.train.datamodule import node_split
from taxonomist.train.model import NodeSpec
from taxonomist.train.publish import TrainResult, publish_node
from taxonomist.train.trial import Trial


def train_classical(
    node: str, config: Config, paths: Paths, source: str, trial: Trial | None = None
) -> TrainResult:
    """Embed the node's train/val images once, fit the estimator, publish like a network
    (a sweep ``trial`` is logged, tagged, and not published)."""
    cfg = config.classifiers[node]
    classes = list(config.taxonomy.children[node])
    backbone = create_backbone(cfg.backbone, 0, source).eval()
    spec = NodeSpec.for_network(node, classes, cfg, backbone)
    splits = {
        s: node_split(load_node_split(paths, node, s), config.taxonomy, node)
        for s in ("train", "val")
    }
    fingerprint = _fingerprint(cfg, config.project.seed, paths, node)
    features = {
        s: cached_embeddings(backbone, spec, data, paths.root / "checkpoints" / node, fingerprint)
        for s, data in splits.items()
    }
    estimator = estimator_for(cfg, config.project.seed).fit(
        features["train"], splits["train"].targets
    )
    model = ClassicalNode(backbone, estimator, len(classes))
    val_loss, val_acc = _score(model, features["val"], splits["val"].targets)
    runs = RunLog.for_project(config.project.mlflow, paths)
    run_id = runs.start(
        trial.name if trial else f"train {node}",
        stage_tags("train", node) | (trial.tags if trial else {}),
    )
    runs.log(
        run_id,
        params=_run_params(cfg, len(splits["train"])),
        metrics={"val_loss": val_loss, "val_acc": val_acc},
    )
    result = publish_node(
        node, config, paths, run_id,
        lambda folder: save_node_model(model, spec, folder), val_loss, 1, trial,
    )
    runs.finish(run_id)
    return result


def _fingerprint(cfg: ClassifierConfig, seed: int, paths: Paths, node: str) -> str:
    """What the embeddings depend on: the backbone, its seed, the size, the node's cache."""
    files = sorted(node_cache(paths, node).glob("*"))
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return json.dumps([asdict(cfg.backbone), seed, cfg.image_size, stats], default=str)


def _score(model: ClassicalNode, features: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Validation log-loss and accuracy; a class the estimator never saw gets probability 0."""
    proba = np.zeros((len(features), model.num_classes))
    proba[:, model.estimator.classes_] = model.estimator.predict_proba(features)
    loss = log_loss(targets, proba, labels=list(range(model.num_classes)))
    return float(loss), float(accuracy_score(targets, proba.argmax(1)))


def _run_params(cfg: ClassifierConfig, n_train: int) -> dict[str, str]:
    return {
        "head": str(cfg.head),
        "backbone.name": cfg.backbone.name,
        "pca": str(cfg.pca),
        "neighbors": str(cfg.neighbors),
        "n_train": str(n_train),
    }
