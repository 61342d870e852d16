"""The evaluate@NODE stage: one node's classifier on the frozen test split."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from taxonomist.config import Config, Paths
from taxonomist.contracts.cache import load_node_split
from taxonomist.contracts.metrics import PER_CLASS_FILE, NodeMetrics
from taxonomist.evaluate.metrics import (
    classification_metrics,
    confusion,
    expected_calibration_error,
)
from taxonomist.evaluate.predict import predict_proba
from taxonomist.tracking.runs import RunLog
from taxonomist.train.artifact import load_node_model


def evaluate_node(node: str, config: Config, paths: Paths) -> dict[str, object]:
    """Write ``metrics/<node>.json`` and ``plots/<node>/{confusion.csv,confusion.png,
    per_class.csv}``.

    Only test images whose label falls under one of the node's children count; the
    metrics (with the node's expected calibration error) are also logged to the node's
    training run in MLflow.
    """
    spec, model = load_node_model(paths.model_dir(node))
    test = load_node_split(paths, node, "test")
    truth = [config.taxonomy.child_for_label(node, label) for label in test.index["label"]]
    rows = np.array([i for i, t in enumerate(truth) if t is not None], dtype=np.int64)
    probs = predict_proba(model, spec, test.images[rows])
    y_true = [truth[i] for i in rows]
    y_pred = [spec.classes[k] for k in probs.argmax(axis=1)]
    metrics = classification_metrics(y_true, y_pred, spec.classes)
    metrics["ece"] = expected_calibration_error(probs, y_true, spec.classes)
    write_outputs(paths, node, metrics, y_true, y_pred, spec.classes)
    _log_to_run(config, paths, node, metrics)
    return metrics


def write_outputs(
    paths: Paths, node: str, metrics: dict, y_true: list[str], y_pred: list[str],
    classes: list[str],
) -> None:
    """The metrics file, the per-class CSV and the confusion matrix (CSV for ``dvc plots``,
    PNG for the card)."""
    plots = paths.node_plots(node)
    NodeMetrics.from_json(metrics, "classification_metrics", node).write(
        paths.node_metrics(node), plots / PER_CLASS_FILE
    )
    pd.DataFrame({"actual": y_true, "predicted": y_pred}).to_csv(
        plots / "confusion.csv", index=False
    )
    size = 1.5 + 0.7 * len(classes)
    fig = Figure(figsize=(size, size))
    ax = fig.subplots()
    ConfusionMatrixDisplay(confusion(y_true, y_pred, classes), display_labels=classes).plot(
        ax=ax, colorbar=False, xticks_rotation=45
    )
    ax.set_title(f"{node}: test accuracy {metrics['accuracy']:.3f}")
    fig.tight_layout()
    fig.savefig(plots / "confusion.png", dpi=100)


def _log_to_run(config: Config, paths: Paths, node: str, metrics: dict) -> None:
    run = json.loads((paths.model_dir(node) / "run.json").read_text())
    runs = RunLog.for_project(config.project.mlflow, paths)
    flat = {"test_accuracy": metrics["accuracy"], "test_macro_f1": metrics["macro_f1"],
            "test_ece": metrics["ece"]}
    flat |= {f"test_recall.{c}": v["recall"] for c, v in metrics["per_class"].items()}
    runs.log(run["run_id"], metrics=flat, timestamp_ms=int(time.time() * 1000))
    runs.log_folder(run["run_id"], paths.node_plots(node), "evaluation")
