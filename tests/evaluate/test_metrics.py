"""One node's metrics: classification counts and expected calibration error by hand."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomist.evaluate.metrics import classification_metrics, expected_calibration_error

CLASSES = ["zero", "six"]


def test_ece_against_hand_binning() -> None:
    # 15 equal bins of width 1/15 ~ 0.0667; the top class's confidence picks the bin.
    probs = np.array([
        [0.95, 0.05],  # zero, right: bin (0.933, 1.0], alone: |0.95 - 1| = 0.05
        [0.25, 0.75],  # six, wrong (truth zero): bin (0.733, 0.8]: |0.75 - 0| = 0.75
        [0.38, 0.62],  # six, right: bin (0.6, 0.667]: |0.62 - 1| = 0.38
        [0.55, 0.45],  # zero, right: bin (0.533, 0.6]: |0.55 - 1| = 0.45
        [0.91, 0.09],  # zero, right } both in bin (0.867, 0.933]: mean confidence 0.92,
        [0.93, 0.07],  # zero, wrong } accuracy 1/2: |0.92 - 0.5| = 0.42, weight 2
    ])
    truth = ["zero", "zero", "six", "zero", "zero", "six"]
    # ECE = sum over bins (images in bin / 6) * gap = (0.05+0.75+0.38+0.45 + 2*0.42) / 6
    assert expected_calibration_error(probs, truth, CLASSES) == pytest.approx(2.47 / 6, abs=1e-4)


def test_ece_of_a_calibrated_and_an_empty_node() -> None:
    # confidence 0.75 in every image and right on 3 of 4: no gap
    probs = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, ["zero", "zero", "zero", "six"], CLASSES) == 0.0
    assert expected_calibration_error(np.zeros((0, 2)), [], CLASSES) == 0.0


def test_classification_metrics_by_hand() -> None:
    y_true = ["zero", "zero", "zero", "six"]
    y_pred = ["zero", "zero", "six", "six"]
    metrics = classification_metrics(y_true, y_pred, CLASSES)
    assert metrics["accuracy"] == 0.75  # 3 of 4
    # zero: P 2/2, R 2/3, F1 0.8; six: P 1/2, R 1/1, F1 2/3; macro (0.8 + 0.6667)/2
    assert metrics["per_class"]["zero"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8,
                                            "support": 3}
    assert metrics["per_class"]["six"]["precision"] == 0.5
    assert metrics["macro_f1"] == 0.7333
