"""The stack stage's stopping, fitted on a made-up val split and measured on test, and
the checks of the stopping keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taxonomist.config import ClassifierConfig, Config, Paths
from taxonomist.config.schema import Decoding, ProjectConfig, StoppingConfig
from taxonomist.config.stopping import check_stopping
from taxonomist.errors import ConfigError
from taxonomist.stack.calibration import scale
from taxonomist.stack.decoding import NodeOutputs, decode
from taxonomist.stack.stopping import STOP_ALL, Target, choose_thresholds
from taxonomist.stack.tuning import Split, UnreachableTargetWarning, fit_stopping, report_stopping
from taxonomist.taxonomy import Taxonomy

TREE = Taxonomy.from_tree("t", {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}})
CLASSES = {"digit": ["round", "straight"], "round": ["zero", "six"], "straight": ["one", "seven"]}


def config(**stopping: StoppingConfig) -> Config:
    """The tree with greedy decoding unless a node's ``stopping`` says otherwise: the
    figures below are worked out by hand for greedy walks."""
    greedy = StoppingConfig(decoding=Decoding.greedy)
    classifiers = {n: ClassifierConfig(stopping=stopping.get(n, greedy))
                   for n in TREE.inner_nodes}
    return Config(ProjectConfig(), TREE, classifiers)


def split() -> Split:
    """Eight images, two per leaf. The root is 0.9 sure and right on six: it sends one
    six to straight and one seven to round. round and straight are 0.9 sure of their
    first child (zero, one) whatever the image: right on half of their images."""
    labels = ["zero", "zero", "six", "six", "one", "one", "seven", "seven"]
    first, second = [0.9, 0.1], [0.1, 0.9]
    root = [first, first, first, second, second, second, second, first]
    probs = {"digit": np.array(root), "round": np.array([first] * 8),
             "straight": np.array([first] * 8)}
    return Split(NodeOutputs(CLASSES, probs), labels)


def test_temperatures_then_thresholds_on_the_calibrated_probabilities() -> None:
    # Temperatures: the root is 0.9 sure and right on 3 in 4: T = ln 9 / ln 3 = 2;
    # round is right on half: its optimum is the uniform 0.5, the bound T = 20;
    # straight keeps T = 1 (`calibrate: false`).
    cfg = config(digit=StoppingConfig(target_precision=0.6, decoding=Decoding.greedy),
                 straight=StoppingConfig(calibrate=False, target_precision=0.9,
                                         decoding=Decoding.greedy))
    with pytest.warns(UnreachableTargetWarning, match=r"node 'straight': .*0\.9 cannot be met"):
        stopping, evidence = fit_stopping(cfg, split())
    assert stopping.temperatures == {"digit": pytest.approx(2.0, abs=1e-3), "round":
                                     pytest.approx(20.0, abs=1e-3), "straight": 1.0}
    assert stopping.decoding is Decoding.greedy
    assert stopping.targets == {"digit": 0.6, "round": None, "straight": 0.9}
    # Thresholds, children first. straight: its images one, one, seven (0.9 -> one);
    # passing them is right 2 in 3 < 0.9, so it stops them all. round: hand-set 0.5,
    # under its calibrated 0.527: all pass, the six is wrong. The root (0.75 on every
    # image after T = 2): letting all through is right on zero, zero and the three that
    # stop at straight, 5 of 8 = 0.625 >= 0.6: threshold 0.
    assert stopping.thresholds == {"digit": 0.0, "round": 0.5, "straight": STOP_ALL}
    assert (evidence["digit"].right, evidence["digit"].images) == (5, 8)
    assert (evidence["straight"].passed, evidence["straight"].images) == (0, 3)
    tuned = NodeOutputs(CLASSES, {n: scale(p, stopping.temperatures[n])
                                  for n, p in split().outputs.probs.items()})
    again = choose_thresholds(
        TREE, decode(TREE, tuned, Decoding.greedy), split().labels,
        {"digit": Target(0.6), "round": None, "straight": Target(0.9)},
        dict.fromkeys(TREE.inner_nodes, 0.5))
    assert again == evidence  # chosen on the calibrated probabilities


def test_the_report_shows_ece_before_and_after_and_both_decodings() -> None:
    cfg = config()
    stopping, evidence = fit_stopping(cfg, split())
    report = report_stopping(cfg, stopping, split(), split(), evidence)
    rows = {row.node: row for row in report.calibration}
    # root: 0.9 sure, right on 6 of 8: ECE 0.15 before; 0.75 and 0.75 after (T = 2).
    # round: 0.9 sure, right on half: 0.4 before; 0.527 after (T = 20): 0.0274.
    assert (rows["digit"].ece_before, rows["digit"].ece_after) == (0.15, 0.0)
    assert rows["round"].ece_before == 0.4
    assert rows["round"].ece_after == pytest.approx(0.0274, abs=2e-4)
    assert rows["digit"].target_precision is None and rows["digit"].threshold == 0.5
    assert [(d.decoding, d.stopping) for d in report.decodings] == [
        ("greedy", "none"), ("greedy", "chosen"), ("bayes_risk", "none"),
        ("bayes_risk", "chosen"), ("best_path", "none"), ("best_path", "chosen")]
    assert set(report.node_curves) == set(TREE.inner_nodes)
    assert list(report.stack_curve.columns) == ["threshold", "coverage", "risk"]


@pytest.mark.parametrize(("stopping", "key", "message"), [
    ({"round": StoppingConfig(target_precision=1.5)}, "stopping.target_precision",
     r"expected a number in \(0.0, 1.0\], got 1.5"),
    ({"round": StoppingConfig(target_precision=0.99, confidence=1.0)}, "stopping.confidence",
     r"expected a number in \(0.0, 1.0\), got 1.0"),
    ({"digit": StoppingConfig(unfamiliar_quantile=0.0)}, "stopping.unfamiliar_quantile",
     r"expected a number in \(0.0, 1.0\], got 0.0"),
    ({"straight": StoppingConfig(decoding=Decoding.bayes_risk)}, "stopping.decoding",
     "'bayes_risk' here but 'greedy' at the root 'digit'"),
])
def test_stopping_keys_are_checked(tmp_path: Path, stopping, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        check_stopping(config(**stopping), Paths(tmp_path))
    assert caught.value.key == key and caught.value.file == "conf/classifiers/_default.yaml"


@pytest.mark.parametrize(("key", "value"), [("threshold", -0.1), ("ancestor_weight", 1.5)])
def test_a_hand_set_threshold_and_an_ancestor_weight_are_shares(
    tmp_path: Path, key: str, value: float
) -> None:
    cfg = config()
    setattr(cfg.classifiers["round"], key, value)
    with pytest.raises(ConfigError, match=rf"{key}: expected a number in \[0.0, 1.0\]"):
        check_stopping(cfg, Paths(tmp_path))
    check_stopping(config(), Paths(tmp_path))  # the defaults pass


def test_a_target_the_val_split_cannot_show_says_what_it_would_need() -> None:
    cfg = config(digit=StoppingConfig(target_precision=0.999, confidence=0.9))
    with pytest.warns(UnreachableTargetWarning, match=(
        r"node 'digit': stopping.target_precision 0.999 at confidence 0.9 cannot be met on "
        r"val \(even all right needs 2302 val images; it has 8\), so every walk stops at "
        r"'digit'\n  hint: lower the target")):
        stopping, _ = fit_stopping(cfg, split())
    assert stopping.thresholds["digit"] == STOP_ALL
