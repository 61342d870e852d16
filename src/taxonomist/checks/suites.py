"""great-expectations suites for the manifest and the tables derived from it.

Imports great-expectations (as does :mod:`~.context`): import it inside a function.
The suites are built afresh on every run: the label check from the taxonomy, the other
checks for tables that hold every node's thresholds in columns, so one expectation
checks every node against its own classifier definition (each expectation costs about
10 ms, each suite about 50 ms; one per node would not scale to a big taxonomy).

Every expectation carries ``meta={"check": <kind>, ...}``, which tells
:mod:`taxonomist.checks.messages` how to word its failure; warnings use
great-expectations' own ``severity``.
"""

from __future__ import annotations

from collections.abc import Iterable

import great_expectations as gx
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.row_conditions import Column

from taxonomist.checks.hashes import HEX_DIGITS
from taxonomist.checks.tables import ALL, REQUIRED_COLUMNS
from taxonomist.taxonomy import Taxonomy

E = gx.expectations
WARNING = FailureSeverity.WARNING


def manifest_suite(taxonomy: Taxonomy, columns: Iterable[str]) -> gx.ExpectationSuite:
    """Columns present, ids unique and set, labels set and known, every image in a split.

    Also, when the manifest has them: perceptual hashes well formed (warning: such
    images are left out of the near-duplicate search) and boxes inside their image.

    Args:
        taxonomy: the class tree; every label must be one of its nodes.
        columns: the columns of the manifest joined with its splits. Checks on a missing
            column are left out: the missing column is reported once, by the column check.
    """
    present = set(columns)
    suite = gx.ExpectationSuite(name="manifest")
    suite.add_expectation(
        E.ExpectTableColumnsToMatchSet(
            column_set=list(REQUIRED_COLUMNS), exact_match=False, meta={"check": "columns"}
        )
    )
    # Ingest writes missing text as "", so empty counts as missing too.
    value_checks = [
        E.ExpectColumnValuesToNotBeNull(column="id", meta={"check": "missing"}),
        E.ExpectColumnValuesToNotBeInSet(column="id", value_set=[""], meta={"check": "missing"}),
        E.ExpectColumnValuesToBeUnique(column="id", meta={"check": "unique"}),
        E.ExpectColumnValuesToNotBeNull(column="label", meta={"check": "missing"}),
        E.ExpectColumnValuesToNotBeInSet(column="label", value_set=[""], meta={"check": "missing"}),
        E.ExpectColumnValuesToBeInSet(
            column="label",
            value_set=taxonomy.nodes,
            row_condition=Column("label") != "",  # reported as missing, not as unknown
            meta={"check": "known_label", "taxonomy": taxonomy.name, "file": taxonomy.source},
        ),
        E.ExpectColumnValuesToNotBeNull(column="split", meta={"check": "no_split"}),
        E.ExpectColumnValuesToMatchRegex(
            column="phash",
            regex=f"^[0-9a-fA-F]{{{HEX_DIGITS}}}$",
            severity=WARNING,
            meta={"check": "phash"},
        ),
    ]
    for expectation in value_checks + _bbox_checks():
        if _columns_of(expectation) <= present:
            suite.add_expectation(expectation)
    return suite


def _columns_of(expectation: gx.expectations.Expectation) -> set[str]:
    names = ("column", "column_A", "column_B")
    return {getattr(expectation, n) for n in names if getattr(expectation, n, None)}


def _bbox_checks() -> list[gx.expectations.Expectation]:
    """0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, where an image has a box."""
    pairs = [
        ("bbox_x1", "bbox_x0", False), ("bbox_y1", "bbox_y0", False),
        ("width", "bbox_x1", True), ("height", "bbox_y1", True),
    ]
    checks = [
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=a, column_B=b, or_equal=equal, ignore_row_if="either_value_is_missing",
            meta={"check": "bbox"},
        )
        for a, b, equal in pairs
    ]
    return checks + [
        E.ExpectColumnValuesToBeBetween(column=c, min_value=0, meta={"check": "bbox"})
        for c in ("bbox_x0", "bbox_y0")
    ]


