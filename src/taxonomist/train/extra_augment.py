"""The two batch augmentations kornia lacks: bounding-box crop jitter and sample pairing.

They run on whole float batches on the device, like kornia's, and are named in the same
``augment:`` list of a classifier definition (see :mod:`taxonomist.train.augment`).
"""

from __future__ import annotations

import torch
from kornia.geometry.transform import crop_and_resize
from torch import nn


class BatchAugmentation(nn.Module):
    """Base class: fill in ``forward(x, boxes)``; ``set_epoch`` is there if the epoch matters.

    ``x`` is a float batch (B, 3, H, W) in [0, 1]; ``boxes`` is (B, 4) ``x0, y0, x1, y1``
    in pixels of ``x``, NaN where an image has no box, or None when no image has one.
    """

    def forward(self, x: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def set_epoch(self, epoch: int, max_epochs: int) -> None:
        """Called at the start of every training epoch (0-based)."""


class BBoxCropJitter(BatchAugmentation):
    """Crop each image to its bounding box grown or shrunk by a random factor, then resize.

    The box keeps its centre; its width and height are scaled by one factor drawn
    uniformly from ``[1 - jitter, 1 + jitter]`` per image, and clamped to the image.
    Images without a box (NaN), and whole batches without boxes, pass unchanged.

    Args:
        jitter: the largest relative change of the box size, e.g. 0.2 for ±20%.
        p: the probability that an image with a box is cropped.

    Example:
        ``- BBoxCropJitter: {jitter: 0.15, p: 0.8}`` in ``conf/classifiers/<node>.yaml``.
    """

    def __init__(self, jitter: float = 0.1, p: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.jitter, self.p = jitter, p

    def forward(self, x: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        if boxes is None:
            return x
        boxes = boxes.to(device=x.device, dtype=x.dtype)
        chosen = _has_box(boxes) & (torch.rand(len(x), device=x.device) < self.p)
        if not chosen.any():
            return x
        corners = self._jittered_corners(boxes[chosen], x.shape[-1], x.shape[-2])
        out = x.clone()
        out[chosen] = crop_and_resize(x[chosen], corners, (x.shape[-2], x.shape[-1]))
        return out

    def _jittered_corners(self, boxes: torch.Tensor, width: int, height: int) -> torch.Tensor:
        """(n, 4) boxes -> (n, 4, 2) corners (clockwise from top-left), inside the image."""
        scale = 1.0 + (torch.rand(len(boxes), device=boxes.device) * 2 - 1) * self.jitter
        centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        half_w = (boxes[:, 2] - boxes[:, 0]) * scale / 2
        half_h = (boxes[:, 3] - boxes[:, 1]) * scale / 2
        x0 = (centre_x - half_w).clamp(0, width - 1)
        x1 = torch.maximum((centre_x + half_w).clamp(0, width - 1), x0 + 1).clamp(max=width - 1)
        y0 = (centre_y - half_h).clamp(0, height - 1)
        y1 = torch.maximum((centre_y + half_h).clamp(0, height - 1), y0 + 1).clamp(max=height - 1)
        top_left, top_right = torch.stack([x0, y0], 1), torch.stack([x1, y0], 1)
        bottom_right, bottom_left = torch.stack([x1, y1], 1), torch.stack([x0, y1], 1)
        return torch.stack([top_left, top_right, bottom_right, bottom_left], dim=1)


def _has_box(boxes: torch.Tensor) -> torch.Tensor:
    """Rows with a usable box: finite, with positive width and height."""
    finite = torch.isfinite(boxes).all(dim=1)
    return finite & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


class SamplePairing(BatchAugmentation):
    """Average each image with another image of the batch; the label stays the first's.

    Inoue (2018), "Data Augmentation by Pairing Samples for Images Classification":
    the blended images regularise training, and switching pairing off for the final
    epochs lets the network settle on real images again.

    Args:
        p: the probability that an image is paired.
        off_last_epochs: no pairing during this many final epochs (of ``epochs``).
    """

    def __init__(self, p: float = 1.0, off_last_epochs: int = 1) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        if off_last_epochs < 0:
            raise ValueError(f"off_last_epochs must be 0 or more, got {off_last_epochs}")
        self.p, self.off_last_epochs = p, off_last_epochs
        self.enabled = True

    def set_epoch(self, epoch: int, max_epochs: int) -> None:
        self.enabled = epoch < max_epochs - self.off_last_epochs

    def forward(self, x: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        if not self.enabled or len(x) < 2:
            return x
        partner = x[torch.randperm(len(x), device=x.device)]
        paired = (torch.rand(len(x), device=x.device) < self.p).view(-1, 1, 1, 1)
        return torch.where(paired, (x + partner) / 2, x)


OURS: dict[str, type[BatchAugmentation]] = {
    "BBoxCropJitter": BBoxCropJitter,
    "SamplePairing": SamplePairing,
}
