"""What every trained node ends with, neural or classical: models/<node>/, MLflow, registry."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from taxonomist.config import Config, Paths
from taxonomist.contracts.files import write_text_atomic
from taxonomist.tracking.names import node_model_name
from taxonomist.tracking.runs import RunLog
from taxonomist.train.trial import Trial

RUN_FILE = "run.json"


@dataclass(frozen=True)
class TrainResult:
    node: str
    run_id: str
    registered_model: str
    version: str
    best_val_loss: float
    epochs: int


def publish_node(
    node: str,
    config: Config,
    paths: Paths,
    run_id: str,
    write_model: Callable[[Path], None],
    best_val_loss: float,
    epochs: int,
    trial: Trial | None = None,
) -> TrainResult:
    """Write ``models/<node>/`` with ``write_model``, log it to the run, register it.

    A sweep ``trial`` publishes nothing: its result names no registered model or version.
    """
    if trial is not None:
        return TrainResult(node, run_id, "", "", best_val_loss, epochs)
    folder = paths.model_dir(node)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_model(folder)
    (folder / "classifier.yaml").write_text(yaml.safe_dump(config.node_params(node)))
    runs = RunLog.for_project(config.project.mlflow, paths)
    runs.log_folder(run_id, folder, "model")
    name = node_model_name(config.taxonomy.name, node)
    classifier = config.classifiers[node]
    version = runs.register_folder(
        run_id, "model", name,
        {"node": node, "backbone": classifier.backbone.name, "head": str(classifier.head)},
    )
    result = TrainResult(node, run_id, name, version, best_val_loss, epochs)
    write_text_atomic(folder / RUN_FILE, json.dumps(asdict(result), indent=2))
    return result
