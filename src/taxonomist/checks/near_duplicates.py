"""Near-duplicate checks: no copy of one object under two set ids across splits.

Near-duplicates (perceptual hashes a few bits apart) in *different* sets suggest one
object under two set ids: if one copy is in train and the other in test, the test score
rewards memorising it (an error); elsewhere it is a warning. Near-duplicates within a
set are what a set is for (several photos of one car) and are not reported. Pandas and
numpy only (the search is :func:`~.hashes.close_pairs`), so this is cheap to test.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from taxonomist.checks.base import Check, Failure, Message, Settings, Table
from taxonomist.checks.dataset import Dataset
from taxonomist.checks.hashes import close_pairs, parse_hex
from taxonomist.checks.wording import (
    EXAMPLES,
    REINGEST,
    RESPLIT,
    failing_count,
    failing_rows,
    more,
)
from taxonomist.errors import ConfigError

# The columns the search needs.
HASHED = ("phash", "path", "set_id")
# Above this many differing bits the chunks of the hash search get short and it slows
# quadratically; photos that far apart are rarely copies of each other anyway.
MAX_DISTANCE = 10
SHOWN_PAIRS = 20  # near-duplicate pairs listed in the JSON report


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


def search(data: Dataset) -> NearDuplicates:
    """:func:`near_duplicates` of the data set's images, within its ``max_distance``."""
    return near_duplicates(data.images, data.settings.max_distance)


def summary(data: Dataset) -> dict[str, Any] | None:
    """The search's summary for the report; None when the manifest has no hashes."""
    if not data.has(*HASHED):
        return None
    found = data.derived(search)
    pairs = found.pairs
    return {
        "max_distance": found.max_distance,
        "hashed": found.hashed,
        "skipped": found.skipped,
        "pairs": len(pairs),
        "image_pairs": int(pairs["images"].sum()),
        "train_test": int((pairs["kind"] == "leak").sum()),
        "examples": pairs.head(SHOWN_PAIRS).to_dict("records"),
    }


def notes(data: Dataset) -> list[str]:
    """The images the search left out, for the report's notes."""
    skipped = data.derived(search).skipped if data.has(*HASHED) else 0
    if not skipped:
        return []
    return [
        f"{skipped} image(s) without a well-formed phash: left out of the near-duplicate "
        f"search"
    ]


def _pairs_of(data: Dataset) -> pd.DataFrame:
    return data.derived(search).pairs


PAIRS = Table(
    "near_duplicates", _pairs_of, index=("pair",),  # one column: see _described
    examples=EXAMPLES, requires=("label", *HASHED),
)


class _PairCheck(Check):
    """No pair of the given ``kind``; both checks read ``split.near_duplicate_distance``."""

    table = PAIRS
    params = ("split.near_duplicate_distance",)
    kind: str

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnValuesToNotBeInSet(
                column="kind", value_set=[self.kind], severity=self.severity,
                meta=self.meta(max_distance=data.settings.max_distance),
            )
        ]

    def check_settings(self, settings: Settings) -> None:
        if not 0 <= settings.max_distance <= MAX_DISTANCE:
            raise ConfigError(
                "conf/config.yaml", "split.near_duplicate_distance",
                f"expected 0 to {MAX_DISTANCE} bits of the 64-bit perceptual hash, got "
                f"{settings.max_distance}", "4 suits photos; 0 finds only identical hashes",
            )


class NearDuplicateAcrossTrainAndTest(_PairCheck):
    """No near-duplicate pair across train and test."""

    name = "near_duplicate_leak"
    kind = "leak"

    def messages(self, failure: Failure) -> list[Message]:
        rows, total = failing_rows(failure.result), failing_count(failure.result)
        text = (
            f"splits: {total} near-duplicate pair(s) across train and test (perceptual "
            f"hashes at most {failure.meta.get('max_distance')} bits apart, in different "
            f"sets): {_pairs(rows)}{more(total, min(len(rows), EXAMPLES))}; the test score "
            f"rewards memorising them: if they show one object, give them one set_id in the "
            f"source manifest and {REINGEST}, then {RESPLIT}; or drop one of each pair"
        )
        return [Message(("splits", "near_duplicate_leak"), text)]


class NearDuplicateAcrossSets(_PairCheck):
    """No near-duplicate pair in different sets elsewhere (a warning)."""

    name = "near_duplicate"
    kind = "near_duplicate"
    severity = "warning"

    def messages(self, failure: Failure) -> list[Message]:
        rows, total = failing_rows(failure.result), failing_count(failure.result)
        text = (
            f"manifest: {total} near-duplicate pair(s) in different sets (perceptual hashes "
            f"at most {failure.meta.get('max_distance')} bits apart, not across train and "
            f"test): {_pairs(rows)}{more(total, min(len(rows), EXAMPLES))}; if a pair shows "
            f"one object, give both one set_id in the source manifest so the split keeps "
            f"them together"
        )
        return [Message(("manifest", "near_duplicates"), text)]


def _pairs(rows: list[dict]) -> str:
    return "; ".join(str(row["pair"]) for row in rows[:EXAMPLES])
