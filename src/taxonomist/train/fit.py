"""The train@NODE stage: fit one node's classifier, track it in MLflow, register it."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import MLFlowLogger

from taxonomist.cached import load_split
from taxonomist.config import Config, Paths, resolve_tracking_uri
from taxonomist.config.schema import Balance, ClassifierConfig
from taxonomist.errors import DataError
from taxonomist.tracking import artifact_location
from taxonomist.train.augment import build_augmentation
from taxonomist.train.classical import CLASSICAL, train_classical
from taxonomist.train.datamodule import NodeDataModule, NodeSplit, class_weights, node_split
from taxonomist.train.model import NodeSpec, create_backbone, freeze, save_node_model
from taxonomist.train.module import NodeClassifier, optimizer_class
from taxonomist.train.publish import TrainResult, publish_node


def classifier_source(config_dir: Path, node: str) -> str:
    """The file to name in a node's config errors: its own YAML, else the defaults."""
    own = config_dir / "classifiers" / f"{node}.yaml"
    return f"conf/classifiers/{own.name if own.exists() else '_default.yaml'}"


def train_node(node: str, config: Config, paths: Paths) -> TrainResult:
    """Fit ``node``'s classifier on the cached train split, early-stopped on val.

    Writes ``models/<node>/`` (weights, spec, resolved definition, run.json), logs the
    run to MLflow and registers the weights as a version of ``<taxonomy>.<node>``.
    """
    cfg = config.classifiers[node]
    source = classifier_source(paths.conf, node)
    if cfg.head in CLASSICAL:
        return train_classical(node, config, paths, source)
    pl.seed_everything(config.project.seed, workers=True)
    classes = list(config.taxonomy.children[node])
    model = create_backbone(cfg.backbone, len(classes), source)
    trainable = freeze(model, cfg.backbone.unfreeze_last)
    spec = _spec(node, classes, cfg, model)
    augment = build_augmentation(cfg.augment, source)
    optimizer_class(cfg.optim.name)  # fail now, not after the data is loaded
    train, val = (_node_data(paths, config, node, s) for s in ("train", "val"))
    weights = class_weights(train, len(classes)) if cfg.balance is Balance.weights else None
    module = NodeClassifier(model, spec, augment, cfg.optim, weights)
    data = NodeDataModule(
        train, val, len(classes), cfg.batch_size, cfg.balance, config.project.trainer.num_workers
    )
    logger = _logger(node, config, paths)
    logger.log_hyperparams(_run_params(cfg, train, val, trainable, weights, classes))
    trainer, checkpoint = _trainer(node, cfg, config, paths, logger)
    trainer.fit(module, datamodule=data)
    _load_best(module, checkpoint)
    return _publish(node, config, paths, module, spec, cfg, logger, trainer, checkpoint)


def _spec(node: str, classes: list[str], cfg: ClassifierConfig, model) -> NodeSpec:
    pretrained = model.pretrained_cfg
    return NodeSpec(
        node=node,
        classes=classes,
        backbone=cfg.backbone.name,
        image_size=cfg.image_size,
        mean=list(pretrained.get("mean", (0.485, 0.456, 0.406))),
        std=list(pretrained.get("std", (0.229, 0.224, 0.225))),
        threshold=cfg.threshold,
    )


def _node_data(paths: Paths, config: Config, node: str, split: str) -> NodeSplit:
    data = node_split(load_split(paths, split), config.taxonomy, node)
    if len(data) == 0:
        raise DataError(
            f"node '{node}': no {split} images carry a label under {config.taxonomy.children[node]}"
            f"; check the labels in {paths.manifest} and `taxonomist validate`"
        )
    return data


def _logger(node: str, config: Config, paths: Paths) -> MLFlowLogger:
    uri = resolve_tracking_uri(config.project.mlflow.tracking_uri, paths)
    return MLFlowLogger(
        experiment_name=config.project.mlflow.experiment,
        tracking_uri=uri,
        artifact_location=artifact_location(config.project.mlflow, paths, uri),
        run_name=f"train {node}",
        tags={"taxonomist.stage": "train", "taxonomist.node": node},
    )


def _run_params(cfg, train: NodeSplit, val: NodeSplit, trainable, weights, classes) -> dict:
    params = _flatten(asdict(cfg))
    params |= {"n_train": len(train), "n_val": len(val), "trainable_tensors": len(trainable)}
    if weights is not None:
        pairs = zip(classes, weights, strict=True)
        params |= {f"class_weight.{c}": round(float(w), 4) for c, w in pairs}
    return params


def _trainer(node, cfg, config, paths, logger) -> tuple[pl.Trainer, ModelCheckpoint]:
    checkpoints = paths.root / "checkpoints" / node
    shutil.rmtree(checkpoints, ignore_errors=True)  # a fresh run: no stale "best"
    checkpoint = ModelCheckpoint(dirpath=checkpoints, monitor="val_loss", save_last=True)
    trainer_cfg = config.project.trainer
    trainer = pl.Trainer(
        max_epochs=cfg.epochs,
        accelerator=trainer_cfg.accelerator,
        devices=trainer_cfg.devices,
        precision=trainer_cfg.precision,
        deterministic=trainer_cfg.deterministic,
        logger=logger,
        callbacks=[EarlyStopping(monitor="val_loss", patience=cfg.patience), checkpoint],
        log_every_n_steps=1,
        enable_model_summary=False,
    )
    return trainer, checkpoint


def _load_best(module: NodeClassifier, checkpoint: ModelCheckpoint) -> None:
    state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])


def _publish(node, config, paths, module, spec, cfg, logger, trainer, checkpoint) -> TrainResult:
    return publish_node(
        node, config, paths, logger.run_id,
        lambda folder: save_node_model(module.model, spec, folder),
        float(checkpoint.best_model_score), trainer.current_epoch,
    )


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value.value if hasattr(value, "value") else value
    return flat
