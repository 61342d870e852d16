"""Cache: each node's images decoded once at its own size, aligned with their index, and
rebuilt only when what the node sees changes."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from taxonomist.config import Paths, SplitConfig
from taxonomist.contracts.cache import (
    SPLITS,
    STACK,
    images_file,
    load_node_split,
    load_stack_test,
    node_cache,
)
from taxonomist.data import INDEX_COLUMNS, build_cache, ingest, split
from taxonomist.data import cache as cache_stage
from taxonomist.data.pixels import image_to_array
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder, image_bytes

# round copies its parent's rows (same size); angular is decoded at its own
SIZES = {"shape": 12, "round": 12, "angular": 8}
UNDER = {"shape": {"circle", "oval", "square"}, "round": {"circle", "oval"},
         "angular": {"square"}}
IMAGES = {"shape": 30, "round": 20, "angular": 10}  # of the 30 in `ingested`


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


def folder_bytes(paths: Paths, node: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(node_cache(paths, node).iterdir())}


def assert_decoded(paths: Paths, images: np.ndarray, ids, size: int) -> None:
    for image, image_id in zip(images, ids, strict=True):
        stored = next(paths.images.glob(f"{image_id[:2]}/{image_id}.*"))
        with Image.open(stored) as original:
            assert np.array_equal(image, image_to_array(original, size))


def test_each_node_holds_its_own_images_at_its_own_size(
    ingested: Paths, taxonomy: Taxonomy
) -> None:
    result = build_cache(taxonomy, SIZES, ingested)

    assert result.rebuilt == ["shape", "round", "angular", STACK] and result.kept == []
    for node, size in SIZES.items():
        assert sum(result.counts[node].values()) == IMAGES[node]
        for name in SPLITS:
            cached = load_node_split(ingested, node, name)
            assert cached.images.shape == (result.counts[node][name], size, size, 3)
            assert cached.images.dtype == np.uint8
            assert list(cached.index.columns[:5]) == list(INDEX_COLUMNS)
            assert set(cached.index["label"]) <= UNDER[node]
            assert_decoded(ingested, cached.images, cached.index["id"], size)


def test_the_stack_gets_every_val_and_test_image_at_the_largest_size(
    ingested: Paths, taxonomy: Taxonomy
) -> None:
    build_cache(taxonomy, SIZES | {"angular": 16}, ingested)
    stack = load_stack_test(ingested)
    assert stack.images.shape[1:] == (16, 16, 3)
    every = load_node_split(ingested, "shape", "test").index["id"]
    assert sorted(stack.index["id"]) == sorted(every)
    assert_decoded(ingested, stack.images, stack.index["id"], 16)
    val = load_node_split(ingested, STACK, "val").index["id"]  # where walks stop is tuned
    assert sorted(val) == sorted(load_node_split(ingested, "shape", "val").index["id"])
    assert not images_file(ingested, STACK, "train").exists()


def test_index_rows_carry_the_manifest_values(ingested: Paths, taxonomy: Taxonomy) -> None:
    build_cache(taxonomy, SIZES, ingested)
    test = load_node_split(ingested, "shape", "test").index
    assert set(test["source"]) == {"cam"} and set(test["taken_at"]) == {"2024-05-01"}


def test_boxes_are_carried_in_cache_pixels(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    for i in range(12):  # 16 x 8 images with a box on the right half
        folder.add(f"{i}.png", ["circle", "square"][i % 2], image_bytes(i, size=(16, 8)),
                   set_id=f"s{i}", bbox_x0="8", bbox_y0="0", bbox_x1="16", bbox_y1="8")
    ingest(folder.source(), taxonomy, paths)
    split(SplitConfig(), 0, paths)
    build_cache(taxonomy, SIZES, paths)
    boxes = load_node_split(paths, "shape", "train").index[
        ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]].drop_duplicates()
    assert boxes.values.tolist() == [[6.0, 0.0, 12.0, 12.0]]


def test_new_images_of_one_class_rebuild_only_the_caches_above_it(
    folder: SourceFolder, taxonomy: Taxonomy, ingested: Paths
) -> None:
    build_cache(taxonomy, SIZES, ingested)
    before = {node: folder_bytes(ingested, node) for node in (*SIZES, STACK)}
    for i in range(4):
        folder.add(f"late{i}.png", "oval", image_bytes(100 + i), set_id=f"late{i}")
    ingest(folder.source(), taxonomy, ingested)
    split(SplitConfig(), 0, ingested)

    result = build_cache(taxonomy, SIZES, ingested)

    assert set(result.rebuilt) - {STACK} == {"shape", "round"}  # the stack if one went to test
    assert "angular" in result.kept
    assert folder_bytes(ingested, "angular") == before["angular"]
    assert folder_bytes(ingested, "round") != before["round"]
    assert sum(result.counts["round"].values()) == 24


def test_a_new_size_for_one_node_rebuilds_that_node_only(
    ingested: Paths, taxonomy: Taxonomy
) -> None:
    build_cache(taxonomy, SIZES, ingested)
    before = folder_bytes(ingested, "round")
    result = build_cache(taxonomy, SIZES | {"angular": 10}, ingested)
    assert result.rebuilt == ["angular"]
    assert folder_bytes(ingested, "round") == before
    assert load_node_split(ingested, "angular", "train").images.shape[1] == 10


def test_a_damaged_cache_is_rebuilt_and_leftovers_are_removed(
    ingested: Paths, taxonomy: Taxonomy
) -> None:
    build_cache(taxonomy, SIZES, ingested)
    images_file(ingested, "round", "val").unlink()  # a build killed, a hand deletion
    (ingested.cache / "train.npy").write_bytes(b"")  # the old one-cache-for-all layout
    (ingested.cache / "gone").mkdir()  # a node no longer in the taxonomy
    result = build_cache(taxonomy, SIZES, ingested)
    assert result.rebuilt == ["round"]
    assert {p.name for p in ingested.cache.iterdir()} == {*SIZES, STACK}


def test_the_cache_is_written_a_chunk_at_a_time(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory holds a chunk or two of decoded rows, never a split: the largest split here
    is ~1.3 MB at 64 px, a chunk of 4 rows 49 kB."""
    for i in range(160):
        folder.add(f"{i}.png", ["circle", "square"][i % 2], image_bytes(i), set_id=f"s{i}")
    ingest(folder.source(), taxonomy, paths)
    split(SplitConfig(), 0, paths)
    monkeypatch.setattr(cache_stage, "CHUNK", 4)
    sizes = {"shape": 64, "round": 8, "angular": 8}
    tracemalloc.start()
    try:
        build_cache(taxonomy, sizes, paths)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    largest = max(images_file(paths, "shape", s).stat().st_size for s in SPLITS)
    assert largest > 1_000_000 and peak < largest / 2


