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
LABELS = ["zero", "zero", "six", "one", "four", "four", "round"]
COMPARISON = {"difference": 0.012, "ci_low": 0.004, "ci_high": 0.0205, "confidence": 0.95,
              "p_value": 0.0031, "n_images": 312, "challenger_only_correct": 9,
              "live_only_correct": 2, "resampled": "set_id"}
# One row per test image (the ids of the manifest): what each stack predicted and took.
# 0: wrong branch (distance 4), 2: right parent, 3: stopped at its parent, 5: wrong
# branch, 6: labelled only "round" and the stack went deeper, which is no mistake.
CHALLENGER_OUTCOMES = [
    ("one", "straight/one"), ("zero", "round/zero"), ("zero", "round/zero"),
    ("straight", "straight"), ("four", "straight/four"), ("six", "round/six"),
    ("six", "round/six"),
]
LIVE_OUTCOMES = [
    ("zero", "round/zero"), ("zero", "round/zero"), ("six", "round/six"), ("one", "straight/one"),
    ("four", "straight/four"), ("one", "straight/one"), ("round", "round"),
]


def taxonomy() -> Taxonomy:
    return Taxonomy.from_tree("digits", TREE)


def stack_metrics(leaf_accuracy: float, six_recall: float = 0.9) -> dict:
    return {
        "leaf_accuracy": leaf_accuracy,
        "accuracy_depth_1": 0.99,
        "accuracy_depth_2": leaf_accuracy,
        "mistake_severity": 1.75,
        "distance_at_1": 0.0665,
        "hierarchical_precision": 0.981,
        "hierarchical_recall": 0.975,
        "hierarchical_f1": 0.978,
        "coverage": 0.9875,
        "precision_at_stop": 0.97,
        "n_test": 80,
        "per_class_recall": {"zero": 0.95, "six": six_recall, "one": 1.0, "four": 0.97},
    }


def check(scope: str, name: str, chal: float, live: float, status: str = "ok") -> dict:
    """One entry of promotion.json's ``checks``, as the promote stage writes it."""
    return {"scope": scope, "name": name, "challenger": chal, "live": live,
            "difference": round(chal - live, 4), "margin": 0.05, "n_images": 80,
            "p_value": 0.01 if status == "regression" else 0.4,
            "p_value_adjusted": 0.02 if status == "regression" else 0.8, "status": status}


def checks() -> list[dict]:
    return [
        check("node", "digit", 0.99, 0.98), check("node", "round", 0.90, 0.95, "inconclusive"),
        check("node", "straight", 0.97, 0.96), check("class", "zero", 0.95, 0.95),
        check("class", "six", 0.80, 0.95, "regression"), check("class", "one", 1.0, 1.0),
        check("class", "four", 0.97, 0.96),
    ]


def new_promotion(decision: str = "investigate", live: bool = True) -> dict:
    """promotion.json as the three-outcome promote stage writes it."""
    record = promotion("promote" if decision == "promote" else "investigate", live)
    del record["class_recall_drops"]
    if decision != "promote":
        record["decision"] = decision
        record["reason"] = ("regression beyond the margin in class 'six' (-0.150); "
                            "leaf_accuracy +0.0120 [95% CI +0.0040, +0.0205], McNemar p=0.0031")
    if live:
        record["live_before"]["run_id"] = "beef" * 8
        record["comparison"] = COMPARISON
        record["checks"] = checks()
    else:
        record["comparison"], record["checks"] = None, []
    record["failing"] = [c for c in record["checks"] if c["status"] != "ok"]
    return record


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
    return {"accuracy": 0.9375, "macro_f1": 0.8765, "ece": 0.0312, "n_test": 40,
            "classes": classes, "per_class": per_class}


def write_png(path: Path, colour: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 4), colour).save(path)
    return path.read_bytes()


