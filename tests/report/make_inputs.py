"""Tiny versions of every file the report stage reads, written into a project folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from PIL import Image

from taxonomist.config import Paths
from taxonomist.taxonomy import Taxonomy

TREE = {"digit": {"round": ["zero", "six"], "straight": ["one", "four"]}}
MANIFEST_MD5 = "0123456789abcdef0123456789abcdef"
SPLITS_MD5 = "fedcba9876543210fedcba9876543210"
CHALLENGER_RUN = "c0ffee00c0ffee00c0ffee00c0ffee00"


def taxonomy() -> Taxonomy:
    return Taxonomy.from_tree("digits", TREE)


def stack_metrics(leaf_accuracy: float, six_recall: float = 0.9) -> dict:
    return {
        "leaf_accuracy": leaf_accuracy,
        "accuracy_depth_1": 0.99,
        "accuracy_depth_2": leaf_accuracy,
        "mistake_severity": 1.75,
        "n_test": 80,
        "per_class_recall": {"zero": 0.95, "six": six_recall, "one": 1.0, "four": 0.97},
    }


def promotion(decision: str = "promote", live: bool = True, reason: str = "") -> dict:
    record = {
        "decision": decision,
        "reason": reason or ("leaf_accuracy improved by +0.0120" if decision == "promote"
                             else "class recall fell more than 0.05: six (-0.200)"),
        "metric": "leaf_accuracy",
        "registered_model": "digits.stack",
        "challenger": {"version": "3", "run_id": CHALLENGER_RUN, "metrics": stack_metrics(0.962)},
        "live_before": None,
        "live_after": "3" if decision == "promote" else None,
        "difference": None,
        "class_recall_drops": {} if decision == "promote" else {"six": 0.2},
        "tracking_uri": "sqlite:///mlflow/mlflow.db",
        "timestamp": "2025-01-02T03:04:05+00:00",
    }
    if live:
        record["live_before"] = {
            "version": "2", "run_id": "beef" * 8, "metrics": stack_metrics(0.95, six_recall=0.8)
        }
        record["live_after"] = "3" if decision == "promote" else "2"
        record["difference"] = 0.012
    return record


def node_metrics(classes: list[str]) -> dict:
    per_class = {
        c: {"precision": 0.91 + i / 100, "recall": 0.81 + i / 100, "f1": 0.86, "support": 10 + i}
        for i, c in enumerate(classes)
    }
    return {"accuracy": 0.9375, "macro_f1": 0.8765, "n_test": 40, "classes": classes,
            "per_class": per_class}


def write_png(path: Path, colour: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 4), colour).save(path)
    return path.read_bytes()


def write_inputs(root: Path, decision: str = "promote", live: bool = True) -> Paths:
    """Every input of the model card, for the taxonomy in :data:`TREE`."""
    paths = Paths(root)
    tree = taxonomy()
    _write_json(paths.promotion, promotion(decision, live))
    _write_json(paths.stack_metrics, stack_metrics(0.962))
    for node in tree.inner_nodes:
        _write_json(paths.node_metrics(node), node_metrics(list(tree.children[node])))
        write_png(paths.node_plots(node) / "confusion.png", "red")
    _write_json(paths.validation, {
        "success": True, "errors": [],
        "warnings": ["class 'four' has 12 images, fewer than the recommended 1000"],
        "counts": [{"node": "straight", "class": "four", "count": 12}], "n_images": 7,
    })
    _write_manifest(paths)
    paths.rejects.write_text(
        "path,label,reason\n"
        "in/a.png,zero,duplicate\nin/b.png,six,duplicate\nin/c.png,seven,unknown label\n"
    )
    paths.params.write_text("seed: 42\nnotify:\n  kind: outbox\n")
    (root / "dvc.lock").write_text(_DVC_LOCK)
    return paths


def _write_manifest(paths: Paths) -> None:
    labels = ["zero", "zero", "six", "one", "four", "four", "round"]
    sources = ["sample", "sample", "sample", "scanner", "scanner", "sample", "sample"]
    paths.data.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "id": [f"{i:064x}" for i in range(len(labels))],
        "path": [f"images/{i}.png" for i in range(len(labels))],
        "label": labels, "source": sources, "set_id": [f"s{i // 2}" for i in range(len(labels))],
        "taken_at": pd.Timestamp("2024-05-01"), "width": 8, "height": 8, "stored": True,
    }).to_parquet(paths.manifest)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


_DVC_LOCK = f"""\
schema: '2.0'
stages:
  ingest:
    cmd: taxonomist ingest
    outs:
    - path: data/manifest.parquet
      hash: md5
      md5: {MANIFEST_MD5}
      size: 1234
  split:
    cmd: taxonomist split
    deps:
    - path: data/manifest.parquet
      hash: md5
      md5: {MANIFEST_MD5}
    outs:
    - path: data/splits.parquet
      hash: md5
      md5: {SPLITS_MD5}
"""
