"""The train@NODE stage: fit one node's classifier, track it in MLflow, register it."""

from __future__ import annotations

import warnings
from dataclasses import asdict
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from taxonomist.config import Config, Paths, resolve_tracking_uri
from taxonomist.config.schema import Balance, Head, Targets
from taxonomist.contracts.cache import load_node_split
from taxonomist.errors import DataError
from taxonomist.tracking.client import artifact_location
from taxonomist.tracking.logger import RETRY_ENV, BufferedMLFlowLogger, retry_window_s
from taxonomist.tracking.names import stage_tags, train_run_name
from taxonomist.tracking.runs import RunLog
from taxonomist.train.artifact import save_node_model
from taxonomist.train.augment import build_augmentation
from taxonomist.train.backbone import create_backbone
from taxonomist.train.checkpointing import (
    SPOOL_FILE,
    AtomicCheckpointIO,
    CheckpointWarning,
    StampedCheckpoint,
    checkpoint_dir,
    clear_checkpoints,
    resume_point,
    run_fingerprint,
)
from taxonomist.train.datamodule import NodeDataModule, NodeSplit, class_weights, node_split
from taxonomist.train.fit_classical import train_classical
from taxonomist.train.model import FineTargets, NodeSpec, attach_mlp_head
from taxonomist.train.module import NodeClassifier, optimizer_class
from taxonomist.train.publish import TrainResult, publish_node
from taxonomist.train.speed import tune_for_speed
from taxonomist.train.transfer import apply_plan, transfer_plan
from taxonomist.train.trial import Trial


def train_node(
    node: str, config: Config, paths: Paths, trial: Trial | None = None
) -> TrainResult:
    """Fit ``node``'s classifier on the cached train split, early-stopped on val.

    Writes ``models/<node>/`` (weights, spec, resolved definition, run.json), logs the
    run to MLflow and registers the weights as a version of ``<taxonomy>.<node>``. A sweep
    ``trial`` logs the same run (tagged), keeps its checkpoints in ``trial.folder`` and
    publishes nothing: its result has no registered model or version.
    """
    cfg = config.classifiers[node]
    source = paths.classifier_source(node, config.project.classifier_dir)
    if cfg.head.is_classical:
        return train_classical(node, config, paths, source, trial)
    pl.seed_everything(config.project.seed, workers=True)
    classes = list(config.taxonomy.children[node])
    fine = FineTargets.of(config.taxonomy, node) if cfg.targets is Targets.leaves else None
    outputs = len(fine.leaves) if fine else len(classes)
    plan = transfer_plan(cfg.backbone, source)
    model = create_backbone(cfg.backbone, outputs, source, paths)
    if cfg.head is Head.mlp:
        attach_mlp_head(model, outputs, cfg.mlp_hidden, cfg.dropout)
    trainable = apply_plan(model, plan)
    spec = NodeSpec.for_network(node, classes, cfg, model, fine)
    augment = build_augmentation(cfg.augment, source)
    optimizer_class(cfg.optim.name)  # fail now, not after the data is loaded
    train, val = (_node_data(paths, config, node, s, fine) for s in ("train", "val"))
    weighted = fine.labels if fine else classes  # what the loss weights are per
    weights = class_weights(train, len(weighted)) if cfg.balance is Balance.weights else None
    focal = cfg.focal_gamma if cfg.balance is Balance.focal else None
    module = NodeClassifier(model, spec, augment, cfg.optim, weights, plan, focal, fine)
    data = NodeDataModule(
        train, val, len(classes), cfg.batch_size, cfg.balance, config.project.trainer.num_workers
    )
    tune_for_speed(model, config.project.trainer)
    # Killed before? Go on from the last readable checkpoint of this same configuration.
    folder = trial.folder if trial else checkpoint_dir(paths, node)
    start = resume_point(folder, run_fingerprint(config, node, paths))
    logger = _logger(node, config, paths, folder, start.run_id, trial)
    logger.log_hyperparams(_run_params(cfg, train, val, trainable, weights, weighted))
    trainer, checkpoint = _trainer(folder, cfg, config, logger, start.fingerprint)
    trainer.fit(module, datamodule=data, ckpt_path=start.checkpoint)
    if trainer.global_rank > 0:  # `ddp` ran this whole command again for this rank
        score = float(checkpoint.best_model_score)
        return TrainResult(node, "", "", "", score, trainer.current_epoch)
    _load_best(module, checkpoint)
    logger.flush(hint=_unsent_hint(node))  # MLflow down since? fail here, weights kept
    result = _publish(node, config, paths, module, spec, logger, trainer, checkpoint, trial)
    clear_checkpoints(folder)
    return result


