"""Loaders for what the earlier stages wrote: promotion, metrics and validation results.

Each loader reads one file into a small frozen dataclass, so the template only sees
typed, already-checked values. A file a stage must have written is required and its
absence names the stage to run; optional inputs load as None.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taxonomist.config import Paths
from taxonomist.errors import DataError
from taxonomist.report.comparison import Check, Comparison, parse_checks, parse_comparison
from taxonomist.report.plots import image_data_uri

PROMOTE, REJECT, INVESTIGATE = "promote", "reject", "investigate"
DECISIONS = (PROMOTE, REJECT, INVESTIGATE)
_OLD_DECISIONS = {"needs_investigation": INVESTIGATE}  # promotion.json before three outcomes
_DEPTH_KEY = re.compile(r"accuracy_depth_(\d+)")


@dataclass(frozen=True)
class Promotion:
    """``reports/promotion.json``: the decision and both sides of the comparison.

    Attributes:
        decision: ``"promote"``, ``"reject"`` or ``"investigate"`` (an older file's
            ``"needs_investigation"`` reads as ``"investigate"``).
        comparison: the paired statistics, None for a first promotion or an older file.
        checks: every node/class non-inferiority check, empty when there were none.
        failing: the checks whose status is not ``ok``.
        class_recall_drops: an older file's drops in recall per class, else empty.
    """

    decision: str
    reason: str
    metric: str
    model: str
    version: str
    run_id: str
    metrics: dict[str, Any]
    live_version: str | None
    live_metrics: dict[str, Any] | None
    live_after: str | None
    difference: float | None
    class_recall_drops: dict[str, float]
    tracking_uri: str
    timestamp: str
    live_run_id: str | None = None
    comparison: Comparison | None = None
    checks: list[Check] = field(default_factory=list)
    failing: list[Check] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        return self.decision == PROMOTE

    @property
    def challenger_value(self) -> float | None:
        return _number(self.metrics.get(self.metric))

    @property
    def live_value(self) -> float | None:
        return _number((self.live_metrics or {}).get(self.metric))


@dataclass(frozen=True)
class ClassScores:
    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class NodeMetrics:
    """``metrics/<node>.json`` plus the node's confusion matrix as a data URI."""

    node: str
    accuracy: float
    macro_f1: float
    n_test: int
    classes: list[ClassScores]
    confusion_png: str | None


@dataclass(frozen=True)
class StackMetrics:
    """``metrics/stack.json``: the whole stack, end to end, on the frozen test split."""

    leaf_accuracy: float
    depth_accuracy: list[tuple[int, float]]
    mistake_severity: float
    n_test: int
    per_class_recall: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Validation:
    """``reports/data/validation.json``: the data gate's verdict."""

    success: bool
    errors: list[str]
    warnings: list[str]
    n_images: int
    docs: Path | None = None  # great-expectations' Data Docs index, when it was built


def load_promotion(path: Path) -> Promotion:
    """Read the promote stage's record.

    Raises:
        DataError: the file is missing, is not JSON, or lacks a key the card needs.
    """
    record = read_json(path, "promote")
    challenger = _key(record, "challenger", path)
    live = record.get("live_before") or None
    checks = parse_checks(record.get("checks"))
    failing = parse_checks(record["failing"]) if "failing" in record else None
    return Promotion(
        decision=read_decision(record, path),
        reason=str(record.get("reason", "")),
        metric=str(record.get("metric", "leaf_accuracy")),
        model=str(_key(record, "registered_model", path)),
        version=str(_key(challenger, "version", path, "challenger.")),
        run_id=str(challenger.get("run_id", "")),
        metrics=dict(challenger.get("metrics") or {}),
        live_version=None if live is None else str(live.get("version")),
        live_metrics=None if live is None else dict(live.get("metrics") or {}),
        live_after=None if record.get("live_after") is None else str(record["live_after"]),
        difference=_number(record.get("difference")),
        class_recall_drops=dict(record.get("class_recall_drops") or {}),
        tracking_uri=str(record.get("tracking_uri", "")),
        timestamp=str(record.get("timestamp", "")),
        live_run_id=None if live is None or not live.get("run_id") else str(live["run_id"]),
        comparison=parse_comparison(record),
        checks=checks,
        failing=[c for c in checks if c.failed] if failing is None else failing,
    )


