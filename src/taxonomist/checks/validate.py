"""The validate stage: check the manifest against the taxonomy before anything trains."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from taxonomist.checks.messages import sort_messages
from taxonomist.checks.report import ValidationReport
from taxonomist.checks.tables import class_counts, imbalance, with_thresholds
from taxonomist.config.schema import ClassifierConfig
from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy


def validate(
    manifest: pd.DataFrame,
    taxonomy: Taxonomy,
    classifiers: Mapping[str, ClassifierConfig],
    out_path: Path,
) -> ValidationReport:
    """Check the manifest with great-expectations and write the verdict as JSON.

    Errors (the report fails): a required column is missing; an ``id`` is empty or
    repeated; a ``label`` is empty or not a class of the taxonomy; a class of some node
    has fewer images than that node's ``min_images``; a node's largest/smallest class
    count is above its ``max_imbalance``. Warnings (the report still passes): a class
    has fewer images than ``recommended_images``.

    Args:
        manifest: one row per image, as ingest writes ``data/manifest.parquet``.
        taxonomy: the class tree; an image counts for every node above its label.
        classifiers: one definition per inner node, for its thresholds.
        out_path: where to write the JSON report (folders are created).

    Returns:
        The report; ``report.success`` is the gate, ``report.summary()`` the text to print.

    Raises:
        ConfigError: an inner node has no classifier definition.

    Example:
        >>> report = validate(pd.read_parquet(paths.manifest), config.taxonomy,
        ...                   config.classifiers, paths.validation)  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
    """
    _check_definitions(taxonomy, classifiers)
    counts = class_counts(manifest, taxonomy)
    runs = _run_suites(manifest, counts, taxonomy, classifiers)
    errors, warnings = sort_messages(r for run in runs.values() for r in run.results)
    report = ValidationReport(
        success=not errors,
        errors=errors,
        warnings=warnings,
        counts=counts,
        n_images=len(manifest),
        statistics={name: dict(run.statistics) for name, run in runs.items()},
    )
    report.write(out_path)
    return report


def _run_suites(
    manifest: pd.DataFrame,
    counts: pd.DataFrame,
    taxonomy: Taxonomy,
    classifiers: Mapping[str, ClassifierConfig],
) -> dict[str, Any]:
    """Each suite's ``ExpectationSuiteValidationResult``, by suite name."""
    # great-expectations takes seconds to import: only this stage pays for it.
    from taxonomist.checks import suites

    context = suites.ephemeral_context()
    manifest_suite = suites.manifest_suite(taxonomy, manifest.columns)
    runs = {"manifest": suites.run_suite(context, manifest, manifest_suite, ["path"])}
    if "label" not in manifest.columns:
        return runs  # every class would count as empty: the missing column is the error
    runs["class_counts"] = suites.run_suite(
        context,
        with_thresholds(counts, classifiers, "min_images", "recommended_images"),
        suites.counts_suite(),
        ["node", "class"],
    )
    runs["imbalance"] = suites.run_suite(
        context,
        with_thresholds(imbalance(counts), classifiers, "max_imbalance"),
        suites.imbalance_suite(),
        ["node", "largest_class", "largest_count", "smallest_class", "smallest_count"],
    )
    return runs


def _check_definitions(taxonomy: Taxonomy, classifiers: Mapping[str, ClassifierConfig]) -> None:
    missing = [node for node in taxonomy.inner_nodes if node not in classifiers]
    if missing:
        raise ConfigError(
            "conf/classifiers",
            "",
            f"no classifier definition for inner node(s) {', '.join(missing)} of taxonomy "
            f"'{taxonomy.name}'",
            "pass the classifiers from compose_config(), which fills every inner node "
            "from conf/classifiers/_default.yaml",
        )
