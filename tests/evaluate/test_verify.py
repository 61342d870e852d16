"""bench/verify.py: the registered stack, loaded back from MLflow and sent the stored test
files, must score what metrics/stack.json publishes, and a wrong published number fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import verify
from taxonomist.config import Paths
from taxonomist.contracts.cache import STACK, load_node_split
from tests.serve.stacks import make_registry


def write_stored_test_split(paths: Paths) -> None:
    """The stack's cached test images as stored PNG files, with the manifest and split
    rows that name them: what ingest and split would have written."""
    test = load_node_split(paths, STACK, "test")
    stored = [f"data/images/{image_id}.png" for image_id in test.index["id"]]
    for image, path in zip(test.images, stored, strict=True):
        (paths.root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(image)).save(paths.root / path)
    ids = test.index["id"]
    pd.DataFrame({"id": ids, "label": test.index["label"], "stored": stored}).to_parquet(
        paths.manifest)
    pd.DataFrame({"id": ids, "split": "test"}).to_parquet(paths.splits)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """A project whose registry holds a stack registered by ``build_stack``."""
    registry = make_registry(tmp_path_factory.mktemp("verify"), seeds=(1,))
    paths = Paths(registry.root)
    write_stored_test_split(paths)
    return paths


def verify_args(paths: Paths) -> list[str]:
    """The project's root, and a results folder of the test's own (not bench/results/)."""
    return ["--root", str(paths.root), "--results-dir", str(paths.root / "bench-results")]


@pytest.mark.slow  # registers a stack and loads it back from MLflow
def test_the_registered_stack_scores_what_stack_json_publishes(registered: Paths,
                                                               capsys) -> None:
    assert verify.main(verify_args(registered)) == 0
    published = json.loads(registered.stack_metrics.read_text())["leaf_accuracy"]
    assert f"leaf accuracy {published:.4f} on 20 test images" in capsys.readouterr().out
    result = json.loads((registered.root / "bench-results" / "verify.json").read_text())
    recomputed, stated = result["tables"]["accuracy"]["rows"]
    assert recomputed[1]["value"] == pytest.approx(published, abs=5e-5)
    assert stated[1]["value"] == published


@pytest.mark.slow  # registers a stack and loads it back from MLflow
def test_a_published_number_the_stack_does_not_score_fails(registered: Paths,
                                                           tmp_path: Path, capsys) -> None:
    metrics = registered.stack_metrics
    kept = metrics.read_text()
    published = json.loads(kept)
    try:
        metrics.write_text(json.dumps(published | {"leaf_accuracy": published["leaf_accuracy"]
                                                   + 0.05}))
        assert verify.main(verify_args(registered)) == 1
        assert "MISMATCH" in capsys.readouterr().err
    finally:
        metrics.write_text(kept)


@pytest.mark.parametrize(("answers", "expected"), [
    (["zero", "one", "two", "three"], 1.0),
    (["zero", "one", "two", None], 0.75),  # stopped at the root: wrong
    (["zero", "straight", "two", "five"], 0.5),  # stopped at the right parent: wrong
])
def test_leaf_accuracy_counts_only_the_leaf_itself(answers: list, expected: float) -> None:
    labels = np.array(["zero", "one", "two", "three"], dtype=object)
    assert verify.leaf_accuracy(labels, np.array(answers, dtype=object)) == expected


def test_only_leaf_labelled_test_rows_are_sent(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    paths.data.mkdir()
    pd.DataFrame({"id": ["a", "b", "c", "d"], "split": ["test", "test", "train", "test"]}
                 ).to_parquet(paths.splits)
    pd.DataFrame({"id": ["d", "c", "b", "a"], "label": ["one", "two", "round", "zero"],
                  "stored": ["d.png", "c.png", "b.png", "a.png"]}).to_parquet(paths.manifest)
    rows = verify.leaf_test_rows(paths, ["zero", "one", "two"])
    assert rows[["id", "label", "stored"]].values.tolist() == [
        ["a", "zero", "a.png"], ["d", "one", "d.png"]]


def test_verify_leaves_no_tracking_uri_for_later_subprocesses(registered: Paths,
                                                               monkeypatch) -> None:
    # mlflow.set_tracking_uri exports $MLFLOW_TRACKING_URI: a later `dvc repro` in the same
    # process tree would register its stack in this store
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mlflow.set_tracking_uri(None)  # no URI left in this process by an earlier test either
    verify.main(verify_args(registered))
    assert "MLFLOW_TRACKING_URI" not in os.environ
