"""The MLflow parent run of a sweep, made by a Hydra callback in the launcher process.

MLflow's ``nested=True`` works only inside one process, and trials may run in others
(joblib workers, submitit jobs, SLURM nodes). So the parent run is created once, in
``on_multirun_start``, and its id travels to every trial in an environment variable,
which each trial turns into the ``mlflow.parentRunId`` tag of its own run.
"""

from __future__ import annotations

import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from taxonomist.sweep.trial import PARENT_RUN_ENV, Objective
from taxonomist.tracking.names import (
    SWEEP_DIR_TAG,
    SWEEP_LAUNCHER_TAG,
    SWEEP_OBJECTIVE_TAG,
    SWEEP_SWEEPER_TAG,
    stage_tags,
    sweep_run_name,
)
from taxonomist.tracking.runs import RunLog


class ParentRun(Callback):
    """Creates the sweep's parent run and ends it when the sweep ends.

    Args:
        node: the swept node, for the run's name and tags.
        tracking_uri: the MLflow tracking URI the trials log to.
        experiment: their experiment, created here if it does not exist yet.
        artifact_location: for a new experiment (local stores); None lets a server decide.
        objective: ``val_loss`` or ``val_acc``, recorded as a tag.
    """

    def __init__(
        self,
        node: str,
        tracking_uri: str,
        experiment: str,
        artifact_location: str | None,
        objective: str,
    ) -> None:
        self.node, self.objective = node, Objective(objective)
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self.artifact_location = artifact_location

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Hydra turns a callback's exception into a warning and goes on; the trials then
        # find no parent id in the environment and stop before training.
        runs = self._runs()
        tags = _parent_tags(config, self.node, self.objective)
        run_id = runs.start(sweep_run_name(self.node), tags)
        task = [o for o in config.hydra.overrides.task if "=" in o]
        runs.log(run_id, params={k: v[:6000] for k, v in (o.split("=", 1) for o in task)})
        os.environ[PARENT_RUN_ENV] = run_id

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        run_id = os.environ.get(PARENT_RUN_ENV)
        if run_id:
            self._runs().finish(run_id, "FINISHED")

    def _runs(self) -> RunLog:
        return RunLog(self.tracking_uri, self.experiment, self.artifact_location)


def _parent_tags(config: DictConfig, node: str, objective: Objective) -> dict[str, str]:
    choices = config.hydra.runtime.choices
    return stage_tags("sweep", node) | {
        SWEEP_OBJECTIVE_TAG: objective.value,
        SWEEP_SWEEPER_TAG: str(choices.get("hydra/sweeper")),
        SWEEP_LAUNCHER_TAG: str(choices.get("hydra/launcher")),
        SWEEP_DIR_TAG: str(config.hydra.sweep.dir),
    }
