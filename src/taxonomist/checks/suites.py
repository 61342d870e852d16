"""great-expectations suites for the manifest and the per-class tables derived from it.

This is the only module that imports great-expectations; the import takes seconds, so
:func:`taxonomist.checks.validate` imports this module inside the function, not at the top.
The suites are built afresh on every run: the label check from the taxonomy, the count
checks for tables that hold every class of the taxonomy with its node's thresholds.

Every expectation carries ``meta={"check": <kind>, ...}``, which tells
:mod:`taxonomist.checks.messages` how to word its failure; warnings use
great-expectations' own ``severity``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.data_context import EphemeralDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.row_conditions import Column

from taxonomist.checks.tables import REQUIRED_COLUMNS
from taxonomist.taxonomy import Taxonomy

E = gx.expectations


def ephemeral_context() -> EphemeralDataContext:
    """An in-memory context: nothing on disk, no progress bars, no usage statistics.

    Suites are rebuilt on every run, so there is nothing to keep between runs (a file
    context would also fail the second run with "already exists").
    """
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_suite(
    context: EphemeralDataContext,
    frame: pd.DataFrame,
    suite: gx.ExpectationSuite,
    index_columns: Sequence[str] = (),
) -> ExpectationSuiteValidationResult:
    """Validate ``frame`` against ``suite``; results come back in the suite's order.

    Args:
        context: from :func:`ephemeral_context`.
        frame: the table to check.
        suite: a suite from this module, not yet added to ``context``.
        index_columns: columns that identify a failing row in the results (e.g. ``path``),
            so messages can name the rows; those missing from ``frame`` are left out.
    """
    asset = context.data_sources.add_pandas(suite.name).add_dataframe_asset(suite.name)
    definition = gx.ValidationDefinition(
        name=suite.name,
        data=asset.add_batch_definition_whole_dataframe(suite.name),
        suite=context.suites.add(suite),
    )
    result_format = {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": [c for c in index_columns if c in frame.columns],
    }
    result = context.validation_definitions.add(definition).run(
        batch_parameters={"dataframe": frame}, result_format=result_format
    )
    order = {expectation.id: i for i, expectation in enumerate(suite.expectations)}
    result.results.sort(key=lambda r: order.get(r.expectation_config.id, len(order)))
    return result


def manifest_suite(taxonomy: Taxonomy, columns: Iterable[str]) -> gx.ExpectationSuite:
    """Columns present, ids unique and set, labels set and known to the taxonomy.

    Args:
        taxonomy: the class tree; every label must be one of its nodes.
        columns: the manifest's columns. Checks on a missing column are left out: the
            missing column is reported once, by the column check.
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
    ]
    for expectation in value_checks:
        if expectation.column in present:
            suite.add_expectation(expectation)
    return suite


def counts_suite() -> gx.ExpectationSuite:
    """Images per class at least the node's ``min_images`` (error) and at least its
    ``recommended_images`` (warning).

    Runs on :func:`~.tables.class_counts` with those two columns added by
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
            severity=FailureSeverity.WARNING,
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
