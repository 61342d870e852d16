"""``metrics/<node>.json`` and ``metrics/stack.json``: what the evaluate and stack stages
measured on the frozen test split, and the per-class tables beside them.

DVC prints every top-level key of every metrics file as one column of one table
(``dvc metrics show``), so the metrics files hold only a few scalars and the per-class
figures live in CSV files under ``plots/`` (which ``dvc plots show`` draws)::

    metrics/round.json          {"accuracy": 0.94, "macro_f1": 0.93, "ece": 0.03}
    plots/round/per_class.csv   class,precision,recall,f1,support  (n_test: the supports)
    metrics/stack.json          {"leaf_accuracy": 0.96, "hierarchical_f1": 0.97,
                                 "distance_at_1": 0.08, "coverage": 0.99}
    plots/_stack/per_class.csv  class,recall

Every other number of the stack (hierarchical precision and recall, mistake severity,
accuracy per depth, precision at stop, ...) is in the promotion record, MLflow and the
model card; :class:`StackMetrics` reads either shape. The headline numbers
(``accuracy``, ``macro_f1``; ``leaf_accuracy``) are required; the rest reads as zero or
empty when an older file lacks it, as it always has.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from taxonomist.contracts.files import (
    number_or_none,
    read_json_object,
    required,
    write_atomic,
    write_text_atomic,
)
from taxonomist.errors import DataError

DEPTH_KEY = re.compile(r"accuracy_depth_(\d+)")
CLASS_COLUMNS = ["class", "precision", "recall", "f1", "support"]
PER_CLASS_FILE = "per_class.csv"  # in plots/<node>/ and plots/_stack/; a DVC plot
STACK_PLOTS = "_stack"  # plots/_stack/: the stack's tables, beside the nodes' plots/<node>/
# The stack's numbers ``dvc metrics show`` prints, next to the nodes' three: together
# they fit a 120-column terminal (tests/evaluate/test_dvc_views.py measures it). Counts
# of images are not among them: they are sizes, not results to diff.
STACK_HEADLINE = ("leaf_accuracy", "hierarchical_f1", "distance_at_1", "coverage")
# The stack stage's calibrated stopping, in plots/_stack/ (see taxonomist.stack.tuning):
CALIBRATION_FILE = "calibration.csv"  # one NodeCalibration per node
DECODING_FILE = "decoding.csv"  # one DecodingScores per decoding and stopping
RISK_COVERAGE_FILE = "risk_coverage.csv"  # the stack: threshold, coverage, risk
NODE_CURVES = "risk_coverage"  # plots/_stack/risk_coverage/<node>.csv, the same per node


@dataclass(frozen=True)
class ClassScores:
    """One class of a node: how its test images were classified."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int

    def to_json(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "support": self.support}

    @classmethod
    def from_json(cls, name: str, scores: Mapping[str, Any]) -> ClassScores:
        return cls(
            name=str(name),
            precision=float(scores.get("precision", 0.0)),
            recall=float(scores.get("recall", 0.0)),
            f1=float(scores.get("f1", 0.0)),
            support=int(scores.get("support", 0)),
        )


