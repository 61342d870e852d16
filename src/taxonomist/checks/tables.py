"""The tables the checks run on: the manifest's columns and the per-class tables from it.

Nothing here imports great-expectations, so these helpers are cheap to call and to test.
The per-split tables start from :func:`node_rows`: one row per (image, inner node above
its label), which says which class the image is at that node.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from taxonomist.cached import SPLITS
from taxonomist.config.schema import ClassifierConfig
from taxonomist.taxonomy import Taxonomy

# The columns ingest writes to data/manifest.parquet, one row per image.
REQUIRED_COLUMNS = (
    "id",
    "path",
    "label",
    "source",
    "set_id",
    "taken_at",
    "width",
    "height",
    "stored",
)
ALL = "all"  # the split name of a count over every image, whichever split it is in


def class_counts(manifest: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """Images per class of every inner node, a class with no images included as 0.

    An image counts for the class it falls under at every node above its label: with
    ``vehicle: {bmw: [m3, x5], audi}``, an image labelled ``x5`` counts as ``bmw`` at
    ``vehicle`` and as ``x5`` at ``bmw``; one labelled only ``bmw`` counts at ``vehicle``.
    Labels outside the taxonomy, and missing labels, count nowhere.

    Returns:
        Columns ``node``, ``class``, ``count``: one row per (inner node, child), in
        taxonomy order.
    """
    labels = manifest["label"] if "label" in manifest.columns else pd.Series(dtype=object)
    per_label = labels[labels.isin(taxonomy.nodes)].value_counts()
    found = [
        (node, taxonomy.child_for_label(node, label), int(n))
        for label, n in per_label.items()
        for node in taxonomy.path(str(label))[:-1]
    ]
    summed = (
        pd.DataFrame(found, columns=["node", "class", "count"])
        .groupby(["node", "class"])["count"]
        .sum()
    )
    # Reindex to the whole taxonomy: a class nobody labelled must show up as 0, not vanish.
    every_class = pd.MultiIndex.from_tuples(_every_class(taxonomy), names=["node", "class"])
    counts = summed.reindex(every_class, fill_value=0).astype("int64")
    return counts.reset_index()


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


def split_counts(rows: pd.DataFrame, taxonomy: Taxonomy, present: Sequence[str]) -> pd.DataFrame:
    """Images per class of every inner node in each split, and in all of them together.

    Args:
        rows: :func:`node_rows` with a ``split`` column.
        taxonomy: every class of it gets a row per split, 0 when it has no images there.
        present: the splits that hold any image at all; a split nobody uses (``val: 0``)
            gets no rows, rather than a zero for every class.

    Returns:
        Columns ``node``, ``class``, ``split``, ``count``: splits in the order
        ``all``, train, val, test.
    """
    splits = [ALL, *(s for s in SPLITS if s in set(present))]
    per_split = rows.groupby(["node", "class", "split"], observed=True).size()
    overall = rows.groupby(["node", "class"], observed=True).size()
    overall.index = pd.MultiIndex.from_tuples(
        [(*key, ALL) for key in overall.index], names=["node", "class", "split"]
    )
    every = pd.MultiIndex.from_tuples(
        [(n, c, s) for n, c in _every_class(taxonomy) for s in splits],
        names=["node", "class", "split"],
    )
    counts = pd.concat([overall, per_split]).reindex(every, fill_value=0).astype("int64")
    return counts.rename("count").reset_index().astype({"node": str, "class": str, "split": str})


def imbalance(counts: pd.DataFrame) -> pd.DataFrame:
    """Per node, its largest and smallest class and the ratio of their counts.

    Args:
        counts: the table :func:`class_counts` returns.

    Returns:
        Columns ``node``, ``largest_class``, ``largest_count``, ``smallest_class``,
        ``smallest_count``, ``ratio``; the ratio is infinite when a class has no images.
    """
    rows = []
    for node, classes in counts.groupby("node", sort=False):
        largest = classes.loc[classes["count"].idxmax()]
        smallest = classes.loc[classes["count"].idxmin()]
        low, high = int(smallest["count"]), int(largest["count"])
        rows.append(
            {
                "node": node,
                "largest_class": largest["class"],
                "largest_count": high,
                "smallest_class": smallest["class"],
                "smallest_count": low,
                "ratio": high / low if low else math.inf,
            }
        )
    return pd.DataFrame(rows, columns=_IMBALANCE_COLUMNS)


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


_IMBALANCE_COLUMNS = [
    "node",
    "largest_class",
    "largest_count",
    "smallest_class",
    "smallest_count",
    "ratio",
]


def _every_class(taxonomy: Taxonomy) -> list[tuple[str, str]]:
    """(inner node, child) for the whole tree, in taxonomy order."""
    return [(node, kid) for node in taxonomy.inner_nodes for kid in taxonomy.children[node]]


def _as_taxonomy_order(rows: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """``node`` and ``class`` as categoricals, so group-bys are fast and in tree order."""
    classes = list(dict.fromkeys(kid for _, kid in _every_class(taxonomy)))
    return rows.astype(
        {
            "node": pd.CategoricalDtype(taxonomy.inner_nodes, ordered=True),
            "class": pd.CategoricalDtype(classes, ordered=True),
        }
    )
