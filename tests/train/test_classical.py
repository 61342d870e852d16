from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taxonomist.config import Paths, compose_config
from taxonomist.contracts.cache import load_node_split
from taxonomist.evaluate.predict import predict_proba
from taxonomist.train.artifact import load_node_model
from taxonomist.train.fit import train_node
from tests.train.test_fit import ROUND, fake_cache


def overrides(head: str, *extra: str) -> list[str]:
    return [
        "classifiers.round.backbone.name=test_resnet",
        "classifiers.round.image_size=16",
        f"classifiers.round.head={head}",
        *extra,
    ]


@pytest.fixture
def paths(project: Path, mlflow_store: Path) -> Paths:
    paths = Paths(project)
    fake_cache(paths, {"train": 80, "val": 20, "test": 40})
    return paths


@pytest.mark.parametrize("head", ["knn", "svm", "logreg"])
def test_classical_head_trains_registers_and_predicts(paths: Paths, head: str) -> None:
    result = train_node(
        "round", compose_config(overrides=overrides(head, "classifiers.round.pca=8")), paths
    )
    assert result.registered_model == "digits.round"
    folder = paths.model_dir("round")
    assert (folder / "head.skops").exists() and (folder / "model.safetensors").exists()
    spec, model = load_node_model(folder)
    assert spec.head == head
    test = load_node_split(paths, "round", "test")
    rows = np.flatnonzero(test.index["label"].isin(ROUND).to_numpy())
    proba = predict_proba(model, spec, test.images[rows])
    assert np.allclose(proba.sum(1), 1.0, atol=1e-4)
    truth = [ROUND.index(label) for label in test.index["label"].iloc[rows]]
    assert (proba.argmax(1) == truth).mean() > 0.9


def test_embeddings_are_extracted_once_per_backbone(paths: Paths) -> None:
    train_node("round", compose_config(overrides=overrides("logreg")), paths)
    cached = sorted((paths.root / "checkpoints" / "round").glob("embeddings-*.npy"))
    stamps = [p.stat().st_mtime_ns for p in cached]
    train_node("round", compose_config(overrides=overrides("knn")), paths)
    again = sorted((paths.root / "checkpoints" / "round").glob("embeddings-*.npy"))
    assert again == cached and [p.stat().st_mtime_ns for p in again] == stamps
    assert len(cached) == 2  # train and val
