"""Split-divergence check: val and test spread over classes and sources like train.

A val or test split whose classes or sources are spread differently from train makes
its score describe another data set. The check runs on :func:`divergence_table`: per
node and split, the distance of its class and source distributions from train's; it
fails where the node sets ``fail_on_divergence``, else it warns.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from taxonomist.checks.base import Check, Failure, Message, Table, require_fraction
from taxonomist.checks.dataset import Dataset
from taxonomist.checks.wording import RESPLIT, share
from taxonomist.config.schema import ClassifierConfig

TRAIN = "train"
# The distributions compared with train's.
COMPARED = ("class", "source")
_DIVERGENCE_COLUMNS = [
    "node", "split", "of", "distance", "value", "share", "train_share", "limit", "severity"
]


def divergence(
    rows: pd.DataFrame, column: str, classifiers: Mapping[str, ClassifierConfig]
) -> pd.DataFrame:
    """How far each split's distribution of ``column`` at each node is from train's.

    The measure is the Jensen-Shannon distance (base 2): 0 for the same distribution,
    1 for disjoint ones, finite when a class is missing from one side (unlike the KL
    divergence, which is infinite then: too brittle for a gate on small splits).

    Args:
        rows: :func:`~.dataset.node_rows` carrying ``split`` and ``column``.
        column: ``class`` or ``source``.
        classifiers: ``max_split_divergence`` and ``fail_on_divergence`` per node.

    Returns:
        Columns ``node``, ``split``, ``of``, ``distance``, ``value`` (the value whose
        share differs most), ``share``, ``train_share``, ``limit``, ``severity``
        (``error`` or ``warning``); nodes without train images are left out.
    """
    # scipy takes most of a second to import, and taxonomist.pipeline imports this module
    # (through the registry) on every stage for the keys the checks read.
    from scipy.spatial.distance import jensenshannon

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


def divergence_table(data: Dataset) -> pd.DataFrame:
    """:func:`divergence` of the classes and of the sources, one table."""
    rows = data.rows
    tables = [divergence(rows, column, data.classifiers) for column in COMPARED
              if column in rows.columns]
    return pd.concat(tables, ignore_index=True)


SPLIT_DIVERGENCE = Table(
    "split_divergence", divergence_table,
    index=("node", "split", "of", "value", "share", "train_share", "limit"), runs_empty=False,
)


class SplitDivergence(Check):
    """Each split's class and source distribution within ``max_split_divergence`` of
    train's, at each node: an error where the node sets ``fail_on_divergence``, else a
    warning (so :attr:`severity` is the default, not the only one)."""

    name = "divergence"
    table = SPLIT_DIVERGENCE
    severity = "warning"
    reads = ("max_split_divergence", "fail_on_divergence")

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        when = expect.row_conditions.Column("severity")
        return [
            expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="limit", column_B="distance", or_equal=True,
                row_condition=when == row_severity, severity=severity, meta=self.meta(),
            )
            for severity, row_severity in (("critical", "error"), ("warning", "warning"))
        ]

    def messages(self, failure: Failure) -> list[Message]:
        return [_diverged(row) for row in failure.result.get("unexpected_index_list", [])]

    def check_definition(self, node: str, definition: ClassifierConfig) -> None:
        require_fraction(node, definition, "max_split_divergence", zero_ok=True)


def _diverged(row: Mapping[str, Any]) -> Message:
    text = (
        f"node '{row['node']}', split '{row['split']}': its {row['of']} distribution "
        f"differs from train's by {float(row['distance']):.2f} (Jensen-Shannon distance), "
        f"above max_split_divergence {float(row['limit']):g}; most of all "
        f"{row['of']} '{row['value']}': {share(row['share'])} of {row['split']} vs "
        f"{share(row['train_share'])} of train; {_fix(row)}"
    )
    return Message((row["node"], row["split"], row["of"]), text)


def _fix(row: Mapping[str, Any]) -> str:
    where = f"conf/classifiers/{row['node']}.yaml"
    if row["of"] == "class":
        return f"with more sets per class this evens out; or {RESPLIT}; or raise it in {where}"
    return (
        f"the split does not stratify by source: add images of the under-represented "
        f"source, or {RESPLIT}; or raise it in {where}"
    )
