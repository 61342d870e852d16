from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from mlflow import MlflowClient
from pytorch_lightning import seed_everything
from safetensors.torch import load_file

from taxonomist.config import Paths, compose_config
from taxonomist.contracts.cache import STACK, CachedSplit, save_node_split
from taxonomist.train.fit import train_node

ROUND = ["zero", "six", "eight", "nine"]
# Every cache of the digits taxonomy; the fake one gives each node the same images.
CACHES = ("digit", "round", "straight", "curved", STACK)


def fake_cache(paths: Paths, per_split: dict[str, int], seed: int = 0) -> None:
    """Images whose brightness encodes the class, so a network can learn them."""
    rng = np.random.default_rng(seed)
    for split, n in per_split.items():
        labels = [ROUND[i % 4] for i in range(n)] + ["one"] * 3  # 'one' is not under round
        level = np.array([ROUND.index(x) * 60 if x in ROUND else 255 for x in labels])
        noise = rng.integers(0, 20, (len(labels), 16, 16, 3))
        images = (level[:, None, None, None] + noise).clip(0, 255).astype(np.uint8)
        index = pd.DataFrame({"id": [f"{split}{i}" for i in range(len(labels))], "label": labels})
        for node in CACHES:
            save_node_split(paths, node, split, CachedSplit(images, index))


@pytest.fixture
def tiny(project: Path, mlflow_store: Path):
    overrides = [
        "classifiers.round.backbone.name=test_resnet",
        "classifiers.round.image_size=16",
        "classifiers.round.epochs=2",
        "classifiers.round.batch_size=16",
    ]
    paths = Paths(project)
    fake_cache(paths, {"train": 64, "val": 16, "test": 16})
    return paths, overrides


def test_trains_tracks_and_registers_one_node(tiny) -> None:
    paths, overrides = tiny
    result = train_node("round", compose_config(overrides=overrides), paths)
    folder = paths.model_dir("round")
    assert {p.name for p in folder.iterdir()} >= {"model.safetensors", "spec.json", "run.json"}
    assert json.loads((folder / "spec.json").read_text())["classes"] == ROUND
    client = MlflowClient(f"sqlite:///{paths.root / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(result.run_id)
    assert run.data.params["n_train"] == "64"  # the three 'one' images are not round's
    assert run.data.params["class_weight.six"] == "1.0"
    history = client.get_metric_history(result.run_id, "val_loss")
    assert len(history) == result.epochs
    assert result.registered_model == "digits.round" and result.version == "1"
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "model")}
    assert "model/model.safetensors" in artifacts
    assert (paths.root / "mlflow" / "artifacts").is_dir()  # not ./mlruns


def test_head_only_leaves_the_backbone_untouched(tiny) -> None:
    """Weights and BatchNorm running statistics outside the head stay as initialised."""
    paths, overrides = tiny
    config = compose_config(overrides=[*overrides, "classifiers.round.backbone.unfreeze_last=0"])
    train_node("round", config, paths)
    trained = load_file(paths.model_dir("round") / "model.safetensors")
    seed_everything(config.project.seed)  # as train_node does before creating the model
    initial = timm.create_model("test_resnet", num_classes=4).state_dict()
    changed = {k for k in trained if not torch.equal(trained[k], initial[k])}
    assert changed == {"fc.weight", "fc.bias"}
