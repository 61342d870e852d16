"""Logging or loading a pyfunc model leaves no $MLFLOW_TRACKING_URI behind.

``mlflow.set_tracking_uri`` exports the variable; a later ``dvc repro`` started by the
same process inherited it and registered its stack into the other store (a first
promotion compared with a stack that was live there, a run "not found").
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest
from mlflow.models import infer_signature

from taxonomist.tracking.client import client_at
from taxonomist.tracking.logger import BufferedMLFlowLogger
from taxonomist.tracking.runs import PyfuncModel, RunLog
from taxonomist.tracking.versions import load_served_model


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


@pytest.mark.parametrize("exported", [None, "sqlite:////elsewhere/mlflow.db"])
def test_a_logged_and_loaded_model_leaves_the_environment_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exported: str | None
) -> None:
    if exported:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", exported)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = RunLog(uri, "echo", (tmp_path / "artifacts").as_uri())
    model = PyfuncModel("echo", Echo(), infer_signature([[1.0]], [[1.0]]), {}, ["mlflow"],
                        registered_model="echo")
    _, version = runs.log_pyfunc_run("echo", {}, {}, {}, {}, model)
    assert os.environ.get("MLFLOW_TRACKING_URI") == exported
    assert isinstance(load_served_model(client_at(uri), "echo", version), Echo)
    assert os.environ.get("MLFLOW_TRACKING_URI") == exported


def test_a_training_logger_leaves_the_environment_as_it_was(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = BufferedMLFlowLogger(experiment_name="train", tracking_uri=uri,
                                  artifact_location=(tmp_path / "artifacts").as_uri())
    logger.log_metrics({"val_loss": 0.5}, step=0)
    logger.finalize()
    assert client_at(uri).get_run(logger.known_run_id).data.metrics == {"val_loss": 0.5}
    assert "MLFLOW_TRACKING_URI" not in os.environ
