"""The detector's crop, for the images a stack is served: found, rounded, grown and cut
exactly as the detect and cache stages did for the images it was trained and tested on.

A stack built with ``detect.enabled`` carries its detector (``detector.json`` and the
weights, ``detector.pt``) so that whatever serves it (``taxonomist serve``, the MLflow
pyfunc) crops each image to its best box before the classifiers see it. Without the same
crop, a served image would be the whole photo while every training image was a close-up:
train/serve skew. One function per step is shared with the stages:
:func:`whole_pixel_box` with detect, :func:`~taxonomist.data.pixels.crop_region` and
:func:`~taxonomist.data.pixels.image_to_array` with the cache.

Example:
    >>> cropper = Cropper.load(stack_folder)  # None: the stack has no detector
    >>> arrays, found = prepare_images([Image.open("car.jpg")], 224, cropper)
    >>> found[0]
    Found(box=(12, 30, 201, 141), score=0.97)
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from taxonomist.contracts.files import write_text_atomic
from taxonomist.data.detector import Box, Detector, DetectSettings
from taxonomist.data.pixels import Region, crop_region, image_to_array, to_rgb

SETTINGS_FILE, WEIGHTS_FILE = "detector.json", "detector.pt"


@dataclass(frozen=True)
class Found:
    """What the detector found in one image: the box cropped to (in the image's own
    pixels, before the margin), None when no box reached ``min_score``; its best score."""

    box: Region | None
    score: float


def whole_pixel_box(box: Box | None, size: tuple[int, int]) -> Region | None:
    """A detector's box rounded outwards to whole pixels inside the image, as a manifest
    box is (the detect stage records boxes this way)."""
    if box is None:
        return None
    width, height = size
    x0, y0, x1, y1 = box
    return (max(0, math.floor(x0)), max(0, math.floor(y0)),
            min(width, math.ceil(x1)), min(height, math.ceil(y1)))


def prepare_images(images: list[Image.Image], size: int, cropper: Cropper | None
                   ) -> tuple[np.ndarray, list[Found | None]]:
    """Decoded ``images`` as a stack's input (N, size, size, 3) uint8, each cropped by
    ``cropper`` when the stack has one, and what it found (None per image without)."""
    upright = [to_rgb(image) for image in images]
    if cropper is None:
        return np.stack([image_to_array(image, size) for image in upright]), [None] * len(images)
    return cropper.prepare(upright, size)


def save_detector(folder: Path, settings: DetectSettings) -> None:
    """Keep the detector with a stack: its settings and weights (the file copied, or
    torchvision's saved as a state_dict), so serving needs neither the project nor the
    network, and the version that found the training images' boxes."""
    weights = folder / WEIGHTS_FILE
    if settings.weights is None:
        torch.save(Detector(settings).model.state_dict(), weights)
    else:
        shutil.copyfile(settings.weights, weights)
    saved = asdict(settings) | {"weights": WEIGHTS_FILE, "version": settings.version}
    write_text_atomic(folder / SETTINGS_FILE, json.dumps(saved, indent=2))


class Cropper:
    """A stack's detector: crops each served image to its box grown by ``margin``."""

    def __init__(self, settings: DetectSettings, version: str) -> None:
        self.settings = settings
        self.version = version  # the detector that found the training images' boxes
        self.detector = Detector(settings)

    def prepare(self, images: list[Image.Image], size: int) -> tuple[np.ndarray, list[Found]]:
        """Upright RGB ``images`` as the stack's input (N, size, size, 3) uint8: each cut
        to its grown box when the detector found one, whole otherwise (as the cache)."""
        found = [self._found(image, box, score) for image, (box, score)
                 in zip(images, self.detector.best_boxes(images), strict=True)]
        arrays = [image_to_array(image, size, self._region(image, f.box))
                  for image, f in zip(images, found, strict=True)]
        return np.stack(arrays), found

    def _found(self, image: Image.Image, box: Box | None, score: float) -> Found:
        kept = box is not None and score >= self.settings.min_score
        return Found(whole_pixel_box(box, image.size) if kept else None, score)

    def _region(self, image: Image.Image, box: Region | None) -> Region | None:
        if box is None:
            return None
        width, height = image.size
        return tuple(crop_region(np.array(box), width, height, self.settings.margin).tolist())

    @classmethod
    def load(cls, folder: Path) -> Cropper | None:
        """The detector :func:`save_detector` kept in ``folder``; None for a stack without."""
        file = folder / SETTINGS_FILE
        if not file.is_file():
            return None
        saved = json.loads(file.read_text())
        version = saved.pop("version")
        settings = DetectSettings(**saved | {"weights": folder / saved["weights"],
                                             "labels": tuple(saved["labels"])})
        return cls(settings, version)

