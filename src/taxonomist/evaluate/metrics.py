"""One node's classification metrics: scikit-learn for the counts, torchmetrics for ECE."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from torchmetrics.functional.classification import multiclass_calibration_error

ECE_BINS = 15  # torchmetrics' default, as in Guo et al. 2017


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


def expected_calibration_error(
    probs: np.ndarray, y_true: Sequence[str], classes: list[str], n_bins: int = ECE_BINS
) -> float:
    """Top-label expected calibration error (torchmetrics' ``MulticlassCalibrationError``).

    The images are binned by the confidence of their top class into ``n_bins`` equal
    widths; ECE is the image-weighted mean gap between each bin's mean confidence and its
    accuracy (Guo et al. 2017). 0 is perfectly calibrated; a node that says 0.99 and is
    right 90% of the time scores about 0.09.
    """
    if len(y_true) == 0:
        return 0.0
    index = {name: k for k, name in enumerate(classes)}
    target = torch.tensor([index[name] for name in y_true], dtype=torch.long)
    ece = multiclass_calibration_error(
        torch.as_tensor(np.asarray(probs, dtype=np.float32)), target,
        num_classes=len(classes), n_bins=n_bins, norm="l1",
    )
    return round(float(ece), 4)
