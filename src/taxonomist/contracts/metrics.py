"""``metrics/<node>.json`` and ``metrics/stack.json``: what the evaluate and stack stages
measured on the frozen test split.

DVC shows both files (``dvc metrics show``), so their JSON shape stays the one the
stages have always written::

    metrics/round.json  {"accuracy": 0.94, "macro_f1": 0.93, "n_test": 40,
                         "classes": ["zero", "six"],
                         "per_class": {"zero": {"precision": .., "recall": .., "f1": ..,
                                                "support": 20}, ...}}
    metrics/stack.json  {"leaf_accuracy": 0.96, "mistake_severity": 1.75,
                         "stopped_early": 0.01, "n_test": 80,
                         "accuracy_depth_1": 0.99, "accuracy_depth_2": 0.96,
                         "per_class_recall": {"zero": 0.95, ...}}

The headline numbers (``accuracy``, ``macro_f1``; ``leaf_accuracy``) are required;
the rest reads as zero or empty when an older file lacks it, as it always has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taxonomist.contracts.files import read_json_object, required

DEPTH_KEY = re.compile(r"accuracy_depth_(\d+)")


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
    """``metrics/<node>.json``: one node's classifier alone on its test images.

    Attributes:
        accuracy, macro_f1: over the test images whose label falls under the node.
        n_test: how many such images there were.
        classes: the node's children, in the order the evaluate stage listed them.
    """

    accuracy: float
    macro_f1: float
    n_test: int
    classes: list[ClassScores]

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "n_test": self.n_test,
            "classes": [c.name for c in self.classes],
            "per_class": {c.name: c.to_json() for c in self.classes},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str, node: str) -> NodeMetrics:
        """Raises: DataError: ``accuracy`` or ``macro_f1`` is missing (named with the file)."""
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
        )

    @classmethod
    def read(cls, path: Path, node: str) -> NodeMetrics:
        """Raises: DataError: missing (run ``dvc repro evaluate@<node>``) or broken."""
        return cls.from_json(read_json_object(path, f"evaluate@{node}"), str(path), node)

    def write(self, path: Path) -> None:
        _write(path, self.to_json())


@dataclass(frozen=True)
class StackMetrics:
    """``metrics/stack.json``: the whole stack, end to end, on the frozen test split.

    Attributes:
        leaf_accuracy: over the images labelled with a leaf.
        mistake_severity: mean tree distance between predicted and true class, over mistakes.
        stopped_early: the share of images whose walk ended above the leaves.
        n_test: the test images.
        depth_accuracy: ``(depth, accuracy)`` pairs, depth 1 first (``accuracy_depth_<n>``).
        per_class_recall: recall per leaf.
    """

    leaf_accuracy: float
    mistake_severity: float = 0.0
    stopped_early: float = 0.0
    n_test: int = 0
    depth_accuracy: list[tuple[int, float]] = field(default_factory=list)
    per_class_recall: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        depths = {f"accuracy_depth_{depth}": value for depth, value in self.depth_accuracy}
        return {
            "leaf_accuracy": self.leaf_accuracy,
            "mistake_severity": self.mistake_severity,
            "stopped_early": self.stopped_early,
            "n_test": self.n_test,
            **depths,
            "per_class_recall": self.per_class_recall,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "metrics/stack.json") -> StackMetrics:
        """Raises: DataError: ``leaf_accuracy`` is missing (named with the file)."""
        depths = sorted(
            (int(match.group(1)), float(value))
            for key, value in data.items()
            if (match := DEPTH_KEY.fullmatch(key))
        )
        recall = data.get("per_class_recall", {})
        return cls(
            leaf_accuracy=float(required(data, "leaf_accuracy", source, "stack")),
            mistake_severity=float(data.get("mistake_severity", 0.0)),
            stopped_early=float(data.get("stopped_early", 0.0)),
            n_test=int(data.get("n_test", 0)),
            depth_accuracy=depths,
            per_class_recall={str(k): float(v) for k, v in recall.items()},
        )

    @classmethod
    def read(cls, path: Path) -> StackMetrics:
        """Raises: DataError: missing (run ``dvc repro stack``) or broken."""
        return cls.from_json(read_json_object(path, "stack"), str(path))

    def write(self, path: Path) -> None:
        _write(path, self.to_json())


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
