"""Leakage tables: sets that span splits, and near-duplicate images across sets.

The split keeps every ``set_id`` in one split, so a set found in train and in test means
the splits file and the manifest disagree. Near-duplicates (perceptual hashes a few bits
apart) in *different* sets suggest one object under two set ids: if one copy is in train
and the other in test, the test score rewards memorising it. Near-duplicates within a
set are what a set is for (several photos of one car) and are not reported.

Pandas and numpy only, so these are cheap to call and to test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from taxonomist.checks.hashes import close_pairs, parse_hex

# A set in both of these splits fails validation; other mixes only warn.
LEAK = frozenset({"train", "test"})
_CODES = {"train": 1, "val": 2, "test": 4}


def set_spans(images: pd.DataFrame) -> pd.DataFrame:
    """One row per set: the splits its images are in, and a path from each.

    Args:
        images: the manifest with its ``split`` (:func:`~.tables.with_splits`).

    Returns:
        Columns ``set_id``, ``splits`` (e.g. ``"train"`` or ``"train+test"``),
        ``images``, ``path_train``, ``path_val``, ``path_test`` (set only for sets in
        more than one split), ``leak`` (True when the set is in train and in test).
    """
    placed = images.loc[images["split"].isin(list(_CODES)), ["set_id", "split", "path"]]
    code = placed["split"].map(_CODES).astype("int64")
    bits = pd.DataFrame({f"in_{s}": code.eq(c) for s, c in _CODES.items()}).assign(
        set_id=placed["set_id"]
    )
    per_set = bits.groupby("set_id").agg(["any", "size"])
    total = sum(per_set[(f"in_{s}", "any")].to_numpy() * c for s, c in _CODES.items())
    table = pd.DataFrame(
        {
            "set_id": per_set.index.astype(str),
            "splits": pd.Series(total).map(_combination_names()).to_numpy(),
            "images": per_set[("in_train", "size")].to_numpy(),
        }
    )
    table["leak"] = (total & 5) == 5
    return _with_example_paths(table, placed)


def _with_example_paths(table: pd.DataFrame, placed: pd.DataFrame) -> pd.DataFrame:
    mixed = table.loc[table["splits"].str.contains("+", regex=False), "set_id"]
    firsts = (
        placed[placed["set_id"].isin(mixed)]
        .drop_duplicates(["set_id", "split"])
        .pivot(index="set_id", columns="split", values="path")
    )
    for split in _CODES:
        column = firsts[split] if split in firsts.columns else pd.Series(dtype="string")
        table[f"path_{split}"] = table["set_id"].map(column).astype("string")
    return table


def _combination_names() -> dict[int, str]:
    """Bit code -> ``"train+val"`` etc., splits in train, val, test order."""
    return {
        code: "+".join(s for s, bit in _CODES.items() if code & bit)
        for code in range(1, 8)
    }


@dataclass(frozen=True)
class NearDuplicates:
    """The near-duplicate pairs across sets, and what the search covered.

    Attributes:
        pairs: columns ``path_a``, ``path_b``, ``set_a``, ``set_b``, ``split_a``,
            ``split_b``, ``distance``, ``images``, ``kind`` (``leak`` for train/test,
            else ``near_duplicate``) and ``pair`` (the pair in words); leaks first,
            then by distance. One row per pair of
            (hash, set, split) groups, standing for ``images_a * images_b`` image pairs.
        hashed: images with a well-formed perceptual hash.
        skipped: images without one (not searched).
        max_distance: the largest Hamming distance that counted.
    """

    pairs: pd.DataFrame
    hashed: int
    skipped: int
    max_distance: int


def near_duplicates(images: pd.DataFrame, max_distance: int) -> NearDuplicates:
    """Pairs of images in different sets whose perceptual hashes are close.

    Images with the same hash, set and split are one group, so many identical photos of
    one object cost one row; only distinct hashes are searched (see
    :func:`~.hashes.close_pairs`).

    Args:
        images: the manifest with ``phash``, ``path``, ``set_id`` and ``split``.
        max_distance: at most this many of the 64 bits differ.
    """
    values, valid = parse_hex(images["phash"])
    groups = (
        images.loc[valid, ["path", "set_id", "split"]]
        .assign(hash=values[valid], split=lambda f: f["split"].astype("string").fillna(""))
        .groupby(["hash", "set_id", "split"], sort=False)
        .agg(path=("path", "first"), images=("path", "size"))
        .reset_index()
    )
    unique, group_hash = np.unique(groups["hash"].to_numpy(np.uint64), return_inverse=True)
    i, j, distance = close_pairs(unique, max_distance)
    same = np.arange(len(unique))
    hash_pairs = pd.DataFrame(
        {"h_a": np.r_[i, same], "h_b": np.r_[j, same], "distance": np.r_[distance, 0 * same]}
    )
    groups = groups.drop(columns="hash").assign(h=group_hash, g=np.arange(len(groups)))
    pairs = hash_pairs.merge(groups.add_suffix("_a"), on="h_a").merge(
        groups.add_suffix("_b"), on="h_b"
    )
    # equal hashes pair up within their own list: keep each such pair once
    once = (pairs["h_a"] != pairs["h_b"]) | (pairs["g_a"] < pairs["g_b"])
    pairs = pairs[once & (pairs["set_id_a"] != pairs["set_id_b"])]
    return NearDuplicates(_pairs_table(pairs), int(valid.sum()), int((~valid).sum()), max_distance)


def _pairs_table(pairs: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "path_a": pairs["path_a"].astype(str),
            "path_b": pairs["path_b"].astype(str),
            "set_a": pairs["set_id_a"].astype(str),
            "set_b": pairs["set_id_b"].astype(str),
            "split_a": pairs["split_a"].astype(str),
            "split_b": pairs["split_b"].astype(str),
            "distance": pairs["distance"].astype("int64"),
            "images": (pairs["images_a"] * pairs["images_b"]).astype("int64"),
        }
    )
    leak = ((table["split_a"] == "train") & (table["split_b"] == "test")) | (
        (table["split_a"] == "test") & (table["split_b"] == "train")
    )
    table["kind"] = np.where(leak, "leak", "near_duplicate")
    table["pair"] = _described(table)
    return table.sort_values(["kind", "distance", "path_a"], ignore_index=True)


def _described(table: pd.DataFrame) -> pd.Series:
    """``a.png (train, set 's1') ~ b.png (test, set 's2'), 2 bit(s) apart`` per pair.

    One column, so great-expectations names a failing pair with one value: it looks
    up every index column of every failing row one at a time, which dominates its run
    time on a table of many near-duplicates.
    """

    def side(s: str) -> pd.Series:
        split = table[f"split_{s}"].replace("", "no split")
        return table[f"path_{s}"] + " (" + split + ", set '" + table[f"set_{s}"] + "')"

    return side("a") + " ~ " + side("b") + ", " + table["distance"].astype(str) + " bit(s) apart"
