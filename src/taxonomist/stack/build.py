"""The stack stage: compose the node classifiers, test the stack, register it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import pandas as pd

from taxonomist.cached import load_split
from taxonomist.config import Config, Paths, resolve_tracking_uri
from taxonomist.evaluate.metrics import stack_metrics, stack_outcomes
from taxonomist.stack.predictor import StackPredictor
from taxonomist.stack.pyfunc import ARTIFACT_KEY, SIGNATURE
from taxonomist.tracking import ensure_experiment
from taxonomist.train.model import load_node_model

REGISTERED_FILE = "registered.json"
SERVING_CODE = Path(__file__).with_name("serving.py")
# What serving the stack needs; listed so MLflow does not spend seconds inferring it.
PIP_REQUIREMENTS = ["taxonomist", "torch", "torchvision", "timm", "safetensors", "pillow", "pandas"]


@dataclass(frozen=True)
class StackVersion:
    """A registered stack: the model name, its version and the run that logged it."""

    name: str
    version: str
    run_id: str
    node_runs: dict[str, str]

    @classmethod
    def load(cls, folder: Path) -> StackVersion:
        return cls(**json.loads((folder / REGISTERED_FILE).read_text()))


def stack_name(config: Config) -> str:
    return f"{config.taxonomy.name}.stack"


def load_predictor(config: Config, paths: Paths) -> StackPredictor:
    nodes = {n: load_node_model(paths.model_dir(n)) for n in config.taxonomy.inner_nodes}
    thresholds = {n: config.classifiers[n].threshold for n in config.taxonomy.inner_nodes}
    return StackPredictor(config.taxonomy, nodes, thresholds)


def evaluate_stack(
    predictor: StackPredictor, paths: Paths
) -> tuple[dict[str, object], pd.DataFrame]:
    """Run the stack on the frozen test split: metrics and one outcome row per image."""
    test = load_split(paths, "test")
    walks = [p.path for p in predictor.predict(test.images)]
    outcomes = stack_outcomes(predictor.taxonomy, test.index["label"], walks)
    outcomes.insert(0, "id", test.index["id"].to_numpy())
    outcomes.insert(1, "set_id", test.index["set_id"].to_numpy())
    return stack_metrics(predictor.taxonomy, outcomes, walks), outcomes


def build_stack(config: Config, paths: Paths) -> StackVersion:
    """Test the composed stack and register it as one version of ``<taxonomy>.stack``.

    Writes ``metrics/stack.json`` and ``models/_stack/`` (the bundled weights, the
    per-image outcomes and ``registered.json``).
    """
    predictor = load_predictor(config, paths)
    metrics, outcomes = evaluate_stack(predictor, paths)
    folder = paths.stack_dir
    model_dirs = {n: paths.model_dir(n) for n in config.taxonomy.inner_nodes}
    predictor.save(folder / "model", model_dirs)
    outcomes.to_parquet(folder / "outcomes.parquet", index=False)
    paths.stack_metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.stack_metrics.write_text(json.dumps(metrics, indent=2))
    version = _log_and_register(config, paths, metrics, folder / "model")
    (folder / REGISTERED_FILE).write_text(json.dumps(asdict(version), indent=2))
    return version


def _log_and_register(config: Config, paths: Paths, metrics: dict, model_dir: Path):
    mlflow.set_tracking_uri(resolve_tracking_uri(config.project.mlflow.tracking_uri, paths))
    experiment_id = ensure_experiment(mlflow.MlflowClient(), config.project.mlflow, paths)
    node_runs = {
        n: json.loads((paths.model_dir(n) / "run.json").read_text())["run_id"]
        for n in config.taxonomy.inner_nodes
    }
    with mlflow.start_run(experiment_id=experiment_id, run_name="stack") as run:
        mlflow.set_tags({"taxonomist.stage": "stack"})
        mlflow.log_params({f"node_run.{n}": r for n, r in node_runs.items()})
        mlflow.log_metrics({k: v for k, v in metrics.items() if isinstance(v, int | float)})
        mlflow.log_dict(metrics, "metrics/stack.json")
        info = mlflow.pyfunc.log_model(
            name="stack",
            python_model=str(SERVING_CODE),
            signature=SIGNATURE,
            artifacts={ARTIFACT_KEY: str(model_dir)},
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=stack_name(config),
        )
    return StackVersion(
        stack_name(config), str(info.registered_model_version), run.info.run_id, node_runs
    )
