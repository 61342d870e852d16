"""Perceptual-hash parsing and the near-duplicate search, against brute force."""

from __future__ import annotations

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from taxonomist.checks import hashes
from taxonomist.checks.hashes import close_pairs, parse_hex


def _brute_force(values: np.ndarray, max_distance: int) -> set[tuple[int, int]]:
    distance = np.bitwise_count(values[:, None] ^ values[None, :])
    i, j = np.triu_indices(len(values), 1)
    close = distance[i, j] <= max_distance
    return set(zip(i[close].tolist(), j[close].tolist(), strict=True))


def _clustered(n: int, seed: int) -> np.ndarray:
    """Unique hashes, a third of them 1-3 bits from another."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    flips = rng.integers(0, 64, size=(n // 3, 3)).astype(np.uint64)
    masks = np.bitwise_or.reduce(np.uint64(1) << flips, axis=1)
    return np.unique(np.r_[base, base[: n // 3] ^ masks])


def test_parsing_agrees_with_imagehash_on_real_images():
    rng = np.random.default_rng(1)
    images = [Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)) for _ in range(6)]
    found = [imagehash.phash(image) for image in images]
    values, valid = parse_hex(pd.Series([str(h) for h in found]))
    assert valid.all()
    for a in range(len(found)):
        for b in range(len(found)):
            assert int(np.bitwise_count(values[a] ^ values[b])) == found[a] - found[b]


def test_malformed_and_missing_hashes_are_marked_invalid():
    values, valid = parse_hex(pd.Series(["00000000000000FF", "xyz", None, "123", " 0f" * 0]))
    assert valid.tolist() == [True, False, False, False, False]
    assert values[0] == 255 and values[1:].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("max_distance", [0, 1, 3, 4, 7])
def test_the_search_finds_exactly_the_close_pairs(max_distance):
    values = _clustered(900, seed=max_distance)
    i, j, distance = close_pairs(values, max_distance)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == _brute_force(values, max_distance)
    assert (distance == np.bitwise_count(values[i] ^ values[j])).all()
    assert (i < j).all()


def test_small_batches_give_the_same_pairs(monkeypatch):
    values = np.unique(np.random.default_rng(2).integers(0, 2**12, 400).astype(np.uint64))
    monkeypatch.setattr(hashes, "BATCH", 7)  # one key shared by many: many batches
    i, j, _ = close_pairs(values, 2)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == _brute_force(values, 2)


def test_the_chunks_cover_all_64_bits_once():
    for max_distance in range(11):
        chunks = hashes._chunks(max_distance)
        assert len(chunks) == max_distance + 1
        covered = [bit for shift, width in chunks for bit in range(shift, shift + width)]
        assert covered == list(range(64))
