"""A tiny torchvision detector trained in the test on drawn rectangles: never a download.

``fasterrcnn_mobilenet_v3_large_320_fpn`` from scratch (no weights, no backbone weights)
at 64 px learns in 200 SGD steps to box a red square on dark noise at one of two places
(scores 0.85-0.97), and to find nothing (no box scoring 0.05) in the noise alone: enough
to test the detect stage with. 80 steps were enough on one machine but not on another
(same seed, one thread: one place scored 0.31-0.49), so it trains well past that.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.models import detection

MODEL = "fasterrcnn_mobilenet_v3_large_320_fpn"
SIZE = 64
BUILDER_ARGS = {"min_size": SIZE, "max_size": SIZE}
# where an object is drawn: one of these boxes (x0, y0, x1, y1), off the centre
BOXES = ((30, 6, 60, 36), (4, 26, 34, 58))
RED = (242, 25, 25)
STEPS = 200


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


def train_tiny_detector(path: Path) -> Path:
    """Train the detector for STEPS steps (2 objects, 2 blanks a batch) and save its
    state_dict at ``path``: 32 s on one core of an idle 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one result per machine, and no spinning on a busy one
    try:
        return _train(path)
    finally:
        torch.set_num_threads(threads)


def _train(path: Path) -> Path:
    torch.manual_seed(0)
    # more positive proposals per image than the default 25%: learns in fewer steps
    model = getattr(detection, MODEL)(weights=None, weights_backbone=None, num_classes=2,
                                      box_positive_fraction=0.5, box_batch_size_per_image=32,
                                      rpn_batch_size_per_image=32, **BUILDER_ARGS)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for step in range(STEPS):
        boxes = [*BOXES, None, None]
        images = [_tensor(drawn(step * 4 + i, box)) for i, box in enumerate(boxes)]
        losses = model(images, [_target(box) for box in boxes])
        optimiser.zero_grad()
        sum(losses.values()).backward()
        optimiser.step()
    torch.save(model.state_dict(), path)
    return path


def _tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels).permute(2, 0, 1).float() / 255


def _target(box: tuple[int, int, int, int] | None) -> dict[str, torch.Tensor]:
    boxes = torch.tensor([box] if box else [], dtype=torch.float32).reshape(-1, 4)
    return {"boxes": boxes, "labels": torch.ones(len(boxes), dtype=torch.int64)}
