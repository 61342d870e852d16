"""Coverage checks: enough images of every class, in all splits and in each one.

A class below its node's ``min_images``, in all splits or in any one, fails validation;
below ``recommended_images`` in all splits it is a warning. Both run on
:func:`count_table`: the images per class of every inner node in each split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pandas as pd

from taxonomist.checks.base import Check, Failure, Message, Table
from taxonomist.checks.dataset import Dataset, every_class, with_thresholds
from taxonomist.checks.wording import images
from taxonomist.contracts.cache import SPLITS
from taxonomist.taxonomy import Taxonomy

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
    every = pd.MultiIndex.from_tuples(every_class(taxonomy), names=["node", "class"])
    counts = summed.reindex(every, fill_value=0).astype("int64")
    return counts.reset_index()


def split_counts(rows: pd.DataFrame, taxonomy: Taxonomy, present: Sequence[str]) -> pd.DataFrame:
    """Images per class of every inner node in each split, and in all of them together.

    Args:
        rows: :func:`~.dataset.node_rows` with a ``split`` column.
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
        [(n, c, s) for n, c in every_class(taxonomy) for s in splits],
        names=["node", "class", "split"],
    )
    counts = pd.concat([overall, per_split]).reindex(every, fill_value=0).astype("int64")
    return counts.rename("count").reset_index().astype({"node": str, "class": str, "split": str})


def counts_of(data: Dataset) -> pd.DataFrame:
    """:func:`class_counts` of the data set's images: the report's table of counts."""
    return class_counts(data.images, data.taxonomy)


def count_table(data: Dataset) -> pd.DataFrame:
    """:func:`split_counts` with each node's ``min_images`` and ``recommended_images``."""
    per_split = split_counts(data.rows, data.taxonomy, data.present_splits)
    return with_thresholds(per_split, data.classifiers, "min_images", "recommended_images")


CLASS_COUNTS = Table(
    "class_counts", count_table, index=("node", "class", "split"), runs_empty=False
)


class MinImages(Check):
    """At least the node's ``min_images`` per class, in all splits and in each one."""

    name = "min_images"
    table = CLASS_COUNTS
    reads = ("min_images",)

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="count", column_B="min_images", or_equal=True,
                severity=self.severity, meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        """One message per class, naming every split (and the total) that falls short."""
        short: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for row in failure.result.get("unexpected_index_list", []):
            short[(row["node"], row["class"])].append(row)
        return [_too_few(node, cls, rows) for (node, cls), rows in short.items()]


def _too_few(node: str, cls: str, rows: list[dict]) -> Message:
    by_split = {row.get("split", ALL): int(row["count"]) for row in rows}
    total = by_split.pop(ALL, None)
    if total is None:
        where = ", ".join(f"{images(n)} in {split}" for split, n in by_split.items())
        why = " (the split keeps whole sets together, so a class with few sets can miss a split)"
    else:
        splits = ", ".join(f"{split} {n}" for split, n in by_split.items())
        where, why = f"{images(total)} in all splits" + (f" ({splits})" if splits else ""), ""
    text = (
        f"node '{node}', class '{cls}': {where}, fewer than min_images "
        f"{rows[0]['min_images']}{why}; add images of '{cls}', or lower min_images in "
        f"conf/classifiers/{node}.yaml"
    )
    return Message((node, cls), text)


class RecommendedImages(Check):
    """At least the node's ``recommended_images`` per class in all splits (a warning)."""

    name = "recommended_images"
    table = CLASS_COUNTS
    severity = "warning"
    reads = ("recommended_images",)

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="count",
                column_B="recommended_images",
                or_equal=True,
                row_condition=expect.row_conditions.Column("split") == ALL,
                severity=self.severity,
                meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        return [
            Message(
                (row["node"], row["class"]),
                f"node '{row['node']}', class '{row['class']}': {images(int(row['count']))}, "
                f"fewer than recommended_images {row['recommended_images']}; more images of "
                f"'{row['class']}' usually help, or lower recommended_images in "
                f"conf/classifiers/{row['node']}.yaml",
            )
            for row in failure.result.get("unexpected_index_list", [])
        ]
