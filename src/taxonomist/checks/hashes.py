"""Perceptual hashes: parse imagehash's hex strings and find pairs within a Hamming distance.

Ingest stores ``imagehash.phash(image)`` as ``str(hash)``: 16 hex digits, the 64 bits of
the hash read as one big-endian integer (``imagehash.hash_to_hex``). Parsed as a uint64,
the popcount of ``a ^ b`` is exactly ``imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b)``,
without building 100,000 ``ImageHash`` objects.

The search is multi-index hashing: cut the 64 bits into ``max_distance + 1`` chunks; two
hashes at most ``max_distance`` bits apart agree exactly on at least one chunk (pigeonhole).
So only hashes that share a chunk value are compared, bucket by bucket, in numpy. For
100,000 hashes and a distance of 4 that is a few million XORs instead of five billion.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

BITS = 64
HEX_DIGITS = BITS // 4
# Candidate pairs materialised at once; bounds memory when a chunk value is very common.
BATCH = 2_000_000


def parse_hex(hashes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The hashes as uint64, and which rows held a well-formed 16-digit hex string.

    Args:
        hashes: ``phash`` column; missing or malformed values are allowed.

    Returns:
        ``(values, valid)``: ``values[i]`` is 0 where ``valid[i]`` is False.

    Example:
        >>> parse_hex(pd.Series(["ffff000000000001", None]))[0]
        array([18446462598732840961,                    0], dtype=uint64)
    """
    text = hashes.astype("string").str.strip().str.lower()
    valid = text.str.fullmatch(f"[0-9a-f]{{{HEX_DIGITS}}}").fillna(False).to_numpy(bool)
    values = np.zeros(len(text), dtype=np.uint64)
    if valid.any():
        raw = bytes.fromhex("".join(text[valid].tolist()))
        values[valid] = np.frombuffer(raw, dtype=">u8")
    return values, valid


def close_pairs(hashes: np.ndarray, max_distance: int) -> tuple[np.ndarray, ...]:
    """Pairs of *distinct* hashes at most ``max_distance`` bits apart.

    Args:
        hashes: unique uint64 hashes (``np.unique`` them first: equal hashes are at
            distance 0 and the caller groups them without a search).
        max_distance: the largest Hamming distance that counts as close, 0 to 63.

    Returns:
        ``(i, j, distance)``: index arrays into ``hashes`` with ``i < j``, each pair once.
    """
    found: list[np.ndarray] = []
    n = len(hashes)
    if max_distance > 0 and n > 1:
        for shift, width in _chunks(max_distance):
            keys = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
            for left, right in _same_key_pairs(keys):
                close = np.bitwise_count(hashes[left] ^ hashes[right]) <= max_distance
                low = np.minimum(left[close], right[close])
                found.append(low * n + np.maximum(left[close], right[close]))
    codes = np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)
    i, j = np.divmod(codes, max(n, 1))
    return i, j, np.bitwise_count(hashes[i] ^ hashes[j]).astype(np.int64)


def _chunks(max_distance: int) -> list[tuple[int, int]]:
    """``max_distance + 1`` (shift, width) slices that cover the 64 bits."""
    count = min(max_distance + 1, BITS)
    widths = [BITS // count + (1 if k < BITS % count else 0) for k in range(count)]
    shifts = np.cumsum([0, *widths[:-1]])
    return [(int(s), w) for s, w in zip(shifts, widths, strict=True)]


def _same_key_pairs(keys: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every pair of positions with equal keys, in batches of at most about ``BATCH``.

    After a stable sort, the element at sorted position ``p`` of a run ending at ``end``
    pairs with positions ``p + 1 .. end - 1``; ``np.repeat`` writes those out without a
    Python loop over pairs.
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    positions = np.arange(len(keys))
    partners = np.repeat(starts + sizes, sizes) - positions - 1
    ends = np.cumsum(partners)
    begin = 0
    while begin < len(keys):
        stop = max(int(np.searchsorted(ends, ends[begin] - partners[begin] + BATCH)), begin + 1)
        count = partners[begin:stop]
        left = np.repeat(positions[begin:stop], count)
        offset = np.arange(len(left)) - np.repeat(np.cumsum(count) - count, count)
        yield order[left], order[left + 1 + offset]
        begin = stop
