"""Two detectors for the detect stage's tests, neither downloaded.

- :class:`DrawnBoxFinder` finds the drawn red rectangle by its colour and answers in
  torchvision's detection interface: the same boxes and scores on every CPU, so the tests
  of the stage's own logic (boxes, the review list, relabelling, the manifest join, crops,
  serving) never hinge on how training went on the machine that runs them.
- :func:`train_tiny_detector` trains ``fasterrcnn_mobilenet_v3_large_320_fpn`` from
  scratch at 64 px, for the one end-to-end test through a real ``dvc repro``. How many SGD
  steps it needs depends on the CPU: the same seed and one thread left one place scoring
  0.31-0.49 after 80 steps on one machine, and no box at all after 200 on another. So it
  trains until held-out images (seeds the tests never draw) pass :data:`READY`, with a
  margin over what that test asks, and starts again from another seed if a start has not
  got there in :data:`MAX_STEPS`: only the training time varies by machine.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
CHECK_EVERY, MAX_STEPS, STARTS = 50, 400, 4
HELD_OUT = range(100_000, 100_012)  # image seeds for the readiness check, per place


@dataclass(frozen=True)
class Ready:
    """What the held-out images must show before a test may use the detector."""

    min_object_score: float = 0.7  # the detect stage's min_score in the test: 0.5
    min_iou: float = 0.5  # the crop must hold mostly red: the test asks 35 % of it
    max_blank_score: float = 0.3  # below min_score, so blanks go to review


READY = Ready()


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


def train_tiny_detector(path: Path) -> Path:
    """Train the detector until it is :data:`READY` and save its state_dict at ``path``
    (about 40 s on one core of an idle 2-core machine; longer where it needs more steps).

    Raises:
        RuntimeError: no start reached READY; the message gives the last check's figures.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # no spinning on a busy machine
    try:
        shortfall = ""
        for seed in range(STARTS):
            model, shortfall = _train_until_ready(seed)
            if not shortfall:
                torch.save(model.state_dict(), path)
                return path
        raise RuntimeError(f"the tiny detector missed {READY} after {STARTS} starts of "
                           f"{MAX_STEPS} steps: {shortfall}")
    finally:
        torch.set_num_threads(threads)


def _train_until_ready(seed: int) -> tuple[torch.nn.Module, str]:
    """A model trained from ``seed`` until READY (shortfall ""), or for MAX_STEPS steps and
    what it still lacks."""
    torch.manual_seed(seed)
    # more positive proposals per image than the default 25%: learns in fewer steps
    model = getattr(detection, MODEL)(weights=None, weights_backbone=None, num_classes=2,
                                      box_positive_fraction=0.5, box_batch_size_per_image=32,
                                      rpn_batch_size_per_image=32, **BUILDER_ARGS)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    shortfall = "not checked"
    for step in range(MAX_STEPS):
        model.train()
        boxes = [*BOXES, None, None]
        images = [_tensor(drawn(seed * 10_000 + step * 4 + i, box))
                  for i, box in enumerate(boxes)]
        losses = model(images, [_target(box) for box in boxes])
        optimiser.zero_grad()
        sum(losses.values()).backward()
        optimiser.step()
        if (step + 1) % CHECK_EVERY == 0:
            shortfall = _shortfall(model)
            if not shortfall:
                break
    return model, shortfall


@torch.inference_mode()
def _shortfall(model: torch.nn.Module) -> str:
    """What the held-out images show short of READY: "" when nothing."""
    model.eval()
    worst_score, worst_iou, blank_score = 1.0, 1.0, 0.0
    for box in BOXES:
        for found in model([_tensor(drawn(seed, box)) for seed in HELD_OUT]):
            score, best = _best(found)
            worst_score = min(worst_score, score)
            worst_iou = min(worst_iou, iou(best, box) if best else 0.0)
    for found in model([_tensor(drawn(seed, None)) for seed in HELD_OUT]):
        blank_score = max(blank_score, _best(found)[0])
    missing = [f"{name} {value:.2f}" for name, value, ok in (
        ("worst object score", worst_score, worst_score >= READY.min_object_score),
        ("worst IoU", worst_iou, worst_iou >= READY.min_iou),
        ("best blank score", blank_score, blank_score <= READY.max_blank_score)) if not ok]
    return ", ".join(missing)


def _best(found: dict[str, torch.Tensor]) -> tuple[float, list[float] | None]:
    if not len(found["scores"]):
        return 0.0, None
    top = int(found["scores"].argmax())
    return float(found["scores"][top]), found["boxes"][top].tolist()


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """The intersection over union of two (x0, y0, x1, y1) boxes."""
    return float(box_iou(torch.tensor([a], dtype=torch.float32),
                         torch.tensor([b], dtype=torch.float32)))


def _tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels).permute(2, 0, 1).float() / 255


def _target(box: tuple[int, int, int, int] | None) -> dict[str, torch.Tensor]:
    boxes = torch.tensor([box] if box else [], dtype=torch.float32).reshape(-1, 4)
    return {"boxes": boxes, "labels": torch.ones(len(boxes), dtype=torch.int64)}
