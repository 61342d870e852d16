"""The validate stage: check the manifest and its splits before anything trains."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from taxonomist.checks.derived import Derived, derive
from taxonomist.checks.messages import sort_messages
from taxonomist.checks.phrases import EXAMPLES
from taxonomist.checks.report import ValidationReport
from taxonomist.config.schema import ClassifierConfig
from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy

# Above this many differing bits the chunks of the hash search get short and it slows
# quadratically; photos that far apart are rarely copies of each other anyway.
MAX_DISTANCE = 10
SHOWN_PAIRS = 20  # near-duplicate pairs listed in the JSON report


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
    _check_thresholds(taxonomy, classifiers, max_distance)
    derived = derive(manifest, splits, taxonomy, classifiers, max_distance)
    # great-expectations takes seconds to import: only this stage pays for it.
    from taxonomist.checks import context as gx_context

    context = gx_context.ephemeral_context()
    runs = _run_suites(context, derived, taxonomy, rejects)
    docs = None
    if data_docs:
        docs = gx_context.build_data_docs(context, docs_dir or out_path.parent / "docs")
    errors, warnings = sort_messages(r for run in runs.values() for r in run.results)
    report = ValidationReport(
        success=not errors,
        errors=errors,
        warnings=warnings,
        counts=derived.counts,
        n_images=len(manifest),
        statistics={name: dict(run.statistics) for name, run in runs.items()},
        split_counts=derived.split_counts,
        notes=derived.notes,
        tables={"imbalance": derived.imbalance, "divergence": derived.divergence, **derived.shares},
        near_duplicates=_near_duplicate_summary(derived),
        data_docs=Path(os.path.relpath(docs, out_path.parent)).as_posix() if docs else None,
        folder=out_path.parent,
    )
    report.write(out_path)
    return report


def _run_suites(
    context: Any, derived: Derived, taxonomy: Taxonomy, rejects: pd.DataFrame | None
) -> dict[str, Any]:
    """Each suite's ``ExpectationSuiteValidationResult``, by suite name."""
    from taxonomist.checks import suites
    from taxonomist.checks.context import run_suite

    images = derived.images
    runs = {
        "manifest": run_suite(
            context, images, suites.manifest_suite(taxonomy, images.columns), ["path", "label"]
        )
    }
    if "label" not in images.columns:
        return runs  # every class would count as empty: the missing column is the error
    planned = [
        ("class_counts", derived.split_counts, suites.counts_suite(), ["node", "class", "split"]),
        ("imbalance", derived.imbalance, suites.imbalance_suite(), _IMBALANCE_INDEX),
        ("selection_bias", derived.dominant, suites.dominance_suite(), _DOMINANT_INDEX),
        ("split_divergence", derived.divergence, suites.divergence_suite(), _DIVERGENCE_INDEX),
    ]
    for name, frame, suite, index in planned:
        if len(frame):
            runs[name] = run_suite(context, frame, suite, index)
    sampled = [
        ("sets", derived.sets, suites.sets_suite(), _SETS_INDEX),
        ("rejects", rejects, suites.rejects_suite(), ["path", "label", "reason"]),
    ]
    if derived.near_duplicates is not None:
        found = derived.near_duplicates
        suite = suites.near_duplicates_suite(found.max_distance)
        sampled.append(("near_duplicates", found.pairs, suite, _PAIRS_INDEX))
    for name, frame, suite, index in sampled:
        if frame is not None and set(_checked_columns(suite)) <= set(frame.columns):
            runs[name] = run_suite(context, frame, suite, index, examples=EXAMPLES)
    return runs


def _checked_columns(suite: Any) -> list[str]:
    return [e.column for e in suite.expectations if getattr(e, "column", None)]


def _near_duplicate_summary(derived: Derived) -> dict[str, Any] | None:
    found = derived.near_duplicates
    if found is None:
        return None
    pairs = found.pairs
    return {
        "max_distance": found.max_distance,
        "hashed": found.hashed,
        "skipped": found.skipped,
        "pairs": len(pairs),
        "image_pairs": int(pairs["images"].sum()),
        "train_test": int((pairs["kind"] == "leak").sum()),
        "examples": pairs.head(SHOWN_PAIRS).to_dict("records"),
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


def _check_thresholds(
    taxonomy: Taxonomy, classifiers: Mapping[str, ClassifierConfig], max_distance: int
) -> None:
    """Shares and distances must be fractions; the hash distance a small whole number."""
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ConfigError(
            "conf/config.yaml", "split.near_duplicate_distance",
            f"expected 0 to {MAX_DISTANCE} bits of the 64-bit perceptual hash, got "
            f"{max_distance}", "4 suits photos; 0 finds only identical hashes",
        )
    for node in taxonomy.inner_nodes:
        definition = classifiers[node]
        for key in ("max_source_share", "max_month_share", "max_split_divergence"):
            value = getattr(definition, key)
            least_ok = 0.0 if key == "max_split_divergence" else 1e-9  # a share of 0 flags all
            if not least_ok <= value <= 1.0:
                raise ConfigError(
                    f"conf/classifiers/{node}.yaml (or _default.yaml)", key,
                    f"expected a fraction from {'0' if least_ok == 0 else 'above 0'} to 1, "
                    f"got {value}", "e.g. 0.9 for a share, 0.2 for max_split_divergence",
                )

_IMBALANCE_INDEX = ["node", "largest_class", "largest_count", "smallest_class", "smallest_count"]
_DOMINANT_INDEX = ["node", "class", "of", "value", "node_share", "limit"]
_DIVERGENCE_INDEX = ["node", "split", "of", "value", "share", "train_share", "limit"]
_SETS_INDEX = ["set_id", "splits", "path_train", "path_val", "path_test"]
_PAIRS_INDEX = ["pair"]  # one column: see leakage._described
