"""A real sqlite-backed MLflow registry holding three versions of ``digits.stack``.

Creating an MLflow sqlite store runs its migrations (~7 s), so one empty store is made
per test session and each test gets a copy of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient

NAME = "digits.stack"
ACCURACY = {"1": 0.95, "2": 0.962, "3": 0.91}
_template: Path | None = None


def template_db(factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow sqlite store, made once per session."""
    global _template
    if _template is None:
        path = factory.mktemp("mlflow-template") / "mlflow.db"
        client = MlflowClient(f"sqlite:///{path}")
        client.search_experiments()  # the tracking store migrates the schema ...
        client.search_registered_models()  # ... and the registry store opens it
        _template = path
    return _template


def make_registry(factory: pytest.TempPathFactory, root: Path) -> MlflowClient:
    """Copy the template to ``root/mlflow/mlflow.db``; register v1-v3 of :data:`NAME`.

    Each version has a run with a ``leaf_accuracy`` metric from :data:`ACCURACY`; no
    version is live.
    """
    db = root / "mlflow" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_db(factory), db)
    client = MlflowClient(f"sqlite:///{db}")
    artifacts = (root / "mlflow" / "artifacts").resolve()
    experiment = client.create_experiment("taxonomist", artifact_location=artifacts.as_uri())
    client.create_registered_model(NAME)
    for version, accuracy in ACCURACY.items():
        run = client.create_run(experiment, run_name=f"stack {version}")
        client.log_metric(run.info.run_id, "leaf_accuracy", accuracy)
        client.set_terminated(run.info.run_id)
        model = root / "models" / version
        model.mkdir(parents=True)
        client.create_model_version(NAME, source=model.resolve().as_uri(), run_id=run.info.run_id)
    return client
