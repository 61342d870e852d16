"""Manifest checks: columns present, ids unique and set, labels set and known, every image
in a split; where the manifest has them, perceptual hashes well formed and boxes inside
their image.

They run on the manifest joined with its splits (:attr:`~.dataset.Dataset.images`); a
check on a column the manifest lacks is left out, since the column check reports it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from types import ModuleType
from typing import Any

import pandas as pd

from taxonomist.checks.base import Check, Failure, Message, Table
from taxonomist.checks.dataset import Dataset
from taxonomist.checks.hashes import HEX_DIGITS
from taxonomist.checks.wording import (
    EXAMPLES,
    REINGEST,
    failing_count,
    failing_rows,
    images,
    more,
    paths,
    quoted,
)
from taxonomist.contracts.manifest import REQUIRED_COLUMNS


def _images(data: Dataset) -> pd.DataFrame:
    return data.images


IMAGES = Table("manifest", _images, index=("path", "label"), requires=())


class Columns(Check):
    """Every column of :data:`~taxonomist.contracts.manifest.REQUIRED_COLUMNS` is there."""

    name = "columns"
    table = IMAGES

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectTableColumnsToMatchSet(
                column_set=list(REQUIRED_COLUMNS), exact_match=False,
                severity=self.severity, meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        missing = failure.result.get("details", {}).get("mismatched", {}).get("missing", [])
        text = (
            f"manifest: missing column(s) {quoted(missing)} (expected "
            f"{', '.join(REQUIRED_COLUMNS)}); it was written by an older or a different "
            f"ingest: {REINGEST} to rewrite it"
        )
        return [Message(("manifest", "columns"), text)]


class Missing(Check):
    """No empty ``column``: ingest writes missing text as "", so empty counts as missing."""

    table = IMAGES
    fixes = {
        "id": f"ingest sets the id to the sha256 of the image's bytes: {REINGEST}",
        "label": f"give them a label in the source manifest, then {REINGEST}",
    }

    def __init__(self, column: str) -> None:
        self.column = column
        self.name = f"missing_{column}"

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        common = {"column": self.column, "severity": self.severity, "meta": self.meta()}
        return [
            expect.ExpectColumnValuesToNotBeNull(**common),
            expect.ExpectColumnValuesToNotBeInSet(value_set=[""], **common),
        ]

    def messages(self, failure: Failure) -> list[Message]:
        column, result = failure.column, failure.result
        fix = self.fixes.get(column, f"fill in {column}, then {REINGEST}")
        found = images(failing_count(result))
        text = f"manifest: {found} without {column} ({paths(result)}); {fix}"
        return [Message(("manifest", "missing", column), text)]


class UniqueIds(Check):
    """No ``id`` on two rows; with two labels, the same bytes are a label conflict."""

    name = "unique"
    table = IMAGES

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnValuesToBeUnique(
                column="id", severity=self.severity, meta=self.meta()
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        column, rows = failure.column, failing_rows(failure.result)
        labels: dict[Any, set[str]] = defaultdict(set)
        for row in rows:
            labels[row.get(column)].add(str(row.get("label", "")))
        conflicts = [value for value, found in labels.items() if len(found) > 1]
        messages = [_label_conflict(value, rows, column) for value in conflicts[:EXAMPLES]]
        repeated = Counter(row.get(column) for row in rows if row.get(column) not in conflicts)
        if not repeated:
            return messages
        shown = [
            f"'{value}' ({times} rows: {paths(failure.result, column, value)})"
            for value, times in repeated.most_common(EXAMPLES)
        ]
        text = (
            f"manifest: {len(repeated)} {column}(s) used by more than one row: "
            f"{', '.join(shown)}{more(len(repeated))}; every image needs its own {column}: "
            f"{REINGEST}, which keeps one row per image"
        )
        return [*messages, Message(("manifest", "unique", column), text)]


def _label_conflict(value: Any, rows: list[dict], column: str) -> Message:
    same = [row for row in rows if row.get(column) == value]
    labelled = ", ".join(f"{row.get('path', '?')} as '{row.get('label')}'" for row in same)
    text = (
        f"manifest: label conflict: the same bytes ({column} '{value}') are labelled "
        f"differently: {labelled}; decide on one label, fix the other rows in the source "
        f"manifest, then {REINGEST}"
    )
    return Message(("manifest", "conflict", str(value)), text)


class KnownLabels(Check):
    """Every label is a node of the taxonomy (an empty one is reported as missing)."""

    name = "known_label"
    table = IMAGES
    params = ("taxonomy",)

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        taxonomy = data.taxonomy
        return [
            expect.ExpectColumnValuesToBeInSet(
                column="label",
                value_set=taxonomy.nodes,
                row_condition=expect.row_conditions.Column("label") != "",
                severity=self.severity,
                meta=self.meta(taxonomy=taxonomy.name, file=taxonomy.source),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        column, meta = failure.column, failure.meta
        labels = Counter(str(v) for v in failure.result.get("unexpected_list", []))
        shown = [f"'{label}' ({images(n)})" for label, n in labels.most_common(EXAMPLES)]
        text = (
            f"manifest: {column}(s) that are not classes of taxonomy '{meta.get('taxonomy')}': "
            f"{', '.join(shown)}{more(len(labels))}; add the class to {meta.get('file')}, or "
            f"fix the labels in the source manifest and {REINGEST}"
        )
        return [Message(("manifest", "known", column), text)]


class InASplit(Check):
    """Every image of the manifest is in a split."""

    name = "no_split"
    table = IMAGES

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnValuesToNotBeNull(
                column="split", severity=self.severity, meta=self.meta()
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        result = failure.result
        text = (
            f"splits: {images(failing_count(result))} of the manifest in no split "
            f"({paths(result)}); data/splits.parquet is older than the manifest: run "
            f"`taxonomist split` (`dvc repro split`), which adds new images and keeps the rest"
        )
        return [Message(("splits", "missing"), text)]


class WellFormedHashes(Check):
    """Every ``phash`` is 16 hex digits (a warning: such images are not searched)."""

    name = "phash"
    table = IMAGES
    severity = "warning"

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnValuesToMatchRegex(
                column="phash",
                regex=f"^[0-9a-fA-F]{{{HEX_DIGITS}}}$",
                severity=self.severity,
                meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        result = failure.result
        text = (
            f"manifest: {images(failing_count(result))} with a phash that is not 16 hex digits "
            f"({paths(result)}); they are left out of the near-duplicate check: {REINGEST} "
            f"to hash them again"
        )
        return [Message(("manifest", "phash"), text)]


class BoxesInside(Check):
    """0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, where an image has a box."""

    name = "bbox"
    table = IMAGES

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        pairs = [
            ("bbox_x1", "bbox_x0", False), ("bbox_y1", "bbox_y0", False),
            ("width", "bbox_x1", True), ("height", "bbox_y1", True),
        ]
        ordered = [
            expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a, column_B=b, or_equal=equal, ignore_row_if="either_value_is_missing",
                severity=self.severity, meta=self.meta(),
            )
            for a, b, equal in pairs
        ]
        return ordered + [
            expect.ExpectColumnValuesToBeBetween(
                column=c, min_value=0, severity=self.severity, meta=self.meta()
            )
            for c in ("bbox_x0", "bbox_y0")
        ]

    def messages(self, failure: Failure) -> list[Message]:
        result = failure.result
        text = (
            f"manifest: {images(failing_count(result))} whose bbox is empty or outside the "
            f"image ({paths(result)}); a box needs 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= "
            f"height in pixels of the upright image: fix it in the source manifest, then "
            f"{REINGEST}"
        )
        return [Message(("manifest", "bbox"), text)]