def counts_suite() -> gx.ExpectationSuite:
    """Images per class, in all and in each split, at least the node's ``min_images``
    (error); in all, at least its ``recommended_images`` (warning).

    Runs on :func:`~.tables.split_counts` with those two columns added by
    :func:`~.tables.with_thresholds`; a class that gets the error does not also get
    the warning (see :func:`~.messages.sort_messages`).
    """
    suite = gx.ExpectationSuite(name="class_counts")
    suite.add_expectation(
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="count", column_B="min_images", or_equal=True, meta={"check": "min_images"}
        )
    )
    suite.add_expectation(
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="count",
            column_B="recommended_images",
            or_equal=True,
            row_condition=Column("split") == ALL,
            severity=WARNING,
            meta={"check": "recommended_images"},
        )
    )
    return suite


def imbalance_suite() -> gx.ExpectationSuite:
    """Largest/smallest class count at most the node's ``max_imbalance``.

    Runs on :func:`~.tables.imbalance` with ``max_imbalance`` added by
    :func:`~.tables.with_thresholds`; an infinite ratio (an empty class) always fails.
    """
    suite = gx.ExpectationSuite(name="imbalance")
    suite.add_expectation(
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="max_imbalance",
            column_B="ratio",
            or_equal=True,
            meta={"check": "max_imbalance"},
        )
    )
    return suite


def dominance_suite() -> gx.ExpectationSuite:
    """No class drawn almost entirely from one source or one month (warning).

    Runs on :func:`~.bias.dominant` for ``source`` and ``month`` together: ``allowed``
    is the node's limit, or 1 when that source or month dominates the whole node.
    """
    suite = gx.ExpectationSuite(name="selection_bias")
    suite.add_expectation(
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="allowed",
            column_B="share",
            or_equal=True,
            severity=WARNING,
            meta={"check": "dominant"},
        )
    )
    return suite


def divergence_suite() -> gx.ExpectationSuite:
    """Each split's class and source distribution within ``max_split_divergence`` of
    train's, at each node; an error where the node sets ``fail_on_divergence``, else a
    warning.

    Runs on :func:`~.bias.divergence` for ``class`` and ``source`` together.
    """
    suite = gx.ExpectationSuite(name="split_divergence")
    for severity in (FailureSeverity.CRITICAL, WARNING):
        suite.add_expectation(
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="limit",
                column_B="distance",
                or_equal=True,
                row_condition=Column("severity") == ("warning" if severity == WARNING else "error"),
                severity=severity,
                meta={"check": "divergence"},
            )
        )
    return suite


def sets_suite() -> gx.ExpectationSuite:
    """Every set in one split: a set in train and test fails; other mixes warn.

    Runs on :func:`~.leakage.set_spans`.
    """
    suite = gx.ExpectationSuite(name="sets")
    suite.add_expectation(
        E.ExpectColumnValuesToNotBeInSet(
            column="splits", value_set=["train+test", "train+val+test"], meta={"check": "set_leak"}
        )
    )
    suite.add_expectation(
        E.ExpectColumnValuesToNotBeInSet(
            column="splits",
            value_set=["train+val", "val+test"],
            severity=WARNING,
            meta={"check": "set_mixed"},
        )
    )
    return suite


def near_duplicates_suite(max_distance: int) -> gx.ExpectationSuite:
    """No near-duplicate pair across train and test (error), none across sets (warning).

    Runs on the pairs of :func:`~.leakage.near_duplicates`.
    """
    suite = gx.ExpectationSuite(name="near_duplicates")
    for kind, check, severity in (
        ("leak", "near_duplicate_leak", FailureSeverity.CRITICAL),
        ("near_duplicate", "near_duplicate", WARNING),
    ):
        suite.add_expectation(
            E.ExpectColumnValuesToNotBeInSet(
                column="kind",
                value_set=[kind],
                severity=severity,
                meta={"check": check, "max_distance": max_distance},
            )
        )
    return suite


def rejects_suite() -> gx.ExpectationSuite:
    """Rows ingest rejected because their bytes were stored under another label
    (warning: the manifest kept the first label, which may be the wrong one).

    Runs on ``data/rejects.csv``.
    """
    suite = gx.ExpectationSuite(name="rejects")
    suite.add_expectation(
        E.ExpectColumnValuesToNotBeInSet(
            column="kind",
            value_set=["label_conflict"],
            severity=WARNING,
            meta={"check": "label_conflict"},
        )
    )
    return suite
