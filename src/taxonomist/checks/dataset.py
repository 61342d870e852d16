"""The data set one validation run checks: the manifest joined to its splits, per node.

Every check derives its table from a :class:`Dataset`. Most start from
:attr:`Dataset.rows`: one row per (image, inner node above its label), which says which
class the image is at that node. Pandas only: no great-expectations here, so
``bench/validate.py`` can time the same derivation with plain pandas checks on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from taxonomist.checks.base import Settings
from taxonomist.config.schema import ClassifierConfig
from taxonomist.taxonomy import Taxonomy

# The columns of the images that the per-node rows carry along.
CARRIED = ("split", "source", "month", "label_source")

T = TypeVar("T")


@dataclass
class Dataset:
    """What the checks of one run look at, and the tables derived from it so far.

    Attributes:
        images: the manifest plus ``split`` (see :func:`with_splits`) and, where it has
            ``taken_at``, ``month`` (see :func:`month_of`).
        rows: :func:`node_rows` of the images, carrying :data:`CARRIED`.
        taxonomy: the class tree.
        classifiers: every inner node's definition, for its thresholds.
        settings: the stage-wide settings.
        rejects: ``data/rejects.csv``, None when ingest wrote none.
    """

    images: pd.DataFrame
    rows: pd.DataFrame
    taxonomy: Taxonomy
    classifiers: Mapping[str, ClassifierConfig]
    settings: Settings = field(default_factory=Settings)
    rejects: pd.DataFrame | None = None
    _derived: dict[Callable[..., Any], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        manifest: pd.DataFrame,
        splits: pd.DataFrame,
        taxonomy: Taxonomy,
        classifiers: Mapping[str, ClassifierConfig],
        settings: Settings,
        rejects: pd.DataFrame | None = None,
    ) -> Dataset:
        """Join the splits to the manifest and give each image its class at every node.

        Args:
            manifest: one row per image, as ingest writes it.
            splits: ``data/splits.parquet``: id, set_id, label, split.
            taxonomy: the class tree.
            classifiers: every inner node's thresholds.
            settings: the stage-wide settings.
            rejects: ``data/rejects.csv``, if ingest wrote one.
        """
        images = with_splits(manifest, splits)
        if "taken_at" in images.columns:
            images = images.assign(month=month_of(images["taken_at"]))
        rows = node_rows(images, taxonomy, CARRIED)
        return cls(images, rows, taxonomy, classifiers, settings, rejects)

    @property
    def present_splits(self) -> list[str]:
        """The splits that hold any image at all."""
        return list(self.images["split"].dropna().unique())

    def has(self, *columns: str) -> bool:
        """Whether the images have every one of ``columns``."""
        return set(columns) <= set(self.images.columns)

    def derived(self, build: Callable[[Dataset], T]) -> T:
        """``build(self)``, computed once: checks and the report share derived tables."""
        if build not in self._derived:
            self._derived[build] = build(self)
        return self._derived[build]

    def notes(self) -> list[str]:
        """What an older manifest without the newer columns leaves unchecked."""
        images, notes = self.images, []
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


def with_splits(manifest: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    """The manifest plus each image's ``split`` (missing when the splits do not list it).

    Args:
        manifest: one row per image, as ingest writes it.
        splits: ``data/splits.parquet``: id, set_id, label, split.

    Returns:
        The manifest's rows and columns, plus ``split``; ``set_id`` comes from the
        splits when the manifest has none.
    """
    if not {"id", "split"} <= set(splits.columns) or "id" not in manifest.columns:
        return manifest.assign(split=pd.Series(pd.NA, index=manifest.index, dtype="string"))
    wanted = ["id", "split"] + (["set_id"] if "set_id" not in manifest.columns else [])
    known = splits[[c for c in wanted if c in splits.columns]].drop_duplicates("id")
    joined = manifest.merge(known, on="id", how="left", validate="many_to_one")
    return joined.set_axis(manifest.index)


def month_of(taken_at: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each timestamp; missing where it is empty or not a date.

    Example:
        >>> month_of(pd.Series(["2024-01-08", "2024-02-29T10:00:00+01:00", ""])).tolist()
        ['2024-01', '2024-02', <NA>]
    """
    when = pd.to_datetime(taken_at, errors="coerce", utc=True, format="ISO8601")
    code = (when.dt.year * 100 + when.dt.month).astype("Int64")
    names = {c: f"{c // 100:04d}-{c % 100:02d}" for c in code.dropna().unique()}
    return code.map(names).astype("string")


def node_rows(images: pd.DataFrame, taxonomy: Taxonomy, columns: Sequence[str]) -> pd.DataFrame:
    """One row per image and inner node above its label: the image's class at that node.

    Labels outside the taxonomy, and missing labels, give no rows.

    Args:
        images: the manifest (with its ``split``, from :func:`with_splits`).
        taxonomy: the class tree.
        columns: the columns of ``images`` to carry along (those missing are left out).

    Returns:
        ``node`` and ``class`` as categoricals in taxonomy order, then ``columns``.
    """
    lookup = pd.DataFrame(
        [
            (label, node, taxonomy.child_for_label(node, label))
            for label in taxonomy.nodes
            for node in taxonomy.path(label)[:-1]
        ],
        columns=["label", "node", "class"],
    )
    carried = [c for c in columns if c in images.columns and c != "label"]
    labels = images["label"] if "label" in images.columns else pd.Series(dtype="string")
    rows = (
        images[carried]
        .assign(label=labels.astype("string"))
        .merge(lookup, on="label", how="inner")
    )
    rows = rows[["node", "class", *carried, *(["label"] if "label" in columns else [])]]
    return _as_taxonomy_order(rows, taxonomy)


def with_thresholds(
    table: pd.DataFrame, classifiers: Mapping[str, ClassifierConfig], *keys: str
) -> pd.DataFrame:
    """``table`` plus a column per classifier key, holding the value for the row's node.

    A threshold per row lets one expectation check every node against its own
    definition, instead of one expectation per node (each costs about 0.1 s to run).

    Example:
        >>> with_thresholds(counts, classifiers, "min_images")  # doctest: +SKIP
              node   class  count  min_images
        0    shape   round     14           3
    """
    return table.assign(
        **{key: [getattr(classifiers[node], key) for node in table["node"]] for key in keys}
    )


def every_class(taxonomy: Taxonomy) -> list[tuple[str, str]]:
    """(inner node, child) for the whole tree, in taxonomy order."""
    return [(node, kid) for node in taxonomy.inner_nodes for kid in taxonomy.children[node]]


def _as_taxonomy_order(rows: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """``node`` and ``class`` as categoricals, so group-bys are fast and in tree order."""
    classes = list(dict.fromkeys(kid for _, kid in every_class(taxonomy)))
    return rows.astype(
        {
            "node": pd.CategoricalDtype(taxonomy.inner_nodes, ordered=True),
            "class": pd.CategoricalDtype(classes, ordered=True),
        }
    )
