"""The tables the checks run on: the manifest's columns and two tables derived from it.

Nothing here imports great-expectations, so these helpers are cheap to call and to test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

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
    every_class = pd.MultiIndex.from_tuples(
        [(node, kid) for node in taxonomy.inner_nodes for kid in taxonomy.children[node]],
        names=["node", "class"],
    )
    counts = summed.reindex(every_class, fill_value=0).astype("int64")
    return counts.reset_index()


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
