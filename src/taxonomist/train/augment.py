"""Augmentation declared in YAML, built from ``kornia.augmentation`` classes by name."""

from __future__ import annotations

import inspect
from typing import Any

import kornia.augmentation as K
from torch import nn

from taxonomist.errors import ConfigError


def available() -> list[str]:
    """Names of kornia's 2D augmentation classes usable in a classifier definition."""
    return sorted(
        name for name, obj in vars(K).items()
        if inspect.isclass(obj)
        and issubclass(obj, K.base._AugmentationBase)
        and not name.startswith("_")
        and "3D" not in name
        and "Base" not in name
    )


def build_augmentation(specs: list[dict[str, Any]], source: str) -> nn.Module:
    """One module applying the listed augmentations in order to a float batch.

    Args:
        specs: items like ``{"RandomAffine": {"degrees": 10}}``.
        source: the config file to name in errors.

    Raises:
        ConfigError: an unknown class name (with the valid names) or bad arguments.
    """
    steps = [_build_one(spec, i, source) for i, spec in enumerate(specs)]
    return K.AugmentationSequential(*steps) if steps else nn.Identity()


def _build_one(spec: dict[str, Any], index: int, source: str) -> nn.Module:
    key = f"augment[{index}]"
    if len(spec) != 1:
        raise ConfigError(
            source, key, f"expected one augmentation name with its arguments, found {spec}",
            "write `- RandomHorizontalFlip: {p: 0.5}`",
        )
    (name, kwargs), = spec.items()
    valid = available()
    if name not in valid:
        raise ConfigError(
            source, key, f"'{name}' is not a kornia augmentation",
            f"valid names: {', '.join(valid)}",
        )
    try:
        return getattr(K, name)(**(kwargs or {}))
    except (TypeError, ValueError) as err:
        raise ConfigError(source, f"{key}.{name}", f"bad arguments: {err}") from None