def read_decision(record: dict[str, Any], path: Path) -> str:
    """The record's decision as one of :data:`DECISIONS`.

    Raises:
        DataError: no decision, or one the card does not know.
    """
    raw = str(_key(record, "decision", path))
    decision = _OLD_DECISIONS.get(raw, raw)
    if decision not in DECISIONS:
        raise DataError(
            f"{path}: decision must be one of {', '.join(DECISIONS)}, got '{raw}'; "
            "rerun `dvc repro promote` to rewrite it"
        )
    return decision


def load_node_metrics(paths: Paths, node: str) -> NodeMetrics:
    """Read one node's evaluation, classes in the order the evaluate stage listed them."""
    path = paths.node_metrics(node)
    data = read_json(path, f"evaluate@{node}")
    per_class = data.get("per_class", {})
    classes = [
        ClassScores(
            name=str(name),
            precision=float(per_class.get(name, {}).get("precision", 0.0)),
            recall=float(per_class.get(name, {}).get("recall", 0.0)),
            f1=float(per_class.get(name, {}).get("f1", 0.0)),
            support=int(per_class.get(name, {}).get("support", 0)),
        )
        for name in data.get("classes", list(per_class))
    ]
    return NodeMetrics(
        node=node,
        accuracy=float(_key(data, "accuracy", path)),
        macro_f1=float(_key(data, "macro_f1", path)),
        n_test=int(data.get("n_test", 0)),
        classes=classes,
        confusion_png=image_data_uri(paths.node_plots(node) / "confusion.png"),
    )


def load_stack_metrics(path: Path) -> StackMetrics:
    """Read the stack's metrics; ``accuracy_depth_<n>`` keys become sorted pairs."""
    data = read_json(path, "stack")
    depths = sorted(
        (int(match.group(1)), float(value))
        for key, value in data.items()
        if (match := _DEPTH_KEY.fullmatch(key))
    )
    return StackMetrics(
        leaf_accuracy=float(_key(data, "leaf_accuracy", path)),
        depth_accuracy=depths,
        mistake_severity=float(data.get("mistake_severity", 0.0)),
        n_test=int(data.get("n_test", 0)),
        per_class_recall={str(k): float(v) for k, v in data.get("per_class_recall", {}).items()},
    )


def load_validation(path: Path) -> Validation | None:
    """Read the validate stage's verdict, or None when validation has not run."""
    if not path.is_file():
        return None
    data = read_json(path, "validate")
    docs = path.parent / data["data_docs"] if data.get("data_docs") else None
    return Validation(
        success=bool(data.get("success", False)),
        errors=[str(e) for e in data.get("errors", [])],
        warnings=[str(w) for w in data.get("warnings", [])],
        n_images=int(data.get("n_images", 0)),
        docs=docs if docs is not None and docs.is_file() else None,
    )


def read_json(path: Path, stage: str) -> dict[str, Any]:
    """A JSON object written by ``stage``; a missing or broken file says how to remake it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{path} not found: the model card needs it\n"
            f"  hint: run `dvc repro {stage}` first, which runs every stage it needs"
        ) from None
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path} is not valid JSON ({err}); rerun `dvc repro {stage}` to rewrite it"
        ) from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _key(data: dict[str, Any], key: str, path: Path, prefix: str = "") -> Any:
    if key not in data:
        found = ", ".join(sorted(data)) or "nothing"
        raise DataError(f"{path}: expected key '{prefix}{key}', found only: {found}")
    return data[key]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
