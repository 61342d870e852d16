from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from taxonomist.train.losses import focal_loss

LOGITS = torch.tensor([[4.0, 0.0, 0.0], [0.2, 0.1, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 0.5]])
TARGETS = torch.tensor([0, 2, 2, 0])


@pytest.mark.parametrize("weight", [None, torch.tensor([1.0, 2.0, 0.5])])
def test_gamma_zero_is_cross_entropy(weight) -> None:
    expected = F.cross_entropy(LOGITS, TARGETS, weight=weight)
    assert torch.allclose(focal_loss(LOGITS, TARGETS, 0.0, weight), expected)


def test_focal_loss_counts_easy_images_for_little() -> None:
    ce = F.cross_entropy(LOGITS, TARGETS, reduction="none")
    per_image = torch.stack([focal_loss(LOGITS[i : i + 1], TARGETS[i : i + 1]) for i in range(4)])
    ratio = per_image / ce
    assert (per_image < ce).all()
    assert ratio[0] < ratio[1]  # the confident, right first image is damped the most
    assert torch.allclose(ratio, (1 - torch.exp(-ce)) ** 2)  # (1 - p_t) ** gamma
