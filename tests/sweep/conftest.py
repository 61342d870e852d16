"""A project ready to sweep: conf/, a fake cache, a migrated MLflow store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient

from taxonomist.cli import main
from taxonomist.config import Paths
from tests.registry_store import template_db
from tests.train.test_fit import fake_cache

# Conditions of every test sweep: a timm test network on 16 px images for one epoch.
FAST = ["backbone.name=test_resnet", "image_size=16", "epochs=1", "batch_size=16"]


@pytest.fixture
def sweep_project(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fake_cache(Paths(project), {"train": 64, "val": 16, "test": 16})
    db = project / "mlflow" / "mlflow.db"
    db.parent.mkdir()
    shutil.copyfile(template_db(tmp_path_factory), db)
    return project


def client_for(project: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{project / 'mlflow' / 'mlflow.db'}")


def sweep(
    capsys: pytest.CaptureFixture[str], overrides: list[str], options: list[str] = ()
) -> tuple[int, str, str]:
    """``taxonomist sweep OPTIONS round OVERRIDES FAST -m``: exit code, stdout, stderr."""
    code = main(["sweep", *options, "round", *overrides, *FAST, "-m"])
    out, err = capsys.readouterr()
    return code, out, err


def sweep_runs(project: Path, metric: str = "best_val_loss", descending: bool = False):
    """The one parent run of the project's sweep, and its children ranked by ``metric``."""
    client = client_for(project)
    experiment = client.get_experiment_by_name("digits")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, "one parent run per sweep"
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(runs) - 1, "every other run is a child of the parent"
    return parent, sorted(children, key=lambda r: r.data.metrics[metric], reverse=descending)
