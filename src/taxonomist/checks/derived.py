"""Every table the suites run on, derived once from the manifest and its splits.

Pandas, numpy and scipy only: no great-expectations here, so
``bench/validate.py`` can time the same derivation with plain pandas checks on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from taxonomist.checks import bias
from taxonomist.checks.leakage import NearDuplicates, near_duplicates, set_spans
from taxonomist.checks.tables import (
    class_counts,
    imbalance,
    node_rows,
    split_counts,
    with_splits,
    with_thresholds,
)
from taxonomist.config.schema import ClassifierConfig
from taxonomist.taxonomy import Taxonomy

COUNT_KEYS = ("min_images", "recommended_images")
# The columns of the manifest that the per-node tables carry along.
CARRIED = ("split", "source", "month", "label_source")
# The report's share tables and the column each is about.
SHARE_TABLES = {"source_shares": "source", "month_shares": "month", "label_sources": "label_source"}


@dataclass
class Derived:
    """The tables of one validation run.

    Attributes:
        images: the manifest plus ``split`` and ``month``.
        counts: images per class in all splits (:func:`~.tables.class_counts`).
        split_counts: per split too, with the count thresholds.
        imbalance: per node, with ``max_imbalance``.
        dominant: the top source and month of each class (:func:`~.bias.dominant`).
        divergence: each split against train, by class and by source.
        shares: ``source_shares``, ``month_shares``, ``label_sources`` for the report.
        sets: :func:`~.leakage.set_spans`, None without set ids or paths.
        near_duplicates: None when the manifest has no ``phash`` column.
        notes: what was left out and why.
    """

    images: pd.DataFrame
    counts: pd.DataFrame
    split_counts: pd.DataFrame
    imbalance: pd.DataFrame
    dominant: pd.DataFrame
    divergence: pd.DataFrame
    shares: dict[str, pd.DataFrame] = field(default_factory=dict)
    sets: pd.DataFrame | None = None
    near_duplicates: NearDuplicates | None = None
    notes: list[str] = field(default_factory=list)


def derive(
    manifest: pd.DataFrame,
    splits: pd.DataFrame,
    taxonomy: Taxonomy,
    classifiers: Mapping[str, ClassifierConfig],
    max_distance: int,
) -> Derived:
    """Join the splits to the manifest and build every table the checks need.

    Args:
        manifest: one row per image, as ingest writes it.
        splits: ``data/splits.parquet``.
        taxonomy: the class tree.
        classifiers: every inner node's thresholds.
        max_distance: the near-duplicate bound, in bits of the perceptual hash.
    """
    images = with_splits(manifest, splits)
    if "taken_at" in images.columns:
        images = images.assign(month=bias.month_of(images["taken_at"]))
    notes = _column_notes(images)
    rows = node_rows(images, taxonomy, CARRIED)
    present = images["split"].dropna().unique()
    counts = class_counts(images, taxonomy)
    per_split = split_counts(rows, taxonomy, present)
    derived = Derived(
        images=images,
        counts=counts,
        split_counts=with_thresholds(per_split, classifiers, *COUNT_KEYS),
        imbalance=with_thresholds(imbalance(counts), classifiers, "max_imbalance"),
        dominant=_dominant(rows, classifiers),
        divergence=_divergence(rows, classifiers),
        shares={
            table: bias.shares(rows, column)
            for table, column in SHARE_TABLES.items()
            if column in rows.columns
        },
        notes=notes,
    )
    if {"set_id", "path"} <= set(images.columns):
        derived.sets = set_spans(images)
    if {"phash", "path", "set_id"} <= set(images.columns):
        derived.near_duplicates = near_duplicates(images, max_distance)
        derived.notes += _hash_notes(derived.near_duplicates)
    return derived


def _dominant(rows: pd.DataFrame, classifiers: Mapping[str, ClassifierConfig]) -> pd.DataFrame:
    tables = [
        bias.dominant(rows, column, classifiers, f"max_{column}_share")
        for column in ("source", "month")
        if column in rows.columns
    ]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _divergence(rows: pd.DataFrame, classifiers: Mapping[str, ClassifierConfig]) -> pd.DataFrame:
    tables = [
        bias.divergence(rows, column, classifiers)
        for column in ("class", "source")
        if column in rows.columns
    ]
    return pd.concat(tables, ignore_index=True)


def _column_notes(images: pd.DataFrame) -> list[str]:
    """What an older manifest without the newer columns leaves unchecked."""
    notes = []
    if "phash" not in images.columns:
        notes.append(
            "no phash column in the manifest (an older ingest wrote it): near-duplicates "
            "were not searched; re-run `taxonomist ingest` to add perceptual hashes"
        )
    if "label_source" not in images.columns:
        notes.append("no label_source column in the manifest: label provenance not reported")
    if "month" in images.columns:
        undated = int(images["month"].isna().sum())
        if undated:
            notes.append(
                f"{undated} image(s) without a date in taken_at: left out of the shares "
                f"per month"
            )
    return notes


def _hash_notes(found: NearDuplicates) -> list[str]:
    if not found.skipped:
        return []
    return [
        f"{found.skipped} image(s) without a well-formed phash: left out of the "
        f"near-duplicate search"
    ]
