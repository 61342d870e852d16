"""The decoded-image cache: the file format between the cache stage and its readers.

One split is two files, where :class:`CacheLayout` says (``data/cache/`` in a project):
``<split>.npy``, uint8 images of shape (N, S, S, 3), and ``<split>.parquet``, one row
per image in the same order (id, label, set_id, source, taken_at). Readers memory-map
the array and slice whole batches; nothing is decoded again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")
IMAGE_DTYPE = np.uint8


class CacheLayout(Protocol):
    """Where a split's two files are; :class:`taxonomist.config.Paths` is one."""

    def cache_images(self, split: str) -> Path: ...

    def cache_index(self, split: str) -> Path: ...

    @property
    def cache(self) -> Path: ...


@dataclass(frozen=True)
class CachedSplit:
    """One split: images (N, S, S, 3) uint8 and their manifest rows, aligned.

    Raises:
        ValueError: the images and the rows differ in number (rerun ``taxonomist cache``).
    """

    images: np.ndarray
    index: pd.DataFrame

    def __post_init__(self) -> None:
        if len(self.images) != len(self.index):
            raise ValueError(
                f"cache is inconsistent: {len(self.images)} images but {len(self.index)} rows; "
                "rerun `taxonomist cache` (or `dvc repro cache`) to rewrite it"
            )

    def __len__(self) -> int:
        return len(self.index)


def load_split(layout: CacheLayout, split: str) -> CachedSplit:
    """Memory-map one split of the cache (``taxonomist cache`` writes it)."""
    images = np.load(layout.cache_images(split), mmap_mode="r")
    return CachedSplit(images, pd.read_parquet(layout.cache_index(split)))


def save_split(layout: CacheLayout, split: str, cached: CachedSplit) -> None:
    """Write one split: the images as contiguous uint8, the rows without their index."""
    layout.cache.mkdir(parents=True, exist_ok=True)
    np.save(layout.cache_images(split), np.ascontiguousarray(cached.images, dtype=IMAGE_DTYPE))
    cached.index.reset_index(drop=True).to_parquet(layout.cache_index(split), index=False)
