"""Selection-bias check: no class drawn almost entirely from one source or one month.

A class whose photos all come from one source (one camera, one shop, one crowd
campaign) or one month lets the model learn the source instead of the class: a
shortcut that holds on the test split and fails in the field. The check runs on
:func:`dominant_table`: the top source and month of every class; the report also shows
every share (:func:`share_tables`). Pandas only, so these are cheap to call and to test.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from taxonomist.checks.base import Check, Failure, Message, Table, require_fraction
from taxonomist.checks.dataset import Dataset
from taxonomist.checks.wording import share
from taxonomist.config.schema import ClassifierConfig

# The report's share tables and the column each is about.
SHARE_TABLES = {"source_shares": "source", "month_shares": "month", "label_sources": "label_source"}
# The columns whose dominance is checked, each against the node's max_<column>_share.
DOMINATED_BY = ("source", "month")


def shares(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """The share of each value of ``column`` among each (node, class)'s images.

    Args:
        rows: :func:`~.dataset.node_rows` carrying ``column``; missing or empty values
            are left out.

    Returns:
        Columns ``node``, ``class``, ``value``, ``count``, ``share`` (of the class's
        images that have a value), largest share first within each class.
    """
    known = rows[rows[column].notna() & (rows[column].astype("string") != "")]
    counts = known.groupby(["node", "class", column], observed=True).size().rename("count")
    table = counts.reset_index().rename(columns={column: "value"})
    totals = table.groupby(["node", "class"], observed=True)["count"].transform("sum")
    table["share"] = table["count"] / totals
    ordered = table.sort_values(["node", "class", "share"], ascending=[True, True, False])
    return ordered.astype({"node": str, "class": str, "value": str}).reset_index(drop=True)


def dominant(
    rows: pd.DataFrame, column: str, classifiers: Mapping[str, ClassifierConfig], key: str
) -> pd.DataFrame:
    """Per (node, class), the value of ``column`` most of its images share.

    A class may come almost entirely from one source when the whole node does (all
    images are from one camera: nothing to learn as a shortcut); it is suspect when it
    does and the node does not. So the share a class may reach is 1.0 when the value
    holds more than the limit of the node's images, else the limit.

    Args:
        rows: :func:`~.dataset.node_rows` carrying ``column``.
        column: ``source`` or ``month``.
        classifiers: the node's definition gives the limit, attribute ``key``.
        key: ``max_source_share`` or ``max_month_share``.

    Returns:
        Columns ``node``, ``class``, ``of``, ``value``, ``count``, ``share``,
        ``node_share``, ``limit``, ``allowed``: one row per class with any images.
    """
    table = shares(rows, column)
    top = table.drop_duplicates(["node", "class"]).reset_index(drop=True)
    per_node = table.groupby(["node", "value"], as_index=False)["count"].sum()
    per_node["node_share"] = per_node["count"] / per_node.groupby("node")["count"].transform("sum")
    top = top.merge(per_node[["node", "value", "node_share"]], on=["node", "value"], how="left")
    top["limit"] = [float(getattr(classifiers[node], key)) for node in top["node"]]
    top["allowed"] = np.where(top["node_share"] > top["limit"], 1.0, top["limit"])
    return top.assign(of=column)[
        ["node", "class", "of", "value", "count", "share", "node_share", "limit", "allowed"]
    ]


def dominant_table(data: Dataset) -> pd.DataFrame:
    """:func:`dominant` for the source and the month, one table (empty without either)."""
    rows = data.rows
    tables = [
        dominant(rows, column, data.classifiers, f"max_{column}_share")
        for column in DOMINATED_BY
        if column in rows.columns
    ]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def share_tables(data: Dataset) -> dict[str, pd.DataFrame]:
    """:func:`shares` of source, month and label source, by the report's table name."""
    rows = data.rows
    return {
        table: shares(rows, column)
        for table, column in SHARE_TABLES.items()
        if column in rows.columns
    }


SELECTION_BIAS = Table(
    "selection_bias", dominant_table, index=("node", "class", "of", "value", "node_share", "limit"),
    runs_empty=False,
)


class DominantSource(Check):
    """No class from (almost) one source or month which the node as a whole is not
    (a warning): ``allowed`` is the node's limit, or 1 when that source or month
    dominates the whole node."""

    name = "dominant"
    table = SELECTION_BIAS
    severity = "warning"
    reads = ("max_source_share", "max_month_share")

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="allowed", column_B="share", or_equal=True,
                severity=self.severity, meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        return [_dominated(row) for row in failure.result.get("unexpected_index_list", [])]

    def check_definition(self, node: str, definition: ClassifierConfig) -> None:
        for key in self.reads:  # a share of 0 would flag every class
            require_fraction(node, definition, key, zero_ok=False)


def _dominated(row: Mapping[str, Any]) -> Message:
    of = row["of"]
    text = (
        f"node '{row['node']}', class '{row['class']}': {share(row['share'])} of its "
        f"images come from {of} '{row['value']}' (of the node's images: "
        f"{share(row['node_share'])}), above max_{of}_share {float(row['limit']):g}; the "
        f"model can learn the {of} instead of the class: add images of '{row['class']}' "
        f"from other {of}s, or raise max_{of}_share in conf/classifiers/{row['node']}.yaml"
    )
    return Message((row["node"], row["class"], of), text)
