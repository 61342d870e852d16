"""The decoded-image cache: the file contract between the cache stage and its readers.

One split is two files: ``<split>.npy``, uint8 images of shape (N, S, S, 3), and
``<split>.parquet``, one row per image in the same order (id, label, set_id, source...).
Readers memory-map the array and slice whole batches; nothing is decoded again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from taxonomist.config import Paths

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class CachedSplit:
    """One split: images (N, S, S, 3) uint8 and their manifest rows, aligned."""

    images: np.ndarray
    index: pd.DataFrame

    def __post_init__(self) -> None:
        if len(self.images) != len(self.index):
            raise ValueError(
                f"cache is inconsistent: {len(self.images)} images but {len(self.index)} rows"
            )

    def __len__(self) -> int:
        return len(self.index)


def load_split(paths: Paths, split: str) -> CachedSplit:
    """Memory-map one split of the cache (``taxonomist cache`` writes it)."""
    images = np.load(paths.cache_images(split), mmap_mode="r")
    return CachedSplit(images, pd.read_parquet(paths.cache_index(split)))


def save_split(paths: Paths, split: str, cached: CachedSplit) -> None:
    paths.cache.mkdir(parents=True, exist_ok=True)
    np.save(paths.cache_images(split), np.ascontiguousarray(cached.images, dtype=np.uint8))
    cached.index.reset_index(drop=True).to_parquet(paths.cache_index(split), index=False)


def image_to_array(image: Image.Image, size: int) -> np.ndarray:
    """The one way an image becomes a cache row: RGB, ``size`` x ``size``, uint8.

    The cache stage and the served stack both use it, so a served image is prepared
    exactly like the images the stack was tested on.
    """
    rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)
