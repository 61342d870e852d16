"""Training tests share one migrated MLflow store: creating one costs ~7 s of migrations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite store with its schema migrated, made once per session."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    client = MlflowClient(f"sqlite:///{path}")
    client.search_experiments()  # the tracking store migrates the schema
    client.search_registered_models()  # the registry store opens it
    return path


@pytest.fixture
def mlflow_store(project: Path, migrated_mlflow_db: Path) -> Path:
    """A copy of the migrated store where the project's default tracking URI points."""
    db = project / "mlflow" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_mlflow_db, db)
    return db
