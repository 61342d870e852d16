"""Balance check: no node's largest class far outnumbers its smallest.

A node whose classes are very unbalanced learns to favour the large ones; training
compensates (``balance: weights`` or ``sampler``) only up to a point. The check runs on
:func:`imbalance_table`: per node, its largest and smallest class and their ratio.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import pandas as pd

from taxonomist.checks.base import Check, Failure, Message, Table
from taxonomist.checks.coverage import counts_of
from taxonomist.checks.dataset import Dataset, with_thresholds

_IMBALANCE_COLUMNS = [
    "node",
    "largest_class",
    "largest_count",
    "smallest_class",
    "smallest_count",
    "ratio",
]


def imbalance(counts: pd.DataFrame) -> pd.DataFrame:
    """Per node, its largest and smallest class and the ratio of their counts.

    Args:
        counts: the table :func:`~.coverage.class_counts` returns.

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


def imbalance_table(data: Dataset) -> pd.DataFrame:
    """:func:`imbalance` of the data set's counts, with each node's ``max_imbalance``."""
    return with_thresholds(imbalance(data.derived(counts_of)), data.classifiers, "max_imbalance")


IMBALANCE = Table("imbalance", imbalance_table, index=tuple(_IMBALANCE_COLUMNS[:-1]),
                  runs_empty=False)


class MaxImbalance(Check):
    """Largest/smallest class count at most the node's ``max_imbalance``; an empty class
    (an infinite ratio) always fails."""

    name = "max_imbalance"
    table = IMBALANCE
    reads = ("max_imbalance",)

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="max_imbalance", column_B="ratio", or_equal=True,
                severity=self.severity, meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        return [
            Message(
                (row["node"],),
                f"node '{row['node']}': classes unbalanced, '{row['largest_class']}' "
                f"{row['largest_count']} / '{row['smallest_class']}' {row['smallest_count']} "
                f"images = {_ratio(row)}, above max_imbalance {float(row['max_imbalance']):g}; "
                f"add images of '{row['smallest_class']}', or raise max_imbalance in "
                f"conf/classifiers/{row['node']}.yaml (and keep `balance: weights` or "
                f"`sampler` to compensate)",
            )
            for row in failure.result.get("unexpected_index_list", [])
        ]


def _ratio(row: dict[str, Any]) -> str:
    return f"{float(row['ratio']):.1f}" if int(row["smallest_count"]) else "infinite"