@dataclass(frozen=True)
class NodeMetrics:
    """``metrics/<node>.json`` (+ ``plots/<node>/per_class.csv``): one node's classifier
    alone on its test images.

    Attributes:
        accuracy, macro_f1: over the test images whose label falls under the node.
        ece: top-label expected calibration error of its probabilities on those images.
        n_test: how many such images there were.
        classes: the node's children, in the order the evaluate stage listed them.
    """

    accuracy: float
    macro_f1: float
    n_test: int
    classes: list[ClassScores]
    ece: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The scalars of the metrics file (the per-class rows go to the CSV)."""
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "ece": self.ece}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str, node: str) -> NodeMetrics:
        """From the metrics file, or from the evaluate stage's dict with ``per_class``.

        Raises: DataError: ``accuracy`` or ``macro_f1`` is missing (named with the file).
        """
        stage = f"evaluate@{node}"
        per_class = data.get("per_class", {})
        return cls(
            accuracy=float(required(data, "accuracy", source, stage)),
            macro_f1=float(required(data, "macro_f1", source, stage)),
            n_test=int(data.get("n_test", 0)),
            classes=[
                ClassScores.from_json(name, per_class.get(name, {}))
                for name in data.get("classes", list(per_class))
            ],
            ece=float(data.get("ece", 0.0)),
        )

    @classmethod
    def read(cls, path: Path, node: str, per_class: Path | None = None) -> NodeMetrics:
        """The metrics file and, when given and present, the per-class CSV beside it.

        Raises: DataError: missing (run ``dvc repro evaluate@<node>``) or broken.
        """
        metrics = cls.from_json(read_json_object(path, f"evaluate@{node}"), str(path), node)
        if per_class is None or not per_class.is_file():
            return metrics  # an older file kept its classes inline, or there are none
        with per_class.open(newline="", encoding="utf-8") as rows:
            classes = [ClassScores.from_json(row["class"], row) for row in csv.DictReader(rows)]
        return replace(metrics, classes=classes, n_test=sum(c.support for c in classes))

    def write(self, path: Path, per_class: Path) -> None:
        """Write the metrics file and the per-class CSV (class, precision, recall, ...)."""
        _write(path, self.to_json())
        per_class.parent.mkdir(parents=True, exist_ok=True)
        with per_class.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(CLASS_COLUMNS)
            writer.writerows([c.name, *c.to_json().values()] for c in self.classes)


@dataclass(frozen=True)
class StackMetrics:
    """The whole stack, end to end, on the frozen test split (see
    :mod:`taxonomist.evaluate.hierarchy` for each definition).

    Attributes:
        leaf_accuracy: over the images labelled with a leaf.
        mistake_severity: mean tree distance between answer and label, over mistakes.
        stopped_early: the share of images whose walk ended above the leaves.
        n_test: the test images.
        depth_accuracy: ``(depth, accuracy)`` pairs, depth 1 first (``accuracy_depth_<n>``).
        per_class_recall: recall per leaf.
        hierarchical_precision, hierarchical_recall, hierarchical_f1: Kiritchenko et al.
        distance_at_1: mean tree distance between answer and label over all images.
        coverage: the share of images whose walk reached a leaf.
        precision_at_stop: the share whose answer is the label or one of its ancestors.
        target_precision: the root's ``stopping.target_precision``, which
            ``precision_at_stop`` is measured against; None: thresholds set by hand.
    """

    leaf_accuracy: float
    mistake_severity: float = 0.0
    stopped_early: float = 0.0
    n_test: int = 0
    depth_accuracy: list[tuple[int, float]] = field(default_factory=list)
    per_class_recall: dict[str, float] = field(default_factory=dict)
    hierarchical_precision: float = 0.0
    hierarchical_recall: float = 0.0
    hierarchical_f1: float = 0.0
    distance_at_1: float = 0.0
    coverage: float = 0.0
    precision_at_stop: float = 0.0
    target_precision: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Every number, flat, as the stack stage computes them (MLflow, promotion.json);
        ``target_precision`` only when the root's threshold was chosen for one."""
        depths = {f"accuracy_depth_{depth}": value for depth, value in self.depth_accuracy}
        scalars = {f.name: getattr(self, f.name) for f in fields(self)
                   if f.name not in ("depth_accuracy", "per_class_recall")
                   and getattr(self, f.name) is not None}
        return {**scalars, **depths, "per_class_recall": self.per_class_recall}

    def headline(self) -> dict[str, float | int]:
        """What ``metrics/stack.json`` holds: the few scalars ``dvc metrics show`` prints."""
        return {key: getattr(self, key) for key in STACK_HEADLINE}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "metrics/stack.json") -> StackMetrics:
        """Raises: DataError: ``leaf_accuracy`` is missing (named with the file)."""
        depths = sorted(
            (int(match.group(1)), float(value))
            for key, value in data.items()
            if (match := DEPTH_KEY.fullmatch(key))
        )
        recall = data.get("per_class_recall", {})
        numbers = {f.name: f.type for f in fields(cls) if f.name not in (
            "leaf_accuracy", "depth_accuracy", "per_class_recall", "target_precision")}
        return cls(
            leaf_accuracy=float(required(data, "leaf_accuracy", source, "stack")),
            depth_accuracy=depths,
            per_class_recall={str(k): float(v) for k, v in recall.items()},
            target_precision=number_or_none(data.get("target_precision")),
            **{name: (int if kind == "int" else float)(data.get(name, 0))
               for name, kind in numbers.items()},
        )

    @classmethod
    def read(cls, path: Path) -> StackMetrics:
        """Raises: DataError: missing (run ``dvc repro stack``) or broken."""
        return cls.from_json(read_json_object(path, "stack"), str(path))

    def write(self, path: Path, per_class: Path) -> None:
        """Write ``metrics/stack.json`` (the headline) and the per-leaf recall CSV."""
        _write(path, self.headline())
        per_class.parent.mkdir(parents=True, exist_ok=True)
        with per_class.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["class", "recall"])
            writer.writerows(self.per_class_recall.items())


