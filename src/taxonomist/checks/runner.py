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
import jinja2
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.data_context import EphemeralDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.expectations.metadata_types import FailureSeverity

from taxonomist.checks.base import Check, Table
from taxonomist.checks.dataset import Dataset

DOCS_SITE = "taxonomist"
GX_INDEX = "gx_index.html"  # great-expectations' own index: its list is drawn from a CDN
# What great-expectations writes into a site's folder.
SITE_ENTRIES = ("index.html", GX_INDEX, "static", "validations", "expectations")
# The site's index, ours: every suite and its result page, readable with no network.
INDEX_PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data checks: every suite</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ccc;padding:.35rem;
text-align:left}.failed{color:#b00020;font-weight:600}.warned{color:#8a5a00}.passed{color:#1b5e20}
</style></head><body>
<h1>Data checks: every suite</h1>
<p>One great-expectations suite per table the validate stage checks. A suite fails only on an
error; warnings are listed on its page but do not stop <code>dvc repro</code>.</p>
<table><thead><tr><th>suite</th><th>status</th><th>expectations</th><th>result page</th>
<th>what it expects</th></tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row.suite }}</td>
<td class="{{ row.css }}">{{ row.status }}</td><td>{{ row.evaluated }}</td>
<td><a href="{{ row.result }}">{{ row.suite }} result</a></td>
<td><a href="{{ row.expectations }}">{{ row.suite }} expectations</a></td></tr>
{% endfor %}</tbody></table>
<p>The result pages are great-expectations' own: they load their styles and scripts from the
internet, so offline they show unstyled, every table still there.
Its own index (<a href="{{ gx_index }}">{{ gx_index }}</a>) lists nothing offline.</p>
</body></html>
""")


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
    great-expectations' pages load their CSS and JavaScript from CDNs, so they are
    unstyled offline but still readable; its index builds its list in JavaScript and
    shows nothing offline, so ``index.html`` is a page of ours (no network needed)
    naming every suite, its status and its pages, and great-expectations' own index is
    kept as ``gx_index.html``. A suite whose failures are all warnings reads as passed,
    as the validate stage counts it.

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
    rows = _pass_warning_only_suites(context)
    context.build_data_docs(site_names=[DOCS_SITE])
    (folder / "index.html").replace(folder / GX_INDEX)
    for row in rows:
        row["result"] = _only_page(folder, f"validations/{row['suite']}")
        row["expectations"] = f"expectations/{row['suite']}.html"
    index = folder / "index.html"
    index.write_text(INDEX_PAGE.render(rows=rows, gx_index=GX_INDEX), encoding="utf-8")
    return index


def _pass_warning_only_suites(context: EphemeralDataContext) -> list[dict[str, Any]]:
    """Mark stored results that failed only on warnings as passed; one row per suite.

    great-expectations calls a suite failed when any expectation fails, whatever its
    severity; the validate stage fails only on errors, and its Data Docs say the same.
    """
    store = context.validation_results_store
    rows = []
    for key in store.list_keys():
        result = store.get(key)
        failed = [r for r in result.results if not r.success]
        errors = [r for r in failed if _severity(r) == FailureSeverity.CRITICAL]
        if failed and not errors:
            result.success = True
            store.set(key, result)
        status, css = (
            (f"failed: {len(errors)} error(s)", "failed") if errors
            else (f"passed, {len(failed)} warning(s)", "warned") if failed
            else ("passed", "passed")
        )
        rows.append({"suite": result.suite_name, "status": status, "css": css,
                     "evaluated": f"{len(result.results) - len(failed)} of "
                                  f"{len(result.results)} met"})
    return sorted(rows, key=lambda row: row["suite"])


def _severity(result: Any) -> FailureSeverity:
    return FailureSeverity(result.expectation_config.severity or FailureSeverity.CRITICAL)


def _only_page(folder: Path, under: str) -> str:
    """The one HTML page under ``folder/under`` (one run per suite), relative to folder."""
    (page,) = (folder / under).rglob("*.html")
    return page.relative_to(folder).as_posix()
