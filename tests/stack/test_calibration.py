"""Temperature scaling against optima worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomist.stack.calibration import fit_temperature, scale

# Four images, each 0.9 sure of class 0, right on three: the NLL is least where the
# scaled confidence equals the accuracy, 0.75, i.e. logit(0.75) = log(0.9/0.1) / T:
# T = ln 9 / ln 3 = 2 exactly.
OVERCONFIDENT = np.array([[0.9, 0.1]] * 4)
THREE_OF_FOUR = np.array([0, 0, 0, 1])


def test_temperature_of_an_overconfident_node_is_the_hand_optimum() -> None:
    assert fit_temperature(OVERCONFIDENT, THREE_OF_FOUR) == pytest.approx(2.0, abs=1e-3)


def test_scaling_by_that_temperature_gives_the_accuracy_as_confidence() -> None:
    np.testing.assert_allclose(scale(OVERCONFIDENT, 2.0), [[0.75, 0.25]] * 4, atol=1e-9)


def test_an_underconfident_node_is_sharpened() -> None:
    # 0.6 sure and right on 9 of 10: optimum logit(0.9) = ln(1.5) / T, T = ln1.5 / ln9
    probs = np.array([[0.6, 0.4]] * 10)
    expected = np.log(1.5) / np.log(9.0)
    assert fit_temperature(probs, np.array([0] * 9 + [1])) == pytest.approx(expected, abs=1e-3)


def test_three_classes_and_no_images() -> None:
    # 0.8 / 0.1 / 0.1, right on half: scaled top confidence must be 0.5, so
    # 0.8^(1/T) / (0.8^(1/T) + 2 * 0.1^(1/T)) = 0.5  =>  8^(1/T) = 2  =>  T = 3
    probs = np.array([[0.8, 0.1, 0.1]] * 4)
    assert fit_temperature(probs, np.array([0, 0, 1, 2])) == pytest.approx(3.0, abs=1e-3)
    assert fit_temperature(np.zeros((0, 3)), np.array([], int)) == 1.0