@dataclass(frozen=True)
class NodeCalibration:
    """One row of ``plots/_stack/calibration.csv``: a node's calibrated stopping.

    Attributes:
        temperature: what the node's logits are divided by (fitted on val; 1: none).
        ece_before, ece_after: its expected calibration error on test, without and with.
        threshold: the stack stops at the node below it: chosen on val for
            ``target_precision``, else the hand-set ``threshold`` (target None).
        val_images, test_images: images of the node's subtree whose path passes it.
        val_precision, test_precision: the share of those whose answer, from the node
            on, is right (the label or an ancestor); the target's promise is on val.
        test_coverage: the share of them the node let through to a child.
    """

    node: str
    temperature: float
    ece_before: float
    ece_after: float
    threshold: float
    target_precision: float | None
    val_images: int
    val_precision: float
    test_images: int
    test_precision: float
    test_coverage: float


@dataclass(frozen=True)
class DecodingScores:
    """One row of ``plots/_stack/decoding.csv``: a decoding on test, with ``stopping``
    ``"none"`` (every walk to a leaf) or ``"chosen"`` (the thresholds chosen for it)."""

    decoding: str
    stopping: str
    leaf_accuracy: float
    distance_at_1: float
    mistake_severity: float
    coverage: float
    precision_at_stop: float

    @classmethod
    def from_metrics(cls, decoding: str, stopping: str, metrics: Mapping[str, Any]
                     ) -> DecodingScores:
        numbers = [f.name for f in fields(cls)][2:]
        return cls(decoding, stopping, **{name: float(metrics[name]) for name in numbers})


def write_rows(path: Path, rows: list[Any]) -> None:
    """A list of one of the records above as a CSV file (a DVC plot, read by the card)."""
    frame = pd.DataFrame([asdict(row) for row in rows])
    write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False))


def read_rows(path: Path, kind: type) -> list[Any]:
    """The rows :func:`write_rows` wrote, or [] when the file is absent (an older stack).

    Raises: DataError: a column of ``kind`` is missing (rerun ``dvc repro stack``).
    """
    if not path.is_file():
        return []
    frame = pd.read_csv(path)
    missing = [f.name for f in fields(kind) if f.name not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing columns {', '.join(missing)}; rerun "
                        "`dvc repro stack` to rewrite it")
    frame = frame.astype(object).where(frame.notna(), None)
    return [kind(**{f.name: row[f.name] for f in fields(kind)}) for _, row in frame.iterrows()]


def _write(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=2))
