"""What the model learned from: images per class and per source, and what ingest rejected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from taxonomist.config import Paths
from taxonomist.errors import DataError

EXAMPLES_PER_REASON = 3


@dataclass(frozen=True)
class RejectGroup:
    """All rejected images that share one reason, with a few paths to look at."""

    reason: str
    count: int
    examples: list[str]


@dataclass(frozen=True)
class DataSummary:
    """Counts from ``data/manifest.parquet`` and ``data/rejects.csv``.

    Attributes:
        manifest_found: False when ingest has not written a manifest; counts are empty.
        per_class: (label, images) in taxonomy order, labels outside the taxonomy last.
        per_source: (source, images), largest first.
        rejects: one group per reason, largest first.
    """

    manifest_found: bool
    n_images: int = 0
    per_class: list[tuple[str, int]] = field(default_factory=list)
    per_source: list[tuple[str, int]] = field(default_factory=list)
    rejects: list[RejectGroup] = field(default_factory=list)

    @property
    def n_rejects(self) -> int:
        return sum(group.count for group in self.rejects)


def load_data_summary(paths: Paths, class_order: Sequence[str]) -> DataSummary:
    """Summarise the manifest and the rejects.

    Args:
        paths: the project layout.
        class_order: every class name in display order (e.g. ``taxonomy.nodes``).
    """
    rejects = load_rejects(paths.rejects)
    if not paths.manifest.is_file():
        return DataSummary(manifest_found=False, rejects=rejects)
    manifest = _read_manifest(paths.manifest)
    return DataSummary(
        manifest_found=True,
        n_images=len(manifest),
        per_class=_counts(manifest["label"], class_order),
        per_source=_counts(manifest["source"], ()),
        rejects=rejects,
    )


def load_rejects(path: Path) -> list[RejectGroup]:
    """Group ``data/rejects.csv`` by kind of rejection (by reason when the file has no
    ``kind`` column); a missing or empty file means no rejects."""
    try:
        rejects = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return []
    missing = {"path", "reason"} - set(rejects.columns)
    if missing:
        raise DataError(
            f"{path}: expected columns path, label, reason; missing {', '.join(sorted(missing))}"
        )
    # A reason names the file it duplicates, so it is unique per row; the kind is not.
    key = "kind" if "kind" in rejects.columns else "reason"
    groups = [
        RejectGroup(str(kind), len(rows), rows["path"].head(EXAMPLES_PER_REASON).tolist())
        for kind, rows in rejects.groupby(key, sort=False)
    ]
    return sorted(groups, key=lambda g: (-g.count, g.reason))


def _read_manifest(path: Path) -> pd.DataFrame:
    manifest = pd.read_parquet(path, columns=None)
    missing = {"label", "source"} - set(manifest.columns)
    if missing:
        raise DataError(
            f"{path}: expected columns label and source, missing {', '.join(sorted(missing))}; "
            "rerun `dvc repro ingest` to rewrite the manifest"
        )
    return manifest


def _counts(values: pd.Series, order: Sequence[str]) -> list[tuple[str, int]]:
    counts = values.astype(str).value_counts()
    rank = {name: i for i, name in enumerate(order)}
    ordered = sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), -kv[1], kv[0]))
    return [(str(name), int(count)) for name, count in ordered]
