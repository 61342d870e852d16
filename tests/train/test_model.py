from __future__ import annotations

import pytest
import timm
import torch

from taxonomist.config.schema import BackboneConfig
from taxonomist.errors import ConfigError
from taxonomist.train.augment import build_augmentation
from taxonomist.train.backbone import create_backbone
from taxonomist.train.model import freeze, frozen_norm_layers


def trainable_prefixes(model) -> set[str]:
    return {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize(
    ("unfreeze_last", "expected"),
    [
        (0, {"fc"}),  # head only
        (1, {"fc", "layer4"}),
        (2, {"fc", "layer4", "layer3"}),
        (-1, {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"}),
    ],
)
def test_freeze_opens_the_head_and_the_last_n_blocks(unfreeze_last, expected) -> None:
    model = timm.create_model("resnet10t", num_classes=3)
    freeze(model, unfreeze_last)
    assert trainable_prefixes(model) == expected


def test_frozen_batchnorm_layers_are_found_to_keep_in_eval() -> None:
    model = timm.create_model("resnet10t", num_classes=3)
    freeze(model, 1)
    frozen = frozen_norm_layers(model)
    assert frozen and all(not p.requires_grad for m in frozen for p in m.parameters())
    assert not any(m is model.layer4[0].bn1 for m in frozen)


def test_unknown_backbone_suggests_close_names() -> None:
    message = "(?s)'resnet81' is not a timm model.*did you mean resnet18"
    with pytest.raises(ConfigError, match=message):
        create_backbone(BackboneConfig(name="resnet81", pretrained=False), 3, "x.yaml")


def test_missing_local_weights_file(tmp_path) -> None:
    cfg = BackboneConfig(name="test_resnet", weights=str(tmp_path / "nope.pth"))
    with pytest.raises(ConfigError, match="backbone.weights: no such file"):
        create_backbone(cfg, 3, "x.yaml")


def test_local_weights_file_is_loaded_with_a_new_head(tmp_path) -> None:
    donor = timm.create_model("test_resnet", num_classes=5)
    torch.save(donor.state_dict(), tmp_path / "w.pth")
    model = create_backbone(
        BackboneConfig(name="test_resnet", weights=str(tmp_path / "w.pth")), 3, "x.yaml"
    )
    assert model.get_classifier().out_features == 3
    first = next(iter(donor.state_dict()))
    assert torch.equal(model.state_dict()[first], donor.state_dict()[first])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([{"RandomFlip": {}}], r"'RandomFlip' is not a kornia augmentation.*RandomHorizontalFlip"),
        ([{"RandomAffine": {"degree": 3}}], r"augment\[0\].RandomAffine: bad arguments"),
        ([{"RandomAffine": {}, "RandomErasing": {}}], r"expected one augmentation name"),
    ],
)
def test_bad_augmentations_name_the_valid_ones(spec, message) -> None:
    with pytest.raises(ConfigError, match=f"(?s){message}"):
        build_augmentation(spec, "conf/classifiers/round.yaml")
