"""train_node with the toolkit switched on: boxes, pairing, focal loss, init_from, schedules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from mlflow import MlflowClient
from PIL import Image
from pytorch_lightning import seed_everything
from safetensors.torch import load_file

from taxonomist.cli import main
from taxonomist.config import Paths, compose_config
from taxonomist.contracts.cache import index_file, load_node_split
from taxonomist.errors import ConfigError
from taxonomist.train.artifact import load_node_model
from taxonomist.train.datamodule import _Batches, node_split
from taxonomist.train.extra_augment import BBoxCropJitter, SamplePairing
from taxonomist.train.fit import train_node
from tests.train.test_fit import fake_cache

BOX_COLUMNS = ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]


def tiny(node: str, *extra: str) -> list[str]:
    return [
        f"classifiers.{node}.backbone.name=test_resnet",
        f"classifiers.{node}.image_size=16",
        f"classifiers.{node}.epochs=2",
        f"classifiers.{node}.batch_size=16",
        f"classifiers.{node}.augment=[]",
        *extra,
    ]


def add_boxes(paths: Paths, split: str, every: int = 2) -> None:
    """Boxes on every ``every``-th image (NaN on the others), in cache pixels (16 px)."""
    index = pd.read_parquet(index_file(paths, "round", split))
    boxes = np.tile(np.array([2.0, 3.0, 12.0, 13.0]), (len(index), 1))
    boxes[np.arange(len(index)) % every != 0] = np.nan
    index[BOX_COLUMNS] = boxes
    index.to_parquet(index_file(paths, "round", split), index=False)


def trained_keys(paths: Paths, extra: list[str]) -> set[str]:
    """Train node round with ``extra`` overrides; the weights that moved from their start
    (and those the start lacks: a replaced head)."""
    config = compose_config(overrides=tiny("round", *extra))
    train_node("round", config, paths)
    trained = load_file(paths.model_dir("round") / "model.safetensors")
    seed_everything(config.project.seed)  # as train_node does before creating the model
    initial = timm.create_model("test_resnet", num_classes=4).state_dict()
    return {k for k in trained if k not in initial or not torch.equal(trained[k], initial[k])}


@pytest.fixture
def paths(project: Path, mlflow_store: Path) -> Paths:
    paths = Paths(project)
    fake_cache(paths, {"train": 64, "val": 16, "test": 16})
    return paths


def test_batches_carry_boxes_only_when_the_cache_has_them(paths: Paths) -> None:
    config = compose_config()
    plain = node_split(load_node_split(paths, "round", "train"), config.taxonomy, "round")
    assert plain.boxes is None and len(_Batches(plain)[[0, 1]]) == 2
    add_boxes(paths, "train")
    boxed = node_split(load_node_split(paths, "round", "train"), config.taxonomy, "round")
    images, targets, boxes = _Batches(boxed)[[0, 1, 2]]
    assert boxes.shape == (3, 4) and torch.isnan(boxes[1]).all()
    assert boxes[0].tolist() == [2.0, 3.0, 12.0, 13.0]


def test_all_nan_boxes_count_as_no_boxes(paths: Paths) -> None:
    add_boxes(paths, "train", every=10**9)  # only row 0 would have one...
    index = pd.read_parquet(index_file(paths, "round", "train"))
    index.loc[0, BOX_COLUMNS] = np.nan  # ...and not even that
    index.to_parquet(index_file(paths, "round", "train"), index=False)
    split = node_split(load_node_split(paths, "round", "train"), compose_config().taxonomy, "round")
    assert split.boxes is None


def test_boxes_reach_the_crop_and_pairing_stops_for_the_last_epoch(paths, monkeypatch) -> None:
    add_boxes(paths, "train")
    seen_boxes, pairing = [], []
    crop, set_epoch = BBoxCropJitter.forward, SamplePairing.set_epoch

    def spy_crop(self, x, boxes=None):
        seen_boxes.append(boxes)
        return crop(self, x, boxes)

    def spy_set_epoch(self, epoch, max_epochs):
        set_epoch(self, epoch, max_epochs)
        pairing.append((epoch, max_epochs, self.enabled))

    monkeypatch.setattr(BBoxCropJitter, "forward", spy_crop)
    monkeypatch.setattr(SamplePairing, "set_epoch", spy_set_epoch)
    augment = "[{BBoxCropJitter: {jitter: 0.2}}, {SamplePairing: {off_last_epochs: 1}}]"
    config = compose_config(overrides=tiny("round", f"classifiers.round.augment={augment}",
                                           "classifiers.round.balance=focal"))
    result = train_node("round", config, paths)
    assert pairing == [(0, 2, True), (1, 2, False)]
    assert seen_boxes and all(b is not None and b.shape[1] == 4 for b in seen_boxes)
    run = MlflowClient(f"sqlite:///{paths.root / 'mlflow' / 'mlflow.db'}").get_run(result.run_id)
    assert run.data.params["balance"] == "focal" and run.data.params["focal_gamma"] == "2.0"


def test_gradual_unfreezing_trains_only_the_opened_blocks(paths: Paths) -> None:
    extra = ["classifiers.round.backbone.strategy=last_n",
             "classifiers.round.backbone.unfreeze_last=1",
             "classifiers.round.backbone.unfreeze_every=1"]
    changed = {key.split(".")[0] for key in trained_keys(paths, extra)}
    assert changed == {"fc", "layer4"}  # layer4 opened for epoch 1, nothing else


def test_an_mlp_head_trains_alone_head_only_and_reloads_as_trained(paths: Paths) -> None:
    extra = ["classifiers.round.head=mlp", "classifiers.round.mlp_hidden=8",
             "classifiers.round.backbone.unfreeze_last=0",
             "classifiers.round.targets=children"]  # the network itself loads back, no wrapper
    changed = trained_keys(paths, extra)
    assert changed == {"fc.0.weight", "fc.0.bias", "fc.3.weight", "fc.3.bias"}
    spec, model = load_node_model(paths.model_dir("round"))
    assert (spec.head, spec.mlp_hidden) == ("mlp", 8)
    assert model.fc[0].out_features == 8 and model.fc[3].out_features == 4
    images = torch.rand(2, 3, 16, 16)
    assert model(images).shape == (2, 4)


def test_init_from_starts_from_the_other_nodes_backbone(paths: Paths) -> None:
    train_node("round", compose_config(overrides=tiny("round")), paths)
    extra = ["classifiers.digit.backbone.init_from=round",
             "classifiers.digit.backbone.unfreeze_last=0",  # head only: the backbone stays
             "classifiers.digit.targets=children"]  # one output per child (the sample: leaves)
    train_node("digit", compose_config(overrides=tiny("digit", *extra)), paths)
    donor = load_file(paths.model_dir("round") / "model.safetensors")
    model = load_file(paths.model_dir("digit") / "model.safetensors")
    backbone = [k for k in donor if not k.startswith("fc.")]
    assert all(torch.equal(model[k], donor[k]) for k in backbone)
    assert model["fc.weight"].shape[0] == 3 and donor["fc.weight"].shape[0] == 4
    spec = json.loads((paths.model_dir("digit") / "spec.json").read_text())
    assert spec["classes"] == ["round", "straight", "curved"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], r"backbone.init_from: node 'round' has no trained model.*dvc repro train@round"),
        (["classifiers.digit.head=knn"], r"backbone.init_from: works with `head: linear` only"),
    ],
)
def test_init_from_fails_before_training(paths: Paths, extra, message) -> None:
    config = compose_config(
        overrides=tiny("digit", "classifiers.digit.backbone.init_from=round", *extra)
    )
    with pytest.raises(ConfigError, match=f"(?s){message}"):
        train_node("digit", config, paths)


def test_augment_preview_writes_a_grid_without_the_stale_check(paths: Paths, capsys) -> None:
    add_boxes(paths, "train")
    (paths.conf / "classifiers" / "round.yaml").write_text(
        "image_size: 16\naugment:\n  - BBoxCropJitter: {jitter: 0.2}\n"
        "  - RandomHorizontalFlip: {}\n  - SamplePairing: {p: 0.5}\n"
    )
    assert not paths.params.exists()  # a stage verb would refuse to run here
    assert main(["augment-preview", "round", "--n", "8"]) == 0
    out = paths.root / "reports" / "augment" / "round.png"
    assert str(out.relative_to(paths.root)) in capsys.readouterr().out
    # 8 images -> 3 x 3 tiles of 16 px enlarged 6x, 2 px apart
    assert Image.open(out).size == (3 * 96 + 4 * 2, 3 * 96 + 4 * 2)


def test_augment_preview_rejects_an_unknown_node(paths: Paths, capsys) -> None:
    assert main(["augment-preview", "six"]) == 2
    assert "not an inner node" in capsys.readouterr().err
