"""8 trainings at once against one MLflow store: the local sqlite file, and a real
``mlflow server`` on PostgreSQL. No "database is locked", no metric or version lost."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from taxonomist.tracking.runs import RunLog
from tests.mlflow_server import postgres_database, running_server
from tests.runner.mlflow_writer import EXPERIMENT, MODEL

WRITERS, EPOCHS = 8, 10
MLFLOW_BUSY_TIMEOUT_S = 20  # MLflow's `PRAGMA busy_timeout = 20000` on every sqlite session
WRITER = Path(__file__).with_name("mlflow_writer.py")


@pytest.fixture(params=["sqlite", "postgres-server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store: a sqlite file nobody has opened yet (so the writers also race to
    create it), or an ``mlflow server`` on a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mlflow.db'}"
        return
    with postgres_database() as database, running_server(tmp_path / "server", database) as url:
        yield url


@pytest.mark.timeout(600)
def test_eight_parallel_trainings_lose_nothing(store: str, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.mkdir()
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), store, str(tmp_path / "artifacts"), str(ready),
             str(WRITERS), str(index), str(EPOCHS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for index in range(WRITERS)
    ]
    outputs = [writer.communicate(timeout=500) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert "database is locked" not in out + err
        assert writer.returncode == 0, err[-3000:]
    written = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_id for r in runs) == sorted(w["run_id"] for w in written)
    assert {r.info.status for r in runs} == {"FINISHED"}
    for record in written:
        history = client.get_metric_history(record["run_id"], "val_loss")
        assert sorted(m.timestamp for m in history) == list(range(1, EPOCHS + 1))
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert sorted(int(v.version) for v in versions) == list(range(1, WRITERS + 1))
    assert {v.run_id for v in versions} == {w["run_id"] for w in written}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_write_held_up_past_sqlites_busy_timeout_is_retried(tmp_path: Path) -> None:
    """Another writer holds the database longer than MLflow waits (a long commit on a
    slow disk): MLflow gives up with "database is locked"; the metric must still land."""
    database = tmp_path / "mlflow.db"
    runs = RunLog(f"sqlite:///{database}", "parallel", (tmp_path / "artifacts").as_uri())
    run_id = runs.start("train x", {})
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    threading.Timer(MLFLOW_BUSY_TIMEOUT_S + 5, other.execute, ["COMMIT"]).start()
    runs.log(run_id, metrics={"val_loss": 0.5}, timestamp_ms=1)
    other.close()
    assert runs.metric_values(run_id, "val_loss") == [0.5]
