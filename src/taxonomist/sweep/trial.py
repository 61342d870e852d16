"""One trial of a sweep: the node's definition with this trial's values, trained once."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from taxonomist.config import ClassifierConfig, Config, Paths
from taxonomist.errors import ConfigError, TaxonomistError
from taxonomist.tracking.names import (
    PARENT_RUN_TAG,
    SWEEP_VALUES_TAG,
    stage_tags,
    trial_run_name,
)
from taxonomist.tracking.runs import RunLog
from taxonomist.train.fit import train_node
from taxonomist.train.trial import Trial

PARENT_RUN_ENV = "TAXONOMIST_SWEEP_PARENT_RUN_ID"  # set by the callback, read by each trial
RESULT_FILE = "result.json"  # in the trial's Hydra output folder


class SweepError(TaxonomistError):
    """A sweep cannot go on (its tracking is broken, say)."""


class Objective(StrEnum):
    """What ranks the trials: the best epoch's value of a validation metric."""

    val_loss = "val_loss"
    val_acc = "val_acc"

    @property
    def direction(self) -> str:
        return "minimize" if self is Objective.val_loss else "maximize"

    @property
    def metric(self) -> str:
        """The child run's metric holding the trial's score."""
        return f"best_{self.value}"

    def better(self, a: float, b: float) -> bool:
        return a < b if self is Objective.val_loss else a > b


@dataclass(frozen=True)
class TrialTask:
    """The Hydra task function of ``taxonomist sweep``.

    Hydra calls it once per trial with the composed trial config: the node's classifier
    definition with this trial's values. It is a plain picklable object, not a closure,
    so launchers that run trials in other processes (submitit, joblib) can ship it.

    Args:
        node: the inner node whose classifier is swept.
        config: the project's validated configuration; the trial replaces the node's
            classifier definition in it.
        root: the project root (cache, conf/, MLflow store).
        objective: the score returned to the sweeper (Optuna reads it).
    """

    node: str
    config: Config
    root: Path
    objective: Objective

    def __call__(self, cfg: DictConfig) -> float:
        hydra = HydraConfig.get()
        _check_direction(hydra.sweeper.get("direction"), self.objective)
        parent = _parent_run_id()
        classifier = trial_classifier(cfg, list(hydra.overrides.task))
        classifiers = {**self.config.classifiers, self.node: classifier}
        config = replace(self.config, classifiers=classifiers)
        _refuse_relaunching_ddp(config)
        out = Path(hydra.runtime.output_dir)
        keys = [o.split("=", 1)[0] for o in hydra.overrides.task if not o.startswith("hydra")]
        values = swept_values(classifier, keys)
        trial = Trial(
            folder=out / "checkpoints",
            name=trial_run_name(self.node, hydra.job.num),
            tags=stage_tags("sweep") | {PARENT_RUN_TAG: parent,
                                        SWEEP_VALUES_TAG: json.dumps(values)},
        )
        result = train_node(self.node, config, Paths(self.root), trial)
        if not result.run_id:  # another DDP rank of a multi-task job: rank 0 reports
            return math.nan
        scores = self._log_scores(config, result.run_id, result.best_val_loss)
        (out / RESULT_FILE).write_text(
            json.dumps({"run_id": result.run_id, "values": values, **scores}, indent=2)
        )
        return scores[self.objective.metric]

    def _log_scores(self, config: Config, run_id: str, best_val_loss: float) -> dict[str, float]:
        runs = RunLog.for_project(config.project.mlflow, Paths(self.root))
        accuracy = runs.metric_values(run_id, "val_acc")
        scores = {"best_val_loss": best_val_loss, "best_val_acc": max(accuracy, default=math.nan)}
        runs.log(run_id, metrics=scores)
        return scores


def trial_classifier(cfg: DictConfig, overrides: list[str]) -> ClassifierConfig:
    """The trial's composed config, validated into a classifier definition."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ClassifierConfig), cfg))
    except OmegaConfBaseException as err:
        raise ConfigError(
            f"sweep trial {' '.join(overrides)}", err.full_key or "", err.msg.splitlines()[0]
        ) from None


def swept_values(classifier: ClassifierConfig, keys: list[str]) -> dict[str, Any]:
    """The typed values of ``keys`` (dotted) in ``classifier``, as plain JSON-able data."""
    plain = OmegaConf.create(
        OmegaConf.to_container(OmegaConf.structured(classifier), enum_to_str=True)
    )
    values = {}
    for key in keys:
        value = OmegaConf.select(plain, key)
        is_container = OmegaConf.is_config(value)
        values[key] = OmegaConf.to_container(value) if is_container else value
    return values


def _parent_run_id() -> str:
    parent = os.environ.get(PARENT_RUN_ENV)
    if not parent:  # Hydra only warns when a callback fails: stop before training
        raise SweepError(
            f"no MLflow parent run for this trial (${PARENT_RUN_ENV} is not set): "
            "creating it failed, see the warning from ParentRun.on_multirun_start above"
        )
    return parent


def _check_direction(direction: Any, objective: Objective) -> None:
    """Optuna's direction must agree with the score the trials return."""
    if direction is None:  # the basic sweeper tries every combination: no direction
        return
    listed = list(direction) if OmegaConf.is_list(direction) else [direction]
    directions = [str(d).split(".")[-1].lower() for d in listed]  # Direction.maximize, ...
    if directions != [objective.direction]:
        raise ConfigError(
            "conf/sweep.yaml", "hydra.sweeper.direction",
            f"the sweeper goes for {directions} but the trials are scored by "
            f"{objective.value}, which needs {objective.direction}",
            f"set hydra.sweeper.direction={objective.direction}, or choose another --metric",
        )


def _refuse_relaunching_ddp(config: Config) -> None:
    """``ddp`` starts each other rank by running the command again — here, the sweep."""
    strategy = config.project.trainer.strategy
    launched_per_rank = int(os.environ.get("SLURM_NTASKS", "1")) > 1  # srun started each rank
    if strategy.startswith("ddp") and not launched_per_rank:
        raise ConfigError(
            "trainer", "strategy",
            f"'{strategy}' cannot run inside a sweep trial: it would start the whole sweep "
            "again for each rank (ddp) or lose the trial's result in a child process "
            "(ddp_spawn)",
            "train each trial on one device (the default), or on SLURM give each trial "
            "several tasks: hydra/launcher=submitit_slurm hydra.launcher.tasks_per_node=N "
            "hydra.launcher.gpus_per_node=N --with trainer=ddp --with trainer.devices=N",
        )
