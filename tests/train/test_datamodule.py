"""How a node's train split is weighted or sampled when its classes are imbalanced, and
batched so that BatchNorm can train on every batch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from taxonomist.config.schema import Balance
from taxonomist.train.datamodule import NodeDataModule, NodeSplit, class_weights


def split_of(counts: list[int]) -> NodeSplit:
    """A node split with ``counts[c]`` images of class ``c`` (blank 2x2 images)."""
    targets = np.repeat(np.arange(len(counts)), counts)
    images = np.zeros((len(targets), 2, 2, 3), dtype=np.uint8)
    return NodeSplit(images, np.arange(len(targets)), targets)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([16, 16, 16, 16], [1.0, 1.0, 1.0, 1.0]),
        # n / (k * n_c) with n = 12, k = 3: 12/18, 12/12, 12/6
        ([6, 4, 2], [2 / 3, 1.0, 2.0]),
        # an empty class counts as one image, so its weight is finite: 10/(4*1)
        ([6, 3, 1, 0], [10 / 24, 10 / 12, 10 / 4, 10 / 4]),
    ],
    ids=["balanced", "imbalanced", "an-empty-class"],
)
def test_class_weights_are_inverse_frequency(counts: list[int], expected: list[float]) -> None:
    weights = class_weights(split_of(counts), len(counts))
    assert weights.tolist() == pytest.approx(expected)


def test_class_weights_average_one_over_the_images() -> None:
    split = split_of([6, 4, 2])
    assert class_weights(split, 3)[split.targets].mean().item() == pytest.approx(1.0)


def classes_drawn_in_one_epoch(counts: list[int], balance: Balance) -> list[int]:
    """How many images of each class the train loader yields in one epoch (seed 0)."""
    data = NodeDataModule(split_of(counts), split_of([1]), len(counts), 16, balance)
    torch.manual_seed(0)
    targets = torch.cat([batch[1] for batch in data.train_dataloader()])
    return torch.bincount(targets, minlength=len(counts)).tolist()


IMBALANCED = [300, 100, 50, 50]  # 500 images, the largest class six times the smallest


def test_sampler_draws_every_class_about_equally() -> None:
    drawn = classes_drawn_in_one_epoch(IMBALANCED, Balance.sampler)
    assert sum(drawn) == sum(IMBALANCED)  # an epoch is still one pass's worth of draws
    assert all(100 <= n <= 150 for n in drawn), drawn  # 125 each; sd ~10 per class


@pytest.mark.parametrize("balance", [Balance.none, Balance.weights, Balance.focal])
def test_without_the_sampler_an_epoch_is_each_image_once(balance: Balance) -> None:
    assert classes_drawn_in_one_epoch(IMBALANCED, balance) == IMBALANCED


@pytest.mark.parametrize(("images", "sizes"), [(17, [16]), (18, [16, 2]), (16, [16])])
def test_no_train_batch_holds_a_single_image(images: int, sizes: list[int]) -> None:
    data = NodeDataModule(split_of([images]), split_of([1]), 1, 16, Balance.none)
    assert [len(batch[1]) for batch in data.train_dataloader()] == sizes


def test_with_leaf_targets_each_label_is_weighted_not_its_family() -> None:
    # two families: one of three leaves (labels 0, 1, 2), one of a single leaf (label 3),
    # ten images each; weighted by family, each of the three would count a third as much
    split = replace(split_of([30, 10]), labels=np.repeat(np.arange(4), 10))
    assert class_weights(split, 4).tolist() == pytest.approx([1.0] * 4)
