"""Loaders for what the card shows beside the records: validation, node plots.

The records themselves (promotion.json, the metrics files) are read through
:mod:`taxonomist.contracts`; this module adds what only the card needs: the data gate's
verdict and each node's confusion matrix as a data URI. Optional inputs load as None.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taxonomist.config import Paths
from taxonomist.contracts.files import read_json_object
from taxonomist.contracts.metrics import PER_CLASS_FILE, NodeMetrics
from taxonomist.report.plots import image_data_uri


@dataclass(frozen=True)
class NodeSection:
    """One node's part of the card: ``metrics/<node>.json``, its per-class CSV and its
    confusion matrix."""

    node: str
    metrics: NodeMetrics
    confusion_png: str | None


@dataclass(frozen=True)
class Validation:
    """``reports/data/validation.json``: the data gate's verdict."""

    success: bool
    errors: list[str]
    warnings: list[str]
    n_images: int
    docs: Path | None = None  # great-expectations' Data Docs index, when it was built
    excluded: int = 0  # images an expert took out of the splits
    test_labels_changed: int = 0  # test images relabelled since the test split was frozen


def load_node_section(paths: Paths, node: str) -> NodeSection:
    """Read one node's evaluation, classes in the order the evaluate stage listed them.

    Raises:
        DataError: ``metrics/<node>.json`` is missing or broken (the message names the
            stage to run).
    """
    return NodeSection(
        node=node,
        metrics=NodeMetrics.read(
            paths.node_metrics(node), node, paths.node_plots(node) / PER_CLASS_FILE
        ),
        confusion_png=image_data_uri(paths.node_plots(node) / "confusion.png"),
    )


def load_validation(path: Path) -> Validation | None:
    """Read the validate stage's verdict, or None when validation has not run."""
    if not path.is_file():
        return None
    data = read_json_object(path, "validate")
    docs = path.parent / data["data_docs"] if data.get("data_docs") else None
    return Validation(
        success=bool(data.get("success", False)),
        errors=[str(e) for e in data.get("errors", [])],
        warnings=[str(w) for w in data.get("warnings", [])],
        n_images=int(data.get("n_images", 0)),
        excluded=int(data.get("corrections", {}).get("excluded", 0)),
        test_labels_changed=int(data.get("corrections", {}).get("test_labels_changed", 0)),
        docs=docs if docs is not None and docs.is_file() else None,
    )
