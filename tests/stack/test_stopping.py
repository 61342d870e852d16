"""Thresholds for a target precision and risk-coverage curves, on hand-made val sets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from taxonomist.stack.decoding import Step
from taxonomist.stack.stopping import (
    STOP_ALL,
    Target,
    choose_thresholds,
    lowest_threshold,
    measure_thresholds,
    meets,
    node_curve,
    stack_curve,
)
from taxonomist.taxonomy import Taxonomy

TREE = Taxonomy.from_tree("t", {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}})


def walk(*steps: tuple[str, str, float]) -> list[Step]:
    return [Step(*s) for s in steps]


# Val: five images of the straight family, sure of it at the root (0.99), then
#   straight -> one 0.95 (one, right), seven 0.9 (right), one 0.8 (label seven: wrong),
#   seven 0.6 (right), seven 0.5 (right);
# a zero that reaches round at 0.7 and is right there; a six sent to straight at 0.65.
VAL_PATHS = [
    walk(("digit", "straight", 0.99), ("straight", "one", 0.95)),
    walk(("digit", "straight", 0.99), ("straight", "seven", 0.9)),
    walk(("digit", "straight", 0.99), ("straight", "one", 0.8)),
    walk(("digit", "straight", 0.99), ("straight", "seven", 0.6)),
    walk(("digit", "straight", 0.99), ("straight", "seven", 0.5)),
    walk(("digit", "round", 0.7), ("round", "zero", 0.99)),
    walk(("digit", "straight", 0.65), ("straight", "one", 0.9)),
]
VAL_LABELS = ["one", "seven", "seven", "seven", "seven", "zero", "six"]
HAND = {"digit": 0.5, "round": 0.5, "straight": 0.5}


def test_thresholds_for_targets_by_hand() -> None:
    # straight, target 0.85, scanning down: stop all 5/5; 0.95: 5/5; 0.9: 5/5;
    # 0.8 lets the wrong 'one' through: 4/5 = 0.8 misses, so the threshold is the
    # candidate before it, 0.9.
    # digit, target 0.9 (straight at 0.9: its images all right): 0.99 and 0.7 keep 7/7;
    # 0.65 lets the six through to a wrong branch: 6/7 = 0.857 misses -> 0.7.
    # round: its one image is right when let through -> 0.0.
    targets = {"digit": Target(0.9), "round": Target(0.9), "straight": Target(0.85)}
    chosen = choose_thresholds(TREE, VAL_PATHS, VAL_LABELS, targets, HAND)
    assert {n: e.threshold for n, e in chosen.items()} == {
        "digit": 0.7, "round": 0.0, "straight": 0.9}
    # the six stops at the root, which is right: every val answer is right
    assert (chosen["digit"].images, chosen["digit"].right, chosen["digit"].passed) == (7, 7, 6)
    assert (chosen["straight"].images, chosen["straight"].right) == (5, 5)


def test_the_scan_ends_at_the_first_miss() -> None:
    # straight alone: at target 0.81 the candidate 0.8 misses (4/5) and so would every
    # lower one; at 0.8 exactly, every candidate holds and all images pass (0.0).
    conf = np.array([0.95, 0.9, 0.8, 0.6, 0.5])
    pass_right = np.array([True, True, False, True, True])
    assert lowest_threshold(conf, pass_right, Target(0.81)) == 0.9
    assert lowest_threshold(conf, pass_right, Target(0.8)) == 0.0
    assert lowest_threshold(conf, ~np.ones(5, bool), Target(0.9)) == STOP_ALL


def test_a_hand_set_threshold_is_kept_and_measured() -> None:
    targets = {"digit": None, "round": None, "straight": None}
    chosen = choose_thresholds(TREE, VAL_PATHS, VAL_LABELS, targets, HAND)
    assert {n: e.threshold for n, e in chosen.items()} == HAND
    # straight at 0.5 lets every image through: the wrong 'one' is the one miss, 4/5;
    # digit lets all through: wrong are that one and the six, 5/7
    assert chosen["straight"].precision == 0.8 and chosen["digit"].precision == round(5 / 7, 4)
    measured = measure_thresholds(TREE, VAL_PATHS, VAL_LABELS, HAND)
    assert measured == chosen


def test_clopper_pearson_lower_bound() -> None:
    # 10 right of 10: the lower 90% bound is 0.1 ** (1/10) = 0.794
    assert meets(np.array([10]), 10, Target(0.79, 0.9)).tolist() == [True]
    assert meets(np.array([10]), 10, Target(0.80, 0.9)).tolist() == [False]
    assert meets(np.array([0]), 10, Target(0.01, 0.9)).tolist() == [False]
    assert meets(np.array([8]), 10, Target(0.8)).tolist() == [True]


def test_node_risk_coverage_curve() -> None:
    curve = node_curve(np.array([0.9, 0.8, 0.8, 0.6]), np.array([True, False, True, False]))
    expected = pd.DataFrame({"threshold": [0.9, 0.8, 0.6], "coverage": [0.25, 0.75, 1.0],
                             "risk": [0.0, round(1 / 3, 4), 0.5]})
    pd.testing.assert_frame_equal(curve, expected)


def test_stack_risk_coverage_curve() -> None:
    paths = [walk(("digit", "round", 0.9), ("round", "zero", 0.6)),
             walk(("digit", "straight", 0.7), ("straight", "one", 0.95))]
    curve = stack_curve(TREE, paths, ["zero", "seven"])
    # t <= 0.6: both reach a leaf, the 'one' is wrong; 0.7: the zero stops at round
    # (right); 0.9: the seven stops at the root (right); above every probability: all stop
    np.testing.assert_allclose(curve.to_numpy(), [
        [0.0, 1.0, 0.5], [0.6, 1.0, 0.5], [0.7, 0.5, 0.5], [0.9, 0.0, 0.0],
        [round(STOP_ALL, 4), 0.0, 0.0]])
