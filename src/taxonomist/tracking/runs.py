"""Runs as the stages log them: start with tags, log values in batches, register folders.

:class:`RunLog` is how train, evaluate, stack and sweep speak to MLflow, so none of them
holds an ``MlflowClient``. Each method is one or two requests, the same ones the stages
made themselves: params and metrics go in one ``log_batch``, a model folder is uploaded
once and registered from there.

Example:
    >>> runs = RunLog.for_project(config.project.mlflow, paths)
    >>> run_id = runs.start("train round", stage_tags("train", "round"))
    >>> runs.log(run_id, params={"head": "knn"}, metrics={"val_loss": 0.41})
    >>> runs.finish(run_id)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from taxonomist.config import MlflowConfig, Paths, resolve_tracking_uri
from taxonomist.tracking.client import (
    artifact_location,
    open_store,
    register_version,
    retry_when_locked,
    run_artifact_uri,
    tracking_at,
)
from taxonomist.tracking.names import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING,
    PARENT_RUN_TAG,
    experiment_tags,
)

MAX_CHILD_RUNS = 10_000  # trials read back per sweep


@dataclass(frozen=True)
class RunRecord:
    """A logged run as read back: enough to rank it among its siblings."""

    run_id: str
    name: str
    status: str
    tags: dict[str, str]
    metrics: dict[str, float]


@dataclass(frozen=True)
class PyfuncModel:
    """A pyfunc model to log and register, as ``mlflow.pyfunc.log_model`` takes it.

    Attributes:
        name: the model's artifact path in the run, e.g. ``"stack"``.
        python_model: a ``PythonModel`` or the path of its models-from-code file.
        signature: the ``ModelSignature`` requests are checked against.
        artifacts: files the model loads, by key.
        pip_requirements: listed so MLflow does not spend seconds inferring them.
        registered_model: the registered model that gets the new version.
    """

    name: str
    python_model: Any
    signature: Any
    artifacts: dict[str, str]
    pip_requirements: list[str]
    registered_model: str


class RunLog:
    """The runs of one MLflow experiment, created on first use.

    Args:
        tracking_uri: where MLflow is.
        experiment: the experiment's name.
        artifact_location: for a new experiment (local stores); None lets a server decide.
    """

    def __init__(self, tracking_uri: str, experiment: str, artifact_location: str | None) -> None:
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self.artifact_location = artifact_location
        open_store(tracking_uri)
        self._client = MlflowClient(tracking_uri)

    @classmethod
    def for_project(cls, cfg: MlflowConfig, paths: Paths) -> RunLog:
        """The project's experiment, at ``mlflow.tracking_uri`` (or the local store)."""
        uri = resolve_tracking_uri(cfg.tracking_uri, paths)
        return cls(uri, cfg.experiment, artifact_location(cfg, paths, uri))

    @retry_when_locked
    def start(self, name: str, tags: Mapping[str, str]) -> str:
        """Create a run (and the experiment if needed); returns its id."""
        run = self._client.create_run(self._experiment_id(), run_name=name, tags=dict(tags))
        return run.info.run_id

    @retry_when_locked
    def log(
        self,
        run_id: str,
        params: Mapping[str, object] | None = None,
        metrics: Mapping[str, float] | None = None,
        timestamp_ms: int = 0,
    ) -> None:
        """Log ``params`` and ``metrics`` (at step 0) in one request."""
        self._client.log_batch(
            run_id,
            metrics=[Metric(k, v, timestamp_ms, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)) for k, v in (params or {}).items()],
        )

    @retry_when_locked
    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self._client.set_tag(run_id, key, value)

    @retry_when_locked
    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        """End the run as ``FINISHED`` or ``FAILED``."""
        self._client.set_terminated(run_id, status)

    def log_folder(self, run_id: str, folder: Path, artifact_path: str) -> None:
        """Upload every file under ``folder`` to the run, under ``artifact_path``."""
        self._client.log_artifacts(run_id, str(folder), artifact_path=artifact_path)

    def register_folder(
        self, run_id: str, artifact_path: str, model: str, tags: Mapping[str, str]
    ) -> str:
        """Register the run's ``artifact_path`` as a new version of ``model``; its number."""
        source = run_artifact_uri(self._client, run_id, artifact_path)
        return register_version(self._client, model, source, run_id, dict(tags))

    def metric_values(self, run_id: str, key: str) -> list[float]:
        """Every value logged for metric ``key``, oldest first."""
        return [m.value for m in self._client.get_metric_history(run_id, key)]

    def child_runs(self, parent_run_id: str) -> list[RunRecord]:
        """The runs nested under ``parent_run_id`` (a sweep's trials), in any order."""
        parent = self._client.get_run(parent_run_id)
        runs = self._client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.{PARENT_RUN_TAG} = '{parent_run_id}'",
            max_results=MAX_CHILD_RUNS,
        )
        return [
            RunRecord(r.info.run_id, r.info.run_name or "", r.info.status,
                      dict(r.data.tags), dict(r.data.metrics))
            for r in runs
        ]

    def log_pyfunc_run(
        self,
        name: str,
        tags: Mapping[str, str],
        params: Mapping[str, object],
        metrics: Mapping[str, float],
        files: Mapping[str, dict],
        model: PyfuncModel,
    ) -> tuple[str, str]:
        """One finished run that logs ``model`` and registers it.

        Args:
            name: the run's name.
            tags: the run's tags.
            params: logged as they are.
            metrics: numbers only.
            files: JSON files to log with the run, by artifact path.
            model: the pyfunc model to log and register.

        Returns:
            The run's id and the registered version.
        """
        experiment_id = self._experiment_id()
        with tracking_at(self.tracking_uri), mlflow.start_run(
            experiment_id=experiment_id, run_name=name
        ) as run:
            mlflow.set_tags(dict(tags))
            mlflow.log_params(dict(params))
            mlflow.log_metrics(dict(metrics))
            for artifact_file, content in files.items():
                mlflow.log_dict(content, artifact_file)
            info = mlflow.pyfunc.log_model(
                name=model.name,
                python_model=model.python_model,
                signature=model.signature,
                artifacts=model.artifacts,
                pip_requirements=model.pip_requirements,
            )
            version = register_version(self._client, model.registered_model, info.model_uri,
                                       run.info.run_id, {}, model_id=info.model_id)
        return run.info.run_id, version

    def ensure_experiment(self) -> str:
        """The experiment's id, creating it if needed (once, before parallel writers)."""
        return self._experiment_id()

    @retry_when_locked
    def _experiment_id(self) -> str:
        found = self._client.get_experiment_by_name(self.experiment)
        if found is not None:
            if found.tags.get(EXPERIMENT_KIND_TAG) is None:  # made before taxonomist tagged it
                self._client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG,
                                                MODEL_TRAINING)
            return found.experiment_id
        try:
            return self._client.create_experiment(
                self.experiment, artifact_location=self.artifact_location,
                tags=experiment_tags(),
            )
        except MlflowException as err:  # created by a parallel writer meanwhile
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return self._client.get_experiment_by_name(self.experiment).experiment_id
