from __future__ import annotations

import math
import shutil

import pytest
import torch

from taxonomist.errors import ConfigError
from taxonomist.train.augment import AugmentationPipeline, available, build_augmentation
from taxonomist.train.extra_augment import BBoxCropJitter, SamplePairing
from taxonomist.train.model import to_input_boxes

SOURCE = "conf/classifiers/round.yaml"


def batch(n: int = 4, size: int = 16) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "spec",
    [
        {"RandomHorizontalFlip": {}},
        {"RandomVerticalFlip": {"p": 1.0}},
        {"RandomRotation": {"degrees": 15}},
        {"ColorJiggle": {"brightness": 0.2, "saturation": 0.3, "hue": 0.05}},  # HSV
        {"RandomErasing": {"p": 1.0}},  # occlusion
        {"RandomResizedCrop": {"size": [16, 16], "scale": [0.6, 1.0]}},
        {"BBoxCropJitter": {"jitter": 0.2}},
        {"SamplePairing": {"p": 0.5}},
    ],
    ids=lambda spec: next(iter(spec)),
)
def test_each_toolkit_augmentation_builds_and_runs_on_a_batch(spec) -> None:
    augment = build_augmentation([spec], SOURCE)
    boxes = torch.tensor([[2.0, 2.0, 12.0, 12.0]] * 4)
    out = augment(batch(), boxes)
    assert out.shape == (4, 3, 16, 16) and torch.isfinite(out).all()


def test_ours_and_kornias_share_one_list_of_names() -> None:
    names = available()
    assert {"BBoxCropJitter", "SamplePairing", "RandomHorizontalFlip", "ColorJiggle"} <= set(names)
    with pytest.raises(ConfigError, match="(?s)'SamplePair'.*valid names: .*BBoxCropJitter.*"
                       "RandomHorizontalFlip.*SamplePairing"):
        build_augmentation([{"SamplePair": {}}], SOURCE)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"SamplePairing": {"p": 2}}, r"augment\[0\].SamplePairing: bad arguments: p must be"),
        ({"BBoxCropJitter": {"jiter": 0.1}}, r"BBoxCropJitter: bad arguments: .*'jiter'"),
        ({"BBoxCropJitter": {"jitter": 1.5}}, r"jitter must be in \[0, 1\), got 1.5"),
    ],
)
def test_bad_arguments_to_ours_name_the_key(spec, message) -> None:
    with pytest.raises(ConfigError, match=message):
        build_augmentation([spec], SOURCE)


def test_box_crop_after_a_geometric_augmentation_is_refused() -> None:
    specs = [{"ColorJiggle": {"hue": 0.1}}, {"RandomRotation": {"degrees": 5}},
             {"BBoxCropJitter": {}}]
    with pytest.raises(ConfigError, match=r"augment\[2\].BBoxCropJitter: .*RandomRotation at "
                       r"augment\[1\] moves the image"):
        build_augmentation(specs, SOURCE)
    build_augmentation([{"ColorJiggle": {"hue": 0.1}}, {"BBoxCropJitter": {}}], SOURCE)


def test_box_crop_is_a_no_op_without_boxes() -> None:
    x = batch()
    assert torch.equal(BBoxCropJitter()(x, None), x)
    assert torch.equal(BBoxCropJitter()(x, torch.full((4, 4), math.nan)), x)


def test_box_crop_without_jitter_shows_exactly_the_box() -> None:
    """A white square on black: cropped to the square, the whole image is white."""
    x = torch.zeros(2, 3, 16, 16)
    x[:, :, 4:12, 4:12] = 1.0
    boxes = torch.tensor([[4.0, 4.0, 11.0, 11.0], [math.nan] * 4])  # the second has no box
    out = BBoxCropJitter(jitter=0.0)(x, boxes)
    assert out[0].min() > 0.99
    assert torch.equal(out[1], x[1])


def test_box_crop_jitter_grows_or_shrinks_the_box_within_the_image() -> None:
    crop = BBoxCropJitter(jitter=0.5)
    boxes = torch.tensor([[0.0, 0.0, 15.0, 15.0], [4.0, 6.0, 8.0, 10.0]] * 50)
    corners = crop._jittered_corners(boxes, width=16, height=16)
    assert corners.min() >= 0 and corners.max() <= 15
    widths = corners[1::2, 1, 0] - corners[1::2, 0, 0]  # the small box, 4 px wide
    assert widths.min() < 3.5 and widths.max() > 4.5


def test_boxes_follow_the_resize_to_the_network_input() -> None:
    boxes = torch.tensor([[8.0, 4.0, 16.0, 12.0]])
    cached = torch.Size((1, 32, 32, 3))
    assert to_input_boxes(boxes, cached, 16).tolist() == [[4.0, 2.0, 8.0, 6.0]]


def partner_of(blend: torch.Tensor, own: torch.Tensor, batch: torch.Tensor) -> int | None:
    """The index of the image that ``blend`` averages ``own`` with, None if no image does."""
    partner = 2 * blend - own
    return next((j for j, x in enumerate(batch) if torch.allclose(x, partner, atol=1e-6)), None)


def test_sample_pairing_blends_each_image_with_a_different_one() -> None:
    x = batch(n=6)  # six different noise images: every pair blends to a different image
    torch.manual_seed(0)  # the permutation drawn under this seed moves every image
    out = SamplePairing(p=1.0)(x)
    partners = [partner_of(image, own, x) for image, own in zip(out, x, strict=True)]
    assert None not in partners, partners  # each output is its own image + one of the batch
    assert all(j != i for i, j in enumerate(partners)), partners  # ... never itself


def test_sample_pairing_is_off_for_the_last_epochs() -> None:
    pairing = SamplePairing(p=1.0, off_last_epochs=2)
    pipeline = AugmentationPipeline([pairing])
    x = torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])
    on = [e for e in range(10) if (pipeline.set_epoch(e, 10), pairing.enabled)[1]]
    assert on == list(range(8))
    pipeline.set_epoch(9, 10)
    assert torch.equal(pipeline(x), x)


def test_check_augmentations_names_the_node_file_that_has_the_typo(tmp_path) -> None:
    from taxonomist.config import Paths, compose_config
    from taxonomist.train.augment import check_augmentations
    from tests.conftest import REPO

    shutil.copytree(REPO / "conf", tmp_path / "conf")
    (tmp_path / "conf" / "classifiers" / "round.yaml").write_text(
        "augment:\n  - RandomAfine: {degrees: 5}\n"
    )
    config, paths = compose_config(tmp_path / "conf"), Paths(tmp_path)
    with pytest.raises(ConfigError, match=r"conf/classifiers/round.yaml: augment\[0\]: "
                       r"'RandomAfine'(.|\n)*did you mean RandomAffine"):
        check_augmentations(config, paths)
    (tmp_path / "conf" / "classifiers" / "round.yaml").unlink()
    check_augmentations(compose_config(tmp_path / "conf"), paths)
