"""Detectors for the detect stage's tests, never downloaded and never trained.

- :class:`DrawnBoxFinder` finds the drawn red rectangle by its colour and answers in
  torchvision's detection interface: the same boxes and scores on every CPU, so the tests
  of the stage's own logic (boxes, the review list, relabelling, the manifest join, crops,
  serving) never hinge on a network's training. A detector trained in the test did: the
  same seed and one thread left one place scoring 0.31-0.49 after 80 SGD steps on one
  machine, and no box at all after 200 on another.
- :func:`untrained_detector` is the real torchvision model as built from a seed, for the
  test that runs the stages in their own processes through ``dvc repro``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import detection
from torchvision.ops import box_iou

from taxonomist.data import detector

MODEL = "fasterrcnn_mobilenet_v3_large_320_fpn"
SIZE = 64
BUILDER_ARGS = {"min_size": SIZE, "max_size": SIZE}
# where an object is drawn: one of these boxes (x0, y0, x1, y1), off the centre
BOXES = ((30, 6, 60, 36), (4, 26, 34, 58))
RED = (242, 25, 25)
CONFIDENCE = 0.9  # DrawnBoxFinder's score for a box wholly of the colour


def drawn(seed: int, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """A SIZE x SIZE grey-noise image, with a red rectangle at ``box`` unless it is None."""
    pixels = np.random.default_rng(seed).integers(76, 102, (SIZE, SIZE, 3)).astype(np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        pixels[y0:y1, x0:x1] = RED
    return pixels


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


class DrawnBoxFinder(torch.nn.Module):
    """Boxes the pixels within ``tolerance`` of ``colour`` (at least ``min_pixels`` of
    them), scored :data:`CONFIDENCE` times the share of the box they fill (short of 1, as
    a real detector's scores are, so ``min_score: 1.0`` means that nothing counts); no
    box where there are fewer pixels.

    Takes and returns what torchvision's detectors do in eval mode: a list of (3, H, W)
    float images in [0, 1]; per image ``{"boxes": (n, 4), "scores": (n,), "labels": (n,)}``
    with label 1. Its state_dict (the colour) makes a weights file like a real one's.
    """

    def __init__(self, colour: tuple[int, int, int] = RED, tolerance: float = 0.05,
                 min_pixels: int = 16) -> None:
        super().__init__()
        self.register_buffer("colour", torch.tensor(colour, dtype=torch.float32) / 255)
        self.tolerance, self.min_pixels = tolerance, min_pixels

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        return [self._find(image) for image in images]

    def _find(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        mask = ((image - self.colour[:, None, None]).abs() <= self.tolerance).all(dim=0)
        if int(mask.sum()) < self.min_pixels:
            return {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0),
                    "labels": torch.zeros(0, dtype=torch.int64)}
        rows, cols = mask.nonzero(as_tuple=True)
        y0, y1, x0, x1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        score = CONFIDENCE * mask[y0:y1, x0:x1].float().mean()
        return {"boxes": torch.tensor([[x0, y0, x1, y1]], dtype=torch.float32),
                "scores": score.reshape(1), "labels": torch.ones(1, dtype=torch.int64)}


def load_drawn_box_finder(weights: Path) -> DrawnBoxFinder:
    """The finder with the colour its weights file holds (loaded as a real one would be)."""
    finder = DrawnBoxFinder()
    finder.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return finder


@contextmanager
def finding_drawn_boxes(weights: Path) -> Iterator[Path]:
    """Within the block, the configured detector is a DrawnBoxFinder loaded from
    ``weights`` (written here): everything after building the model runs as it is."""
    torch.save(DrawnBoxFinder().state_dict(), weights)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(detector, "_build", lambda settings: load_drawn_box_finder(settings.weights))
        yield weights


def untrained_detector(path: Path) -> Path:
    """The state_dict of the tiny detector as built, never trained."""
    torch.manual_seed(0)
    model = getattr(detection, MODEL)(weights=None, weights_backbone=None, num_classes=2,
                                      **BUILDER_ARGS)
    torch.save(model.state_dict(), path)
    return path


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """The intersection over union of two (x0, y0, x1, y1) boxes."""
    return float(box_iou(torch.tensor([a], dtype=torch.float32),
                         torch.tensor([b], dtype=torch.float32)))
