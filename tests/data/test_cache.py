"""Cache: every image decoded once into a uint8 array per split, aligned with its index."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from taxonomist.config import Paths, SplitConfig
from taxonomist.contracts.cache import SPLITS, load_split
from taxonomist.data import INDEX_COLUMNS, build_cache, ingest, split
from taxonomist.data.pixels import image_to_array
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder, image_bytes


def encoded(mode: str, size: tuple[int, int], fmt: str, seed: int) -> bytes:
    """An image of random pixels in any mode, so the cache must convert it to RGB."""
    rgb = Image.open(io.BytesIO(image_bytes(seed, size=size))).convert(mode)
    out = io.BytesIO()
    rgb.save(out, fmt)
    return out.getvalue()


KINDS = [("RGB", (9, 7), "PNG"), ("L", (5, 5), "PNG"), ("RGBA", (12, 20), "PNG"),
         ("P", (8, 8), "PNG"), ("RGB", (16, 16), "JPEG")]


@pytest.fixture
def ingested(folder: SourceFolder, taxonomy: Taxonomy, paths: Paths) -> Paths:
    for i in range(30):
        mode, size, fmt = KINDS[i % len(KINDS)]
        label = ["circle", "oval", "square"][i % 3]
        folder.add(f"{i}.img", label, encoded(mode, size, fmt, i), set_id=f"s{i // 2}")
    ingest(folder.source(), taxonomy, paths)
    split(SplitConfig(), 0, paths)
    return paths


def test_each_split_is_uint8_rgb_at_the_size_and_aligned_with_its_index(ingested: Paths) -> None:
    counts = build_cache(12, ingested)

    assert sum(counts.values()) == 30 and set(counts) == set(SPLITS)
    for name in SPLITS:
        cached = load_split(ingested, name)
        assert cached.images.shape == (counts[name], 12, 12, 3)
        assert cached.images.dtype == np.uint8
        assert list(cached.index.columns) == list(INDEX_COLUMNS)
        for image, image_id in zip(cached.images, cached.index["id"], strict=True):
            stored = next(ingested.images.glob(f"{image_id[:2]}/{image_id}.*"))
            with Image.open(stored) as original:
                assert np.array_equal(image, image_to_array(original, 12))


def test_index_rows_carry_the_manifest_values(ingested: Paths) -> None:
    build_cache(8, ingested)
    test = load_split(ingested, "test").index
    assert set(test["source"]) == {"cam"} and set(test["taken_at"]) == {"2024-05-01"}
    assert set(test["label"]) <= {"circle", "oval", "square"}


def test_missing_stored_image_says_how_to_restore_it(ingested: Paths) -> None:
    victim = next(ingested.images.rglob("*.*"))
    victim.unlink()
    with pytest.raises(DataError, match=r"stored image is missing; restore it with `dvc checkout"):
        build_cache(8, ingested)


def test_cache_before_split_says_to_split(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", image_bytes(0))
    ingest(folder.source(), taxonomy, paths)
    with pytest.raises(DataError, match=r"splits\.parquet: no splits yet; run `taxonomist split`"):
        build_cache(8, paths)


def test_images_ingested_after_the_split_are_not_silently_left_out(
    folder: SourceFolder, taxonomy: Taxonomy, ingested: Paths
) -> None:
    folder.add("late.png", "oval", image_bytes(1000))
    ingest(folder.source(), taxonomy, ingested)
    with pytest.raises(DataError, match="1 images have no split .*run `taxonomist split`"):
        build_cache(8, ingested)