def write_digit(path: Path, shade: int) -> None:
    """An 8x8 grey PNG like the sample's digits, its stroke at a row set by ``shade``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("L", (8, 8), shade)
    for x in range(1, 7):
        image.putpixel((x, shade % 8), 255 - shade)
    image.save(path)


def write_inputs(
    root: Path, decision: str = "promote", live: bool = True, new_shape: bool = False
) -> Paths:
    """Every input of the model card, for the taxonomy in :data:`TREE`.

    ``new_shape`` writes promotion.json as the three-outcome promote stage does (with a
    ``comparison`` block and per-node/class ``checks``); else the older shape.
    """
    paths = Paths(root)
    tree = taxonomy()
    record = new_promotion(decision, live) if new_shape else promotion(decision, live)
    _write_json(paths.promotion, record)
    _write_outcomes(paths, live)
    _write_json(paths.stack_metrics, stack_metrics(0.962))
    for node in tree.inner_nodes:
        _write_json(paths.node_metrics(node), node_metrics(list(tree.children[node])))
        write_png(paths.node_plots(node) / "confusion.png", "red")
    _write_json(paths.validation, {
        "success": True, "errors": [],
        "warnings": ["class 'four' has 12 images, fewer than the recommended 1000"],
        "counts": [{"node": "straight", "class": "four", "count": 12}], "n_images": 7,
        "corrections": {"excluded": 1, "test_labels_changed": 2},
        "data_docs": "docs/index.html",
    })
    (paths.validation.parent / "docs").mkdir()
    (paths.validation.parent / "docs" / "index.html").write_text("<html>Data Docs</html>")
    _write_manifest(paths)
    paths.rejects.write_text(
        "path,label,reason\n"
        "in/a.png,zero,duplicate\nin/b.png,six,duplicate\nin/c.png,seven,unknown label\n"
    )
    paths.params.write_text("seed: 42\nnotify:\n  kind: outbox\n")
    paths.node_params_dir.mkdir()
    paths.node_params("digit").write_text('{"classes": ["zero", "one"]}\n')
    (root / "dvc.lock").write_text(_DVC_LOCK)
    return paths


def image_id(i: int) -> str:
    return f"{i:064x}"


def stored(i: int) -> str:
    return f"data/images/{image_id(i)[-2:]}/{image_id(i)}.png"


def _write_manifest(paths: Paths) -> None:
    sources = ["sample", "sample", "sample", "scanner", "scanner", "sample", "sample"]
    paths.data.mkdir(parents=True, exist_ok=True)
    for i in range(len(LABELS)):
        write_digit(paths.root / stored(i), shade=20 * i + 10)
    pd.DataFrame({
        "id": [image_id(i) for i in range(len(LABELS))],
        "path": [f"images/{i}.png" for i in range(len(LABELS))],
        "label": LABELS, "source": sources, "set_id": [f"s{i // 2}" for i in range(len(LABELS))],
        "taken_at": pd.Timestamp("2024-05-01"), "width": 8, "height": 8,
        "stored": [stored(i) for i in range(len(LABELS))],
    }).to_parquet(paths.manifest)


def _write_outcomes(paths: Paths, live: bool) -> None:
    """reports/outcomes.parquet: both stacks on the manifest's images (live: None if none)."""
    tree = taxonomy()
    table = pd.DataFrame({
        "id": [image_id(i) for i in range(len(LABELS))],
        "set_id": [f"s{i // 2}" for i in range(len(LABELS))],
        "label": LABELS,
    })
    for side, outcomes in (("challenger", CHALLENGER_OUTCOMES), ("live", LIVE_OUTCOMES)):
        if side == "live" and not live:
            for column in ("predicted", "correct", "distance", "path"):
                table[f"live_{column}"] = None
            continue
        table[f"{side}_predicted"] = [p for p, _ in outcomes]
        table[f"{side}_correct"] = [p == t for (p, _), t in zip(outcomes, LABELS, strict=True)]
        table[f"{side}_distance"] = [
            tree.distance(p, t) for (p, _), t in zip(outcomes, LABELS, strict=True)
        ]
        table[f"{side}_path"] = [path for _, path in outcomes]
    paths.reports.mkdir(parents=True, exist_ok=True)
    table.to_parquet(paths.reports / "outcomes.parquet", index=False)


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
