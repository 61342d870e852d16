"""What the stack must beat, measured on its own test split: scores and per-image answers.

The baseline stage writes one small file per baseline, with the same keys as the stack's
and the nodes' files, so ``dvc metrics show`` prints each baseline as one more row in the
columns it already has (``leaf_accuracy``, ``macro_f1``) and still fits 120 columns::

    metrics/_flat.json   {"leaf_accuracy": 0.975, "macro_f1": 0.9748}   one network, all leaves
    metrics/_svc.json    {"leaf_accuracy": 0.9867, "macro_f1": 0.9866}  SVC on 8x8 grey pixels

The leading underscore keeps the names apart from the nodes' ``metrics/<node>.json``,
like ``plots/_stack/``.

Beside the scores, each baseline's answer per image, ``plots/_baselines/<baseline>.csv``
(:data:`PREDICTION_COLUMNS`): one row per leaf-labelled image of the stack's test cache,
in its order and keyed by the image's ``id``, so the card can pair each baseline with the
stack image by image instead of comparing two rates::

    id,label,predicted,correct
    3f9a…,six,six,True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from taxonomist.contracts.files import read_json_object, required, write_atomic, write_text_atomic
from taxonomist.errors import DataError

FLAT = "flat"  # one network over every leaf, trained like the root node
SVC_PIXELS = "svc"  # scikit-learn's SVC on downscaled grey pixels
BASELINES = (FLAT, SVC_PIXELS)
STAGE = "baseline"
# The flat network's one node: models/_flat/, registered as <taxonomy>._flat
FLAT_NODE = "_flat"
# plots/_baselines/: each baseline's answer per test image, beside plots/_stack/
PREDICTIONS_DIR = "_baselines"
PREDICTION_COLUMNS = ("id", "label", "predicted", "correct")


def baseline_file(metrics_dir: Path, name: str) -> Path:
    """Where baseline ``name`` is written, e.g. ``metrics/_flat.json``."""
    return metrics_dir / f"_{name}.json"


@dataclass(frozen=True)
class BaselineScore:
    """One baseline on the test images labelled with a leaf.

    Attributes:
        name: :data:`FLAT` or :data:`SVC_PIXELS`.
        leaf_accuracy: the share of those images it names correctly (the stack's
            ``leaf_accuracy`` on the same images).
        macro_f1: F1 per leaf, averaged over the leaves.
    """

    name: str
    leaf_accuracy: float
    macro_f1: float

    def write(self, metrics_dir: Path) -> Path:
        path = baseline_file(metrics_dir, self.name)
        scores = {"leaf_accuracy": self.leaf_accuracy, "macro_f1": self.macro_f1}
        write_text_atomic(path, json.dumps(scores, indent=2))
        return path

    @classmethod
    def read(cls, metrics_dir: Path, name: str) -> BaselineScore:
        """Raises: DataError: the file is missing (run ``dvc repro baseline``) or broken."""
        path = baseline_file(metrics_dir, name)
        data = read_json_object(path, STAGE)
        return cls(
            name,
            float(required(data, "leaf_accuracy", str(path), STAGE)),
            float(required(data, "macro_f1", str(path), STAGE)),
        )


def read_baselines(metrics_dir: Path) -> list[BaselineScore]:
    """Every baseline whose file exists, in :data:`BASELINES` order (none before the
    baseline stage has run)."""
    return [
        BaselineScore.read(metrics_dir, name)
        for name in BASELINES
        if baseline_file(metrics_dir, name).is_file()
    ]


def predictions_file(plots_dir: Path, name: str) -> Path:
    """Where baseline ``name``'s answers are written, e.g. ``plots/_baselines/flat.csv``
    for ``plots_dir`` = ``plots/_baselines``."""
    return plots_dir / f"{name}.csv"


def predictions_table(ids: Sequence[str], labels: Sequence[str], predicted: Sequence[str]
                      ) -> pd.DataFrame:
    """One row per image in :data:`PREDICTION_COLUMNS`; ``correct`` is predicted == label."""
    table = pd.DataFrame({"id": list(ids), "label": list(labels), "predicted": list(predicted)})
    return table.assign(correct=table["label"] == table["predicted"])


def write_predictions(path: Path, table: pd.DataFrame) -> Path:
    """Write ``table`` (see :func:`predictions_table`) as CSV, atomically."""
    write_atomic(path, lambda tmp: table.to_csv(tmp, index=False, columns=PREDICTION_COLUMNS))
    return path


def read_predictions(path: Path) -> pd.DataFrame:
    """A baseline's answers per image, the columns typed (an id or a leaf named ``7`` stays
    a string).

    Raises:
        DataError: the file lacks a column of :data:`PREDICTION_COLUMNS`.
    """
    text = {c: str for c in PREDICTION_COLUMNS if c != "correct"}
    table = pd.read_csv(path, dtype=text | {"correct": bool}, keep_default_na=False)
    missing = [c for c in PREDICTION_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(
            f"{path}: expected columns {', '.join(PREDICTION_COLUMNS)}; missing "
            f"{', '.join(missing)}; rerun `dvc repro {STAGE}` to rewrite it"
        )
    return table
