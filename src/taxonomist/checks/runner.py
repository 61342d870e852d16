"""Run the registered checks with great-expectations, and build their Data Docs.

The only module that imports great-expectations: the import takes seconds, so
:func:`taxonomist.checks.validate` imports this module inside the function, not at the
top. The checks build their expectations from the ``gx.expectations`` module handed to
them here (:meth:`~.base.Check.expectations`); one suite per table, rebuilt every run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.data_context import EphemeralDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from taxonomist.checks.base import Check, Table
from taxonomist.checks.dataset import Dataset

DOCS_SITE = "taxonomist"
# What great-expectations writes into a site's folder.
SITE_ENTRIES = ("index.html", "static", "validations", "expectations")


def ephemeral_context() -> EphemeralDataContext:
    """An in-memory context: no progress bars, no usage statistics, no Data Docs site.

    Suites are rebuilt on every run, so there is nothing to keep between runs (a file
    context would also fail the second run with "already exists"). The temporary Data
    Docs site an ephemeral context would make is left out: :func:`build_data_docs` adds
    one where the report goes.
    """
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_checks(
    context: EphemeralDataContext, checks: Iterable[Check], data: Dataset
) -> dict[str, ExpectationSuiteValidationResult]:
    """Run ``checks`` on their tables, one suite per table, in the order of ``checks``.

    A table is skipped when the images lack a column it requires, when it derives to
    None (or to no rows, where it does not run empty), and when none of its checks'
    expectations is on columns it has.

    Returns:
        Each suite's result, by table name.
    """
    runs = {}
    for table, group in _by_table(checks).items():
        if not data.has(*table.requires):
            continue
        frame = data.derived(table.derive)
        if frame is None or not (table.runs_empty or len(frame)):
            continue
        suite = _suite(table, group, frame.columns, data)
        if suite.expectations:
            runs[table.name] = run_suite(context, frame, suite, table.index, table.examples)
    return runs


def _by_table(checks: Iterable[Check]) -> dict[Table, list[Check]]:
    grouped: dict[Table, list[Check]] = {}
    for check in checks:
        grouped.setdefault(check.table, []).append(check)
    return grouped


def _suite(
    table: Table, checks: list[Check], columns: Iterable[str], data: Dataset
) -> gx.ExpectationSuite:
    """The checks' expectations on ``table``, less those on a column it lacks.

    A check on a missing column is left out: the missing column is reported once, by
    the manifest's column check (or, for the rejects, there is nothing to check).
    """
    present = set(columns)
    suite = gx.ExpectationSuite(name=table.name)
    for check in checks:
        for expectation in check.expectations(gx.expectations, data):
            if _columns_of(expectation) <= present:
                suite.add_expectation(expectation)
    return suite


def _columns_of(expectation: Any) -> set[str]:
    names = ("column", "column_A", "column_B")
    return {getattr(expectation, n) for n in names if getattr(expectation, n, None)}


def run_suite(
    context: EphemeralDataContext,
    frame: pd.DataFrame,
    suite: gx.ExpectationSuite,
    index_columns: Sequence[str] = (),
    examples: int | None = None,
) -> ExpectationSuiteValidationResult:
    """Validate ``frame`` against ``suite``; results come back in the suite's order.

    Args:
        context: from :func:`ephemeral_context`.
        frame: the table to check.
        suite: a suite not yet added to ``context``.
        index_columns: columns that identify a failing row in the results (e.g. ``path``),
            so messages can name the rows; those missing from ``frame`` are left out.
        examples: keep only this many failing rows per expectation (and their count);
            None keeps them all. Use it for tables as long as the manifest, whose
            failures are worded with a few examples.
    """
    asset = context.data_sources.add_pandas(suite.name).add_dataframe_asset(suite.name)
    definition = gx.ValidationDefinition(
        name=suite.name,
        data=asset.add_batch_definition_whole_dataframe(suite.name),
        suite=context.suites.add(suite),
    )
    result_format = {
        "result_format": "COMPLETE" if examples is None else "SUMMARY",
        "partial_unexpected_count": examples or 0,
        "unexpected_index_column_names": [c for c in index_columns if c in frame.columns],
    }
    result = context.validation_definitions.add(definition).run(
        batch_parameters={"dataframe": frame}, result_format=result_format
    )
    order = {expectation.id: i for i, expectation in enumerate(suite.expectations)}
    result.results.sort(key=lambda r: order.get(r.expectation_config.id, len(order)))
    return result


def build_data_docs(context: EphemeralDataContext, folder: Path) -> Path:
    """Render every validation run in ``context`` as Data Docs HTML in ``folder``.

    The site's own files and folders are removed first: each run has new run ids, so
    old pages would pile up beside the new ones (anything else in ``folder`` is kept).
    The pages load their CSS and JavaScript from CDNs, so they are unstyled offline but
    still readable.

    Returns:
        The site's ``index.html``.
    """
    for name in SITE_ENTRIES:
        old = folder / name
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        DOCS_SITE,
        {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(folder.resolve()),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    context.build_data_docs(site_names=[DOCS_SITE])
    return folder / "index.html"
