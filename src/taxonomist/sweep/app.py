"""``taxonomist sweep``: a Hydra multirun whose config is one node's classifier definition.

Hydra composes, for every trial, the node's resolved definition (``_default.yaml`` +
``NODE.yaml``) with the trial's values; ``conf/sweep.yaml`` adds Hydra's own settings
(output folder, launcher, sweeper). Any Hydra sweeper and launcher works: the basic ones
by default, ``hydra/sweeper=optuna``, ``hydra/launcher=submitit_local`` or
``submitit_slurm``. Every trial is a child run of one MLflow parent run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra

from taxonomist.config import Config, Paths, resolve_tracking_uri
from taxonomist.sweep.overrides import SweepOverrides, parse_overrides
from taxonomist.sweep.results import TrialRow, ranked_trials, record_winner
from taxonomist.sweep.trial import PARENT_RUN_ENV, Objective, SweepError, TrialTask
from taxonomist.tracking.client import artifact_location
from taxonomist.tracking.runs import RunLog

PRIMARY = "taxonomist_sweep"  # the primary config's name in Hydra's ConfigStore
SWEEP_FILE = "sweep.yaml"  # conf/sweep.yaml: Hydra settings for sweeps, optional
DEFAULT_SWEEP_DIR = "sweeps/${hydra.job.name}/${now:%Y-%m-%d_%H-%M-%S}"


@dataclass(frozen=True)
class SweepResult:
    """What a sweep left behind.

    Attributes:
        parent_run_id: the MLflow parent run; None if the sweep stopped before it began.
        trials: the finished trials, best first.
        overrides: the sweep's overrides: which keys varied, which were fixed.
        error: why the sweep stopped early (a failed trial, a config error), or None.
    """

    parent_run_id: str | None
    trials: list[TrialRow]
    overrides: SweepOverrides
    error: BaseException | None = None

    @property
    def winner(self) -> TrialRow | None:
        return self.trials[0] if self.trials else None

    def winning_values(self) -> dict[str, Any]:
        """The best trial's values of the varied keys ({} when no trial finished)."""
        if self.winner is None:
            return {}
        return {k: v for k, v in self.winner.values.items() if k in self.overrides.varied}


def run_sweep(
    node: str,
    overrides: list[str],
    config: Config,
    paths: Paths,
    config_dir: Path,
    objective: Objective = Objective.val_loss,
) -> SweepResult:
    """Train ``node`` once per combination (or Optuna trial) of ``overrides``.

    Args:
        node: an inner node of the taxonomy.
        overrides: keys of the node's definition with values to sweep, plus Hydra's own
            overrides, e.g. ``["optim.lr=1e-3,3e-4", "hydra/sweeper=optuna"]``.
        config: the project configuration every trial starts from.
        paths: the project (the cache is read from it; nothing is published to it).
        config_dir: the ``conf/`` folder, for ``sweep.yaml`` and launcher configs.
        objective: which best validation value ranks the trials.

    Returns:
        The ranked trials; ``error`` is set, not raised, so finished trials still count.
    """
    config.require_inner_node(node, "taxonomist sweep")
    swept = parse_overrides(overrides, config.classifiers[node])
    _store_primary(node, config, paths, config_dir, objective)
    argv = ["--multirun", *_sweeper_settings(swept, objective), *swept.hydra, *swept.node]
    os.environ.pop(PARENT_RUN_ENV, None)
    error = _launch(config_dir, argv, TrialTask(node, config, paths.root, objective))
    parent = os.environ.pop(PARENT_RUN_ENV, None)
    if parent is None:  # the sweep never began, or the callback could not reach MLflow
        return SweepResult(None, [], swept, error or SweepError("the sweep made no MLflow "
                                                                "parent run: see the warnings"))
    runs = RunLog.for_project(config.project.mlflow, paths)
    if error is not None:
        runs.finish(parent, "FAILED")
    trials = ranked_trials(runs, parent, objective)
    record_winner(runs, parent, trials, objective)
    return SweepResult(parent, trials, swept, error)


def _store_primary(
    node: str, config: Config, paths: Paths, config_dir: Path, objective: Objective
) -> None:
    """The node's definition at the top level, so sweep keys are relative to it."""
    uri = resolve_tracking_uri(config.project.mlflow.tracking_uri, paths)
    callback = {
        "_target_": "taxonomist.sweep.callback.ParentRun",
        "node": node,
        "tracking_uri": uri,
        "experiment": config.project.mlflow.experiment,
        "artifact_location": artifact_location(config.project.mlflow, paths, uri),
        "objective": objective.value,
    }
    hydra_settings: dict[str, Any] = {
        "job": {"name": node, "chdir": False},
        "sweep": {"dir": str(paths.root / DEFAULT_SWEEP_DIR), "subdir": "${hydra.job.num}"},
        "callbacks": {"taxonomist_parent_run": callback},
        # optuna's storage layer announces every alembic plugin at INFO
        "hydra_logging": {"loggers": {"alembic": {"level": "WARNING"}}},
    }
    has_file = (config_dir / SWEEP_FILE).is_file()
    primary = {
        "defaults": ["_self_", SWEEP_FILE.removesuffix(".yaml")] if has_file else ["_self_"],
        **config.node_params(node)["classifier"],
        "hydra": hydra_settings,
    }
    ConfigStore.instance().store(name=PRIMARY, node=primary)


def _sweeper_settings(swept: SweepOverrides, objective: Objective) -> list[str]:
    """Optuna must know which way is better; the basic sweeper has no such setting."""
    given = any(o.startswith("hydra.sweeper.direction=") for o in swept.hydra)
    return [f"hydra.sweeper.direction={objective.direction}"] if swept.optuna and not given else []


def _launch(config_dir: Path, argv: list[str], task: TrialTask) -> BaseException | None:
    """Run Hydra's multirun as ``@hydra.main`` would from ``argv``; return what stopped it."""
    main = hydra.main(config_path=str(config_dir), config_name=PRIMARY, version_base="1.3")
    try:
        with _hydra_command_line(argv):
            main(task)()
    except Exception as err:  # a failed trial's own error; reported after the table
        return err
    return None


@contextmanager
def _hydra_command_line(argv: list[str]) -> Iterator[None]:
    """Hydra reads ``sys.argv``; errors propagate (HYDRA_FULL_ERROR) instead of exit(1)."""
    saved_argv, saved_full = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = [saved_argv[0] if saved_argv else "taxonomist", *argv]
    os.environ["HYDRA_FULL_ERROR"] = "1"
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        GlobalHydra.instance().clear()
        sys.argv = saved_argv
        if saved_full is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_full
