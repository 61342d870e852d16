"""A torchvision detection model, by builder name: checked, loaded, versioned and run.

``detect.model`` names a builder of ``torchvision.models.detection`` (the one registry of
detectors; none is written here), ``detect.weights`` a state_dict file or ``DEFAULT``.
The detector is versioned by its weights' sha256, so a new file re-detects every image.

Example:
    >>> detector = Detector(DetectSettings.from_config(cfg.detect, taxonomy, root))
    >>> detector.best_boxes([Image.open("car.jpg")])
    [((12.0, 30.0, 200.0, 140.0), 0.97)]
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.models import detection, get_model_builder, list_models

from taxonomist.config import DetectConfig
from taxonomist.contracts.detections import HUB_WEIGHTS as HUB
from taxonomist.contracts.detections import REVIEW
from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy

_FILE = "conf/config.yaml"
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class DetectSettings:
    """``detect:`` of conf/config.yaml, checked; ``weights`` None means torchvision's."""

    model: str
    weights: Path | None
    num_classes: int
    labels: tuple[int, ...]
    builder_args: dict[str, Any]
    min_score: float
    margin: float
    no_box: str
    batch_size: int

    @classmethod
    def from_config(cls, cfg: DetectConfig, taxonomy: Taxonomy, root: Path) -> DetectSettings:
        """Check ``detect:`` against torchvision, the project's files and the taxonomy.

        Raises:
            ConfigError: an unknown builder (the known ones listed), a missing weights
                file (its path named), or a value out of range, each with its key.
        """
        _check_model(cfg.model)
        weights = None if cfg.weights == HUB else root / cfg.weights
        if weights is not None and not weights.is_file():
            raise ConfigError(_FILE, "detect.weights", f"no file at {weights}",
                              "give a state_dict saved with torch.save(model.state_dict(), "
                              f"path), relative to the project root, or {HUB} for "
                              "torchvision's weights (downloaded, so online)")
        _check_numbers(cfg)
        if cfg.no_box != REVIEW and cfg.no_box not in taxonomy:
            raise ConfigError(_FILE, "detect.no_box", f"'{cfg.no_box}' is neither {REVIEW} "
                              "nor a class of the taxonomy",
                              f"e.g. no_box: {REVIEW}, or one of {', '.join(taxonomy.nodes)}")
        return cls(cfg.model, weights, cfg.num_classes, tuple(cfg.labels),
                   dict(cfg.builder_args), cfg.min_score, cfg.margin, cfg.no_box,
                   cfg.batch_size)

    @property
    def version(self) -> str:
        """The model and its weights, e.g. ``ssdlite320_mobilenet_v3_large@3f2a9c1b7d4e``."""
        if self.weights is None:
            return f"{self.model}@{HUB}"
        digest = hashlib.sha256(self.weights.read_bytes()).hexdigest()
        return f"{self.model}@{digest[:12]}"

    @property
    def setup(self) -> str:
        """What besides the image shapes a raw detection: an image is detected again only
        when this changes (min_score and no_box only decide what a detection means)."""
        text = json.dumps([self.version, self.num_classes, self.labels, self.builder_args],
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def known_models() -> list[str]:
    return list_models(module=detection)


def _check_model(name: str) -> None:
    known = known_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(_FILE, "detect.model", f"'{name}' is no builder in "
                          "torchvision.models.detection", f"{hint}known: {', '.join(known)}")


def _check_numbers(cfg: DetectConfig) -> None:
    if cfg.num_classes < 2:
        raise ConfigError(_FILE, "detect.num_classes", f"expected 2 or more (background "
                          f"included), got {cfg.num_classes}", "COCO's detectors have 91")
    wrong = [c for c in cfg.labels if not 1 <= c < cfg.num_classes]
    if not cfg.labels or wrong:
        raise ConfigError(_FILE, "detect.labels", f"expected class ids in 1..{cfg.num_classes - 1}"
                          f", got {list(cfg.labels)}", "e.g. labels: [3] (COCO's car)")
    for key, value, low, high in (("min_score", cfg.min_score, 0.0, 1.0),
                                  ("margin", cfg.margin, 0.0, float("inf"))):
        if not low <= value <= high:
            raise ConfigError(_FILE, f"detect.{key}", f"expected {low:g}..{high:g}, got {value}")
    if cfg.batch_size < 1:
        raise ConfigError(_FILE, "detect.batch_size", f"expected 1 or more, got {cfg.batch_size}")


class Detector:
    """The configured model in eval mode, on the GPU when there is one."""

    def __init__(self, settings: DetectSettings) -> None:
        self.settings = settings
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = _build(settings).to(self.device).eval()

    @torch.inference_mode()
    def best_boxes(self, images: list[Image.Image]) -> list[tuple[Box | None, float]]:
        """Per image (upright RGB), its best box of a counted class in its own pixels and
        that box's score; ``(None, 0.0)`` when the model found none."""
        tensors = [torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
                   .permute(2, 0, 1).to(self.device) for image in images]
        wanted = torch.tensor(self.settings.labels, device=self.device)
        best = []
        for found in self.model(tensors):
            scores = torch.where(torch.isin(found["labels"], wanted), found["scores"], -1.0)
            if not len(scores) or scores.max() < 0:
                best.append((None, 0.0))
                continue
            top = int(scores.argmax())
            best.append((tuple(found["boxes"][top].tolist()), float(scores[top])))
        return best


def _build(settings: DetectSettings) -> torch.nn.Module:
    """The builder's model with the configured weights: torchvision's, or the file's."""
    builder = get_model_builder(settings.model)
    hub = {"weights": HUB} if settings.weights is None else {"weights": None,
                                                              "weights_backbone": None}
    try:
        model = builder(**hub, num_classes=settings.num_classes, **settings.builder_args)
    except (TypeError, ValueError) as err:
        raise ConfigError(_FILE, "detect.builder_args", f"{settings.model} refused "
                          f"{settings.builder_args} with num_classes={settings.num_classes}: "
                          f"{err}") from None
    if settings.weights is not None:
        state = torch.load(settings.weights, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise ConfigError(_FILE, "detect.weights", f"{settings.weights} does not fit "
                              f"{settings.model} with num_classes={settings.num_classes}: "
                              f"{str(err).splitlines()[0]}", "set detect.num_classes (and "
                              "builder_args) to those the file was trained with") from None
    return model
