"""The stack stage: compose the node classifiers, test the stack, register it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from taxonomist.config import Config, Paths
from taxonomist.contracts.cache import load_stack_test
from taxonomist.contracts.metrics import PER_CLASS_FILE, STACK_PLOTS, StackMetrics
from taxonomist.evaluate.hierarchy import depth_accuracy, stack_metrics, stack_outcomes, stop_table
from taxonomist.stack.predictor import StackPredictor
from taxonomist.stack.pyfunc import ARTIFACT_KEY, SIGNATURE
from taxonomist.taxonomy import Taxonomy
from taxonomist.tracking.names import stack_model_name, stage_tags
from taxonomist.tracking.runs import PyfuncModel, RunLog
from taxonomist.train.artifact import load_node_model

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
    return stack_model_name(config.taxonomy.name)


def load_predictor(config: Config, paths: Paths) -> StackPredictor:
    nodes = {n: load_node_model(paths.model_dir(n)) for n in config.taxonomy.inner_nodes}
    thresholds = {n: config.classifiers[n].threshold for n in config.taxonomy.inner_nodes}
    return StackPredictor(config.taxonomy, nodes, thresholds)


def evaluate_stack(
    predictor: StackPredictor, paths: Paths
) -> tuple[dict[str, object], pd.DataFrame]:
    """Run the stack on the frozen test split: metrics and one outcome row per image."""
    test = load_stack_test(paths)
    walks = [p.path for p in predictor.predict(test.images)]
    outcomes = stack_outcomes(predictor.taxonomy, test.index["label"], walks)
    outcomes.insert(0, "id", test.index["id"].to_numpy())
    outcomes.insert(1, "set_id", test.index["set_id"].to_numpy())
    return stack_metrics(predictor.taxonomy, outcomes, walks), outcomes


def build_stack(config: Config, paths: Paths) -> StackVersion:
    """Test the composed stack and register it as one version of ``<taxonomy>.stack``.

    Writes ``metrics/stack.json``, the tables in ``plots/_stack/`` and ``models/_stack/``
    (the bundled weights, the per-image outcomes and ``registered.json``).
    """
    predictor = load_predictor(config, paths)
    metrics, outcomes = evaluate_stack(predictor, paths)
    folder = paths.stack_dir
    model_dirs = {n: paths.model_dir(n) for n in config.taxonomy.inner_nodes}
    predictor.save(folder / "model", model_dirs)
    outcomes.to_parquet(folder / "outcomes.parquet", index=False)
    write_stack_views(paths, predictor.taxonomy, metrics, outcomes)
    version = _log_and_register(config, paths, metrics, folder / "model")
    (folder / REGISTERED_FILE).write_text(json.dumps(asdict(version), indent=2))
    return version


def write_stack_views(
    paths: Paths, taxonomy: Taxonomy, metrics: dict, outcomes: pd.DataFrame
) -> None:
    """What DVC shows of the stack: ``metrics/stack.json`` (``dvc metrics``) and, in
    ``plots/_stack/``, per-leaf recall, accuracy per depth and where walks stopped with
    the precision there (``dvc plots``)."""
    plots = paths.node_plots(STACK_PLOTS)
    StackMetrics.from_json(metrics, "stack_metrics").write(
        paths.stack_metrics, plots / PER_CLASS_FILE
    )
    walks = [path.split("/") if path else [] for path in outcomes["path"]]
    depths = depth_accuracy(taxonomy, walks, outcomes["label"])
    pd.DataFrame(depths, columns=["depth", "accuracy", "images"]).to_csv(
        plots / "depth.csv", index=False
    )
    stop_table(outcomes).to_csv(plots / "stops.csv", index=False)


def _log_and_register(
    config: Config, paths: Paths, metrics: dict, model_dir: Path
) -> StackVersion:
    """One ``stack`` run: the node runs it was built from, its metrics, the pyfunc model."""
    node_runs = {
        n: json.loads((paths.model_dir(n) / "run.json").read_text())["run_id"]
        for n in config.taxonomy.inner_nodes
    }
    model = PyfuncModel(
        name="stack",
        python_model=str(SERVING_CODE),
        signature=SIGNATURE,
        artifacts={ARTIFACT_KEY: str(model_dir)},
        pip_requirements=PIP_REQUIREMENTS,
        registered_model=stack_name(config),
    )
    run_id, version = RunLog.for_project(config.project.mlflow, paths).log_pyfunc_run(
        "stack",
        stage_tags("stack"),
        params={f"node_run.{n}": r for n, r in node_runs.items()},
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        files={"metrics/stack.json": metrics},
        model=model,
    )
    return StackVersion(stack_name(config), version, run_id, node_runs)
