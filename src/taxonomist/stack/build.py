"""The stack stage: compose the node classifiers, test the stack, register it."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomist.config import Config, Paths
from taxonomist.config.stopping import check_stopping
from taxonomist.contracts.cache import STACK, CachedSplit, load_node_split, load_stack_test
from taxonomist.contracts.files import write_text_atomic
from taxonomist.contracts.metrics import (
    CALIBRATION_FILE,
    DECODING_FILE,
    NODE_CURVES,
    PER_CLASS_FILE,
    RISK_COVERAGE_FILE,
    STACK_PLOTS,
    StackMetrics,
    write_rows,
)
from taxonomist.data.cropping import save_detector
from taxonomist.data.detector import DetectSettings
from taxonomist.data.images import ImagePolicy
from taxonomist.errors import ConfigError
from taxonomist.evaluate.hierarchy import depth_accuracy, stack_metrics, stack_outcomes, stop_table
from taxonomist.stack.familiarity import Familiarity, fit_familiarity
from taxonomist.stack.predictor import StackPredictor, Stopping
from taxonomist.stack.pyfunc import ARTIFACT_KEY, SIGNATURE, save_policy
from taxonomist.stack.tuning import (
    Split,
    StoppingReport,
    ancestor_weights,
    fit_ancestor_weights,
    fit_stopping,
    report_stopping,
)
from taxonomist.taxonomy import Taxonomy
from taxonomist.tracking.client import client_for
from taxonomist.tracking.names import (
    node_model_name,
    node_run_param,
    stack_model_name,
    stack_run_name,
    stage_tags,
)
from taxonomist.tracking.orphans import tag_orphans
from taxonomist.tracking.runs import PyfuncModel, RunLog
from taxonomist.tracking.versions import name_run, tag_node_versions
from taxonomist.train.artifact import load_node_model

REGISTERED_FILE = "registered.json"


class UncalibratedWarning(UserWarning):
    """The stack was built without val images to fit its stopping on."""


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
    return StackPredictor(config.taxonomy, nodes,
                          Stopping(thresholds, ancestor_weights=ancestor_weights(config)))


def evaluate_stack(
    predictor: StackPredictor, paths: Paths
) -> tuple[dict[str, object], pd.DataFrame]:
    """Run the stack on the frozen test split: metrics and one outcome row per image."""
    test = load_stack_test(paths)
    walks = [p.path for p in predictor.predict(test.images)]
    outcomes = stack_outcomes(predictor.taxonomy, test.index["label"], walks)
    outcomes.insert(0, "id", test.index["id"].to_numpy())
    outcomes.insert(1, "set_id", test.index["set_id"].to_numpy())
    metrics = stack_metrics(predictor.taxonomy, outcomes, walks)
    target = predictor.stopping.targets.get(predictor.taxonomy.root)
    return metrics | ({} if target is None else {"target_precision": target}), outcomes


def calibration_splits(paths: Paths) -> dict[str, CachedSplit]:
    """The images the stack's stopping is fitted on (val) and measured on (test).

    Both are the stack's own cache: every val and test image at the largest
    ``image_size`` (each node resizes to its own), test as :func:`evaluate_stack` reads
    it. Without a val cache (a project that cached only the stack's test images) val is
    empty, with a warning: temperatures stay 1 and every threshold its hand-set value.
    """
    test = load_stack_test(paths)
    try:
        val = load_node_split(paths, STACK, "val")
    except FileNotFoundError as err:
        warnings.warn(f"{err}: the stack keeps temperature 1 and the hand-set thresholds",
                      UncalibratedWarning, stacklevel=2)
        val = CachedSplit(test.images[:0], test.index.iloc[:0])
    return {"val": val, "test": test}


def build_stack(config: Config, paths: Paths) -> StackVersion:
    """Test the composed stack and register it as one version of ``<taxonomy>.stack``.

    Writes ``metrics/stack.json``, the tables in ``plots/_stack/`` and ``models/_stack/``
    (the bundled weights, the per-image outcomes and ``registered.json``).
    """
    check_stopping(config, paths)
    predictor, report = calibrated_predictor(config, paths)
    metrics, outcomes = evaluate_stack(predictor, paths)
    folder = paths.stack_dir
    model_dirs = {n: paths.model_dir(n) for n in config.taxonomy.inner_nodes}
    predictor.save(folder / "model", model_dirs)
    save_policy(folder / "model", ImagePolicy.from_config(config.project.data))
    if config.project.detect.enabled:  # served images are cropped as the cache cropped
        detect = DetectSettings.from_config(config.project.detect, config.taxonomy, paths.root)
        save_detector(folder / "model", detect)
    outcomes.to_parquet(folder / "outcomes.parquet", index=False)
    write_stack_views(paths, predictor.taxonomy, metrics, outcomes)
    write_stopping_views(paths, report)
    logged = metrics | {f"{key}.{row.node}": getattr(row, key) for row in report.calibration
                        for key in ("temperature", "threshold", "ece_after")}
    version = _log_and_register(config, paths, logged, folder / "model")
    write_text_atomic(folder / REGISTERED_FILE, json.dumps(asdict(version), indent=2))
    # a version left by a killed earlier run must not pass for a candidate
    tag_orphans(client_for(config.project.mlflow, paths), version.name, version.version)
    return version


def calibrated_predictor(config: Config, paths: Paths) -> tuple[StackPredictor, StoppingReport]:
    """The stack with temperatures and thresholds fitted on val, and how they did on test.

    Raises:
        ConfigError: a stopping key is out of range or the nodes disagree on decoding.
    """
    configured = load_predictor(config, paths)  # temperature 1, hand-set thresholds
    cached = calibration_splits(paths)
    val = cached["val"]
    weights = fit_ancestor_weights(config, configured, np.asarray(val.images),
                                   list(val.index["label"]))
    raw = StackPredictor(config.taxonomy, configured.nodes,
                         replace(configured.stopping, ancestor_weights=weights))
    splits = {
        name: Split(raw.node_outputs(split.images, everywhere=True), list(split.index["label"]))
        for name, split in cached.items()
    }
    stopping, val_evidence = fit_stopping(config, splits["val"], weights)
    report = report_stopping(config, stopping, splits["val"], splits["test"], val_evidence)
    familiarity = root_familiarity(config, paths, raw, cached["val"])
    return StackPredictor(config.taxonomy, raw.nodes, stopping, familiarity), report


def root_familiarity(config: Config, paths: Paths, stack: StackPredictor, val: CachedSplit
                     ) -> Familiarity | None:
    """With the root's ``stopping.unfamiliar_quantile``: fitted on the root's train
    images (each label a class) and its limit on val; else None.

    Raises:
        ConfigError: there are no val images to choose the limit on.
    """
    root = config.taxonomy.root
    quantile = config.classifiers[root].stopping.unfamiliar_quantile
    if quantile is None:
        return None
    if not len(val):
        raise ConfigError(paths.classifier_source(root, config.project.classifier_dir),
                          "stopping.unfamiliar_quantile", "the stack has no val images to "
                          "choose the limit on", "cache the val split (`dvc repro cache`)")
    train = load_node_split(paths, root, "train")
    features = stack.root_features(np.asarray(train.images))
    return fit_familiarity(features, train.index["label"].to_numpy(),
                           stack.root_features(np.asarray(val.images)), quantile)


def write_stopping_views(paths: Paths, report: StoppingReport) -> None:
    """In ``plots/_stack/``: the calibration table, both decodings, and the risk-coverage
    curves of the stack and (in ``risk_coverage/``) of every node."""
    plots = paths.node_plots(STACK_PLOTS)
    write_rows(plots / CALIBRATION_FILE, report.calibration)
    write_rows(plots / DECODING_FILE, report.decodings)
    report.stack_curve.to_csv(plots / RISK_COVERAGE_FILE, index=False)
    (plots / NODE_CURVES).mkdir(parents=True, exist_ok=True)
    for node, curve in report.node_curves.items():
        curve.to_csv(plots / NODE_CURVES / f"{node}.csv", index=False)


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
        params={node_run_param(n): r for n, r in node_runs.items()},
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        files={"metrics/stack.json": metrics},
        model=model,
    )
    _label_in_the_ui(config, paths, run_id, version, node_runs)
    return StackVersion(stack_name(config), version, run_id, node_runs)


def _label_in_the_ui(
    config: Config, paths: Paths, run_id: str, version: str, node_runs: dict[str, str]
) -> None:
    """Name the run for its version (``stack v3``, not one more ``stack``) and tag each
    node version with the stack versions built from it."""
    client = client_for(config.project.mlflow, paths)
    name_run(client, run_id, stack_run_name(version))
    models = {node_model_name(config.taxonomy.name, n): r for n, r in node_runs.items()}
    tag_node_versions(client, models, stack_name(config), version)
