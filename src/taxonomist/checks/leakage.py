"""Leakage checks: every set in one split.

The split keeps every ``set_id`` in one split, so a set found in train and in test means
the splits file and the manifest disagree: the test score rewards memorising its images
(an error). A set in val and another split makes validation scores optimistic (a
warning). Both run on :func:`set_spans`. Pandas only, so it is cheap to call and test.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pandas as pd

from taxonomist.checks.base import Check, Failure, Message, Table
from taxonomist.checks.dataset import Dataset
from taxonomist.checks.wording import EXAMPLES, RESPLIT, failing_count, failing_rows, more

_CODES = {"train": 1, "val": 2, "test": 4}


def set_spans(images: pd.DataFrame) -> pd.DataFrame:
    """One row per set: the splits its images are in, and a path from each.

    Args:
        images: the manifest with its ``split`` (:func:`~.dataset.with_splits`).

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


def _spans_of(data: Dataset) -> pd.DataFrame:
    return set_spans(data.images)


SETS = Table(
    "sets", _spans_of, index=("set_id", "splits", "path_train", "path_val", "path_test"),
    examples=EXAMPLES, requires=("label", "set_id", "path"),
)


class SetInTrainAndTest(Check):
    """No set with images in train and in test: the test score rewards memorising them."""

    name = "set_leak"
    table = SETS

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnValuesToNotBeInSet(
                column="splits", value_set=["train+test", "train+val+test"],
                severity=self.severity, meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        rows, total = failing_rows(failure.result), failing_count(failure.result)
        shown = "; ".join(
            f"set '{row['set_id']}': {row['path_train']} in train, {row['path_test']} in test"
            for row in rows[:EXAMPLES]
        )
        text = (
            f"splits: {total} set(s) with images in both train and test ({shown}"
            f"{more(total, min(len(rows), EXAMPLES))}); every view of one object must stay "
            f"in one split, and data/splits.parquet no longer matches the manifest's "
            f"set_ids: {RESPLIT}"
        )
        return [Message(("splits", "set_leak"), text)]


class SetInValAndOther(Check):
    """No set in val and another split (a warning): early stopping sees its images."""

    name = "set_mixed"
    table = SETS
    severity = "warning"

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnValuesToNotBeInSet(
                column="splits", value_set=["train+val", "val+test"],
                severity=self.severity, meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        rows, total = failing_rows(failure.result), failing_count(failure.result)
        shown = "; ".join(f"set '{row['set_id']}' in {row['splits']}" for row in rows[:EXAMPLES])
        text = (
            f"splits: {total} set(s) in more than one split ({shown}"
            f"{more(total, min(len(rows), EXAMPLES))}); validation scores are optimistic "
            f"for them: {RESPLIT}"
        )
        return [Message(("splits", "set_mixed"), text)]
