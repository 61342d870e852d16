"""Augmentation declared in YAML, built by class name from ``kornia.augmentation`` or from
the two taxonomist adds (:mod:`taxonomist.train.extra_augment`), through one lookup."""

from __future__ import annotations

import difflib
import inspect
from functools import cache
from typing import TYPE_CHECKING, Any

import kornia.augmentation as K
import torch
from torch import nn

from taxonomist.errors import ConfigError
from taxonomist.train.extra_augment import OURS, BatchAugmentation, BBoxCropJitter

if TYPE_CHECKING:
    from taxonomist.config import Config, Paths


def available() -> list[str]:
    """Every name usable in ``augment:``: kornia's 2D augmentation classes and ours."""
    return sorted([*_kornia_names(), *OURS])


def augmentation_class(name: str) -> type[nn.Module] | None:
    """The class an ``augment:`` name stands for, or None for an unknown name."""
    if name in OURS:
        return OURS[name]
    return getattr(K, name) if name in _kornia_names() else None


class AugmentationPipeline(nn.Module):
    """The listed augmentations in order, on a float batch, with its boxes when it has any.

    Box-aware steps (ours) get the boxes; kornia's get the images only.
    """

    def __init__(self, steps: list[nn.Module]) -> None:
        super().__init__()
        self.steps = nn.ModuleList(steps)

    def forward(self, x: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        for step in self.steps:
            x = step(x, boxes) if isinstance(step, BatchAugmentation) else step(x)
        return x

    def set_epoch(self, epoch: int, max_epochs: int) -> None:
        for step in self.steps:
            if isinstance(step, BatchAugmentation):
                step.set_epoch(epoch, max_epochs)


def build_augmentation(specs: list[dict[str, Any]], source: str) -> AugmentationPipeline:
    """One module applying the listed augmentations in order to a float batch.

    Args:
        specs: items like ``{"RandomAffine": {"degrees": 10}}`` or
            ``{"BBoxCropJitter": {"jitter": 0.2}}``.
        source: the config file to name in errors.

    Raises:
        ConfigError: an unknown class name (with the valid names), bad arguments, or a
            box crop placed after an augmentation that moves the image.
    """
    steps = [_build_one(spec, i, source) for i, spec in enumerate(specs)]
    _check_box_crop_comes_first(steps, source)
    return AugmentationPipeline(steps)


def check_augmentations(config: Config, paths: Paths) -> None:
    """Build every node's ``augment:`` list once, so ``taxonomist pipeline`` fails on a typo
    instead of the node's training, an hour into `dvc repro`.

    Raises:
        ConfigError: as :func:`build_augmentation`, naming the node's own YAML (or
            ``_default.yaml`` when it has none).
    """
    for node, cfg in config.classifiers.items():
        source = paths.classifier_source(node, config.project.classifier_dir)
        build_augmentation(cfg.augment, source)


def _build_one(spec: dict[str, Any], index: int, source: str) -> nn.Module:
    key = f"augment[{index}]"
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ConfigError(
            source, key, f"expected one augmentation name with its arguments, found {spec}",
            "write `- RandomHorizontalFlip: {p: 0.5}`",
        )
    (name, kwargs), = spec.items()
    cls = augmentation_class(name)
    if cls is None:
        close = difflib.get_close_matches(str(name), available(), n=3, cutoff=0.6)
        guess = f"did you mean {' or '.join(close)}? " if close else ""
        raise ConfigError(
            source, key, f"'{name}' is not a kornia augmentation nor one of taxonomist's "
            f"({', '.join(OURS)})",
            f"{guess}valid names: {', '.join(available())}",
        )
    try:
        return cls(**(kwargs or {}))
    except (TypeError, ValueError) as err:
        raise ConfigError(source, f"{key}.{name}", f"bad arguments: {err}") from None


def _check_box_crop_comes_first(steps: list[nn.Module], source: str) -> None:
    """Boxes are not moved along with the image, so no geometric step may precede the crop."""
    moved = None
    for index, step in enumerate(steps):
        if isinstance(step, BBoxCropJitter) and moved is not None:
            raise ConfigError(
                source, f"augment[{index}].BBoxCropJitter",
                f"crops to the stored boxes, but {type(steps[moved]).__name__} at "
                f"augment[{moved}] moves the image before it",
                "put BBoxCropJitter before every geometric augmentation",
            )
        if moved is None and isinstance(step, K.GeometricAugmentationBase2D):
            moved = index


@cache
def _kornia_names() -> frozenset[str]:
    return frozenset(
        name for name, obj in vars(K).items()
        if inspect.isclass(obj)
        and issubclass(obj, K.base._AugmentationBase)
        and not name.startswith("_")
        and "3D" not in name
        and "Base" not in name
    )
