"""Classification metrics via scikit-learn, shaped for DVC metrics files."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from taxonomist.taxonomy import Taxonomy


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], classes: list[str]
) -> dict[str, object]:
    """Accuracy, macro F1 and per-class precision/recall/F1/support."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    per_class = {
        c: {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(s),
        }
        for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(
            float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)), 4
        ),
        "n_test": len(y_true),
        "classes": classes,
        "per_class": per_class,
    }


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: list[str]) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=classes)


def stack_outcomes(
    taxonomy: Taxonomy, labels: Sequence[str], walks: Sequence[list[str]]
) -> pd.DataFrame:
    """One row per image: where the stack's walk ended and how far that is from the truth.

    Columns: label, predicted (the deepest class reached; the root if the first node was
    unsure), path (the walk, classes joined by "/"), correct (predicted == label),
    distance (edges in the tree between predicted and label).
    """
    predicted = [walk[-1] if walk else taxonomy.root for walk in walks]
    return pd.DataFrame(
        {
            "label": list(labels),
            "predicted": predicted,
            "path": ["/".join(walk) for walk in walks],
            "correct": [p == t for p, t in zip(predicted, labels, strict=True)],
            "distance": [taxonomy.distance(p, t) for p, t in zip(predicted, labels, strict=True)],
        }
    )


def stack_metrics(
    taxonomy: Taxonomy, outcomes: pd.DataFrame, walks: Sequence[list[str]]
) -> dict[str, object]:
    """Leaf accuracy, accuracy at each depth, mistake severity and per-leaf recall.

    Leaf metrics count only images labelled with a leaf; an image labelled with an inner
    node counts at the depths its label reaches.
    """
    leaf = outcomes[outcomes["label"].isin(taxonomy.leaves)]
    mistakes = leaf[~leaf["correct"]]
    metrics: dict[str, object] = {
        "leaf_accuracy": _rate(leaf["correct"]),
        "mistake_severity": round(float(mistakes["distance"].mean()), 4) if len(mistakes) else 0.0,
        "stopped_early": _rate(~outcomes["predicted"].isin(taxonomy.leaves)),
        "n_test": len(outcomes),
    }
    truths = [taxonomy.path(label)[1:] for label in outcomes["label"]]
    for depth in range(1, max(map(len, truths), default=0) + 1):
        hits = [
            len(walk) >= depth and walk[depth - 1] == truth[depth - 1]
            for walk, truth in zip(walks, truths, strict=True)
            if len(truth) >= depth
        ]
        metrics[f"accuracy_depth_{depth}"] = _rate(pd.Series(hits, dtype=bool))
    metrics["per_class_recall"] = {
        cls: _rate(group["correct"]) for cls, group in leaf.groupby("label", sort=True)
    }
    return metrics


def _rate(flags: pd.Series) -> float:
    return round(float(flags.mean()), 4) if len(flags) else 0.0
