"""Selection-bias tables: where each class's images come from, and how splits differ.

A class whose photos all come from one source (one camera, one shop, one crowd
campaign) or one month lets the model learn the source instead of the class: a
shortcut that holds on the test split and fails in the field. A val or test split whose
classes or sources are spread differently from train makes its score describe another
data set. These tables measure both; :mod:`taxonomist.checks.suites` checks them.

Pandas and scipy only, so they are cheap to call and to test.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

from taxonomist.config.schema import ClassifierConfig

TRAIN = "train"


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


def shares(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """The share of each value of ``column`` among each (node, class)'s images.

    Args:
        rows: :func:`~.tables.node_rows` carrying ``column``; missing or empty values
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
        rows: :func:`~.tables.node_rows` carrying ``column``.
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


def divergence(
    rows: pd.DataFrame, column: str, classifiers: Mapping[str, ClassifierConfig]
) -> pd.DataFrame:
    """How far each split's distribution of ``column`` at each node is from train's.

    The measure is the Jensen-Shannon distance (base 2): 0 for the same distribution,
    1 for disjoint ones, finite when a class is missing from one side (unlike the KL
    divergence, which is infinite then: too brittle for a gate on small splits).

    Args:
        rows: :func:`~.tables.node_rows` carrying ``split`` and ``column``.
        column: ``class`` or ``source``.
        classifiers: ``max_split_divergence`` and ``fail_on_divergence`` per node.

    Returns:
        Columns ``node``, ``split``, ``of``, ``distance``, ``value`` (the value whose
        share differs most), ``share``, ``train_share``, ``limit``, ``severity``
        (``error`` or ``warning``); nodes without train images are left out.
    """
    known = rows[rows["split"].notna() & rows[column].notna()]
    counts = known.groupby(["node", "split", column], observed=True).size().unstack(fill_value=0)
    if counts.empty or TRAIN not in counts.index.get_level_values("split"):
        return pd.DataFrame(columns=_DIVERGENCE_COLUMNS)
    dist = counts.div(counts.sum(axis=1), axis=0)
    train = dist.xs(TRAIN, level="split")
    others = dist[dist.index.get_level_values("split") != TRAIN]
    others = others[others.index.get_level_values("node").isin(train.index)]
    nodes = others.index.get_level_values("node")
    base = train.reindex(nodes).to_numpy()
    here = others.to_numpy()
    gap = np.abs(here - base)
    widest = gap.argmax(axis=1) if len(gap) else np.empty(0, dtype=int)
    picked = np.arange(len(widest))
    table = pd.DataFrame(
        {
            "node": nodes.astype(str),
            "split": others.index.get_level_values("split").astype(str),
            "of": column,
            "distance": jensenshannon(here, base, axis=1, base=2) if len(here) else [],
            "value": others.columns.astype(str)[widest],
            "share": here[picked, widest],
            "train_share": base[picked, widest],
        }
    )
    definitions = [classifiers[node] for node in table["node"]]
    table["limit"] = [float(d.max_split_divergence) for d in definitions]
    table["severity"] = ["error" if d.fail_on_divergence else "warning" for d in definitions]
    return table[_DIVERGENCE_COLUMNS]


_DIVERGENCE_COLUMNS = [
    "node", "split", "of", "distance", "value", "share", "train_share", "limit", "severity"
]
