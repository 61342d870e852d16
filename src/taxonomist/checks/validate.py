"""The validate stage: check the manifest and its splits before anything trains."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from taxonomist.checks import balance, bias, coverage, divergence, near_duplicates
from taxonomist.checks.base import Settings
from taxonomist.checks.dataset import Dataset
from taxonomist.checks.registry import CHECKS
from taxonomist.checks.report import ValidationReport
from taxonomist.checks.verdict import sort_messages
from taxonomist.config.schema import ClassifierConfig
from taxonomist.contracts.manifest import in_use, test_labels_changed
from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy


def validate(
    manifest: pd.DataFrame,
    splits: pd.DataFrame,
    taxonomy: Taxonomy,
    classifiers: Mapping[str, ClassifierConfig],
    out_path: Path,
    *,
    rejects: pd.DataFrame | None = None,
    max_distance: int = 4,
    docs_dir: Path | None = None,
    data_docs: bool = True,
    conf: Path = Path("conf"),
    classifier_dir: str = "classifiers",
) -> ValidationReport:
    """Check the manifest and its splits with great-expectations; write JSON and Data Docs.

    Errors (the report fails): a required column is missing; an ``id`` is empty or
    repeated (with two labels: a label conflict); a ``label`` is empty or not a class of
    the taxonomy; an image is in no split; a class of some node has fewer images than
    that node's ``min_images``, in all or in any one split; a node's largest/smallest
    class count is above its ``max_imbalance``; a set, or a near-duplicate pair, is in
    train and in test; a bounding box lies outside its image; a split's class or source
    distribution is further than ``max_split_divergence`` from train's, where the node
    sets ``fail_on_divergence``.

    Warnings (the report still passes): a class has fewer images than
    ``recommended_images``; a class comes from one source or one month more than
    ``max_source_share`` / ``max_month_share`` (and the node does not); a split diverges
    from train (the default); near-duplicates in different sets; a set in val and
    another split; ingest rejected rows as label conflicts; a malformed ``phash``.

    Args:
        manifest: one row per image, as ingest writes ``data/manifest.parquet``.
        splits: ``data/splits.parquet``: id, set_id, label, split.
        taxonomy: the class tree; an image counts for every node above its label.
        classifiers: one definition per inner node, for its thresholds.
        out_path: where to write the JSON report (folders are created).
        rejects: ``data/rejects.csv``, for the label conflicts ingest rejected.
        max_distance: perceptual hashes at most this many bits apart are near-duplicates.
        docs_dir: where to build the Data Docs; default ``docs/`` beside ``out_path``.
        data_docs: False skips the Data Docs (about half a second); the JSON then has
            ``"data_docs": null``.
        conf, classifier_dir: where the classifier files are, so that a hint names the
            file that holds the key (``conf/<classifier_dir>/<node>.yaml`` or the defaults).

    Returns:
        The report; ``report.success`` is the gate, ``report.summary()`` the text to print.

    Raises:
        ConfigError: an inner node has no classifier definition, or a threshold is
            outside its range.

    Example:
        >>> found = read_inputs(paths)  # doctest: +SKIP
        >>> report = validate(found.manifest, found.splits, config.taxonomy,
        ...                   config.classifiers, paths.validation)  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
    """
    _check_definitions(taxonomy, classifiers)
    settings = Settings(max_distance=max_distance)
    _check_ranges(taxonomy, classifiers, settings)
    used = in_use(manifest)  # excluded images are in no split, and train nothing
    data = Dataset.of(used, splits, taxonomy, classifiers, settings, rejects)
    # great-expectations takes seconds to import: only this stage pays for it.
    from taxonomist.checks import runner

    context = runner.ephemeral_context()
    runs = runner.run_checks(context, CHECKS, data)
    docs = None
    if data_docs:
        docs = runner.build_data_docs(context, docs_dir or out_path.parent / "docs")
    results = (r for run in runs.values() for r in run.results)
    errors, warnings = sort_messages(results, conf, classifier_dir)
    report = ValidationReport(
        success=not errors,
        errors=errors,
        warnings=warnings,
        counts=data.derived(coverage.counts_of),
        n_images=len(used),
        corrections={"excluded": len(manifest) - len(used),
                     "test_labels_changed": test_labels_changed(manifest, splits)},
        statistics={name: dict(run.statistics) for name, run in runs.items()},
        split_counts=data.derived(coverage.count_table),
        notes=data.notes() + near_duplicates.notes(data),
        tables=_report_tables(data),
        near_duplicates=near_duplicates.summary(data),
        data_docs=Path(os.path.relpath(docs, out_path.parent)).as_posix() if docs else None,
        folder=out_path.parent,
    )
    report.write(out_path)
    return report


def _report_tables(data: Dataset) -> dict[str, pd.DataFrame]:
    """The tables behind the checks that the JSON report shows, by name."""
    return {
        "imbalance": data.derived(balance.imbalance_table),
        "divergence": data.derived(divergence.divergence_table),
        **data.derived(bias.share_tables),
    }


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


def _check_ranges(
    taxonomy: Taxonomy, classifiers: Mapping[str, ClassifierConfig], settings: Settings
) -> None:
    """Each check's range check of its keys: the stage-wide ones, then node by node."""
    for check in CHECKS:
        check.check_settings(settings)
    for node in taxonomy.inner_nodes:
        for check in CHECKS:
            check.check_definition(node, classifiers[node])