def test_missing_stored_image_says_how_to_restore_it(
    ingested: Paths, taxonomy: Taxonomy
) -> None:
    victim = next(ingested.images.rglob("*.*"))
    victim.unlink()
    with pytest.raises(DataError, match=r"stored image is missing; restore it with `dvc checkout"):
        build_cache(taxonomy, SIZES, ingested)


def test_cache_before_split_says_to_split(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", image_bytes(0))
    ingest(folder.source(), taxonomy, paths)
    with pytest.raises(DataError, match=r"splits\.parquet: no splits yet; run `taxonomist split`"):
        build_cache(taxonomy, SIZES, paths)


def test_images_ingested_after_the_split_are_not_silently_left_out(
    folder: SourceFolder, taxonomy: Taxonomy, ingested: Paths
) -> None:
    folder.add("late.png", "oval", image_bytes(1000))
    ingest(folder.source(), taxonomy, ingested)
    with pytest.raises(DataError, match="1 images have no split .*run `taxonomist split`"):
        build_cache(taxonomy, SIZES, ingested)


def test_reading_a_node_without_a_cache_names_the_file_and_the_command(paths: Paths) -> None:
    with pytest.raises(FileNotFoundError, match=r"round/train\.npy: no cache for node 'round'"):
        load_node_split(paths, "round", "train")