def _node_data(
    paths: Paths, config: Config, node: str, split: str, fine: FineTargets | None
) -> NodeSplit:
    data = node_split(load_node_split(paths, node, split), config.taxonomy, node, fine)
    if len(data) == 0:
        raise DataError(
            f"node '{node}': no {split} images carry a label under {config.taxonomy.children[node]}"
            f"; check the labels in {paths.manifest} and `taxonomist validate`"
        )
    return data


def _logger(
    node: str, config: Config, paths: Paths, folder: Path, run_id: str | None, trial: Trial | None
) -> BufferedMLFlowLogger:
    uri = resolve_tracking_uri(config.project.mlflow.tracking_uri, paths)
    return BufferedMLFlowLogger(
        run_id=run_id,
        spool=folder / SPOOL_FILE,
        ensure_experiment=RunLog.for_project(config.project.mlflow, paths).ensure_experiment,
        experiment_name=config.project.mlflow.experiment,
        tracking_uri=uri,
        artifact_location=artifact_location(config.project.mlflow, paths, uri),
        run_name=trial.name if trial else train_run_name(node),
        tags=stage_tags("train", node) | (trial.tags if trial else {}),
    )


def _run_params(cfg, train: NodeSplit, val: NodeSplit, trainable, weights, classes) -> dict:
    params = _flatten(asdict(cfg))
    params |= {"n_train": len(train), "n_val": len(val), "trainable_tensors": len(trainable)}
    if weights is not None:
        pairs = zip(classes, weights, strict=True)
        params |= {f"class_weight.{c}": round(float(w), 4) for c, w in pairs}
    return params


def _unsent_hint(node: str) -> str:
    return (
        "start the tracking server (or fix mlflow.tracking_uri / $MLFLOW_TRACKING_URI), then "
        f"rerun `taxonomist train {node}`: it resumes from checkpoints/{node}/ without "
        f"training again and sends them; set ${RETRY_ENV} to wait longer than "
        f"{retry_window_s():.0f} s"
    )


def _trainer(
    folder: Path, cfg, config, logger, fingerprint: str
) -> tuple[pl.Trainer, ModelCheckpoint]:
    checkpoint = StampedCheckpoint(fingerprint, dirpath=folder, monitor="val_loss", save_last=True)
    trainer_cfg = config.project.trainer
    trainer = pl.Trainer(
        max_epochs=cfg.epochs,
        accelerator=trainer_cfg.accelerator,
        devices=trainer_cfg.devices,
        strategy=trainer_cfg.strategy,
        num_nodes=trainer_cfg.num_nodes,
        precision=trainer_cfg.precision,
        deterministic=trainer_cfg.deterministic,
        logger=logger,
        callbacks=[EarlyStopping(monitor="val_loss", patience=cfg.patience), checkpoint],
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=1,
        enable_model_summary=False,
    )
    return trainer, checkpoint


def _load_best(module: NodeClassifier, checkpoint: ModelCheckpoint) -> None:
    if not Path(checkpoint.best_model_path).is_file():  # set aside as unreadable on resume
        warnings.warn(f"best checkpoint {checkpoint.best_model_path} is gone; publishing "
                      "the weights of the last epoch", CheckpointWarning, stacklevel=2)
        return
    state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])


def _publish(node, config, paths, module, spec, logger, trainer, checkpoint, trial) -> TrainResult:
    return publish_node(
        node, config, paths, logger.run_id,
        lambda folder: save_node_model(module.model, spec, folder),
        float(checkpoint.best_model_score), trainer.current_epoch, trial,
    )


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value.value if hasattr(value, "value") else value
    return flat
