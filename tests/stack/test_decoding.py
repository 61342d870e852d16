"""Greedy and Bayes-risk decoding on a two-level tree where they disagree, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomist.config.schema import Decoding
from taxonomist.stack.decoding import NodeOutputs, Step, Stop, decode, leaf_probabilities, stop
from taxonomist.taxonomy import Taxonomy

TREE = Taxonomy.from_tree("t", {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}})
# digit: round 0.55, straight 0.45; round: zero 0.5, six 0.5; straight: one 1.0.
# Leaves: zero .275, six .275, one .45, seven 0. Tree distance: 2 within a family, 4 across.
# Expected distance: zero = six = .275*2 + .45*4 = 2.35; one = .55*4 = 2.2; seven = 3.1.
# Greedy takes round (0.55), then zero (first of a tie); Bayes risk takes one.
OUTPUTS = NodeOutputs(
    {"digit": ["round", "straight"], "round": ["zero", "six"], "straight": ["one", "seven"]},
    {"digit": np.array([[0.55, 0.45]]), "round": np.array([[0.5, 0.5]]),
     "straight": np.array([[1.0, 0.0]])},
)


def test_leaf_probabilities_are_products_along_the_path() -> None:
    np.testing.assert_allclose(leaf_probabilities(TREE, OUTPUTS), [[0.275, 0.275, 0.45, 0.0]])


def test_greedy_and_bayes_risk_differ() -> None:
    greedy, = decode(TREE, OUTPUTS, Decoding.greedy)
    bayes, = decode(TREE, OUTPUTS, Decoding.bayes_risk)
    assert greedy == [Step("digit", "round", 0.55), Step("round", "zero", 0.5)]
    assert bayes == [Step("digit", "straight", 0.45), Step("straight", "one", 1.0)]


def test_bayes_risk_lowers_the_expected_distance() -> None:
    expected = {"zero": 2.35, "one": 2.2}  # worked out above
    assert expected["one"] < expected["zero"]
    probs = leaf_probabilities(TREE, OUTPUTS)[0]
    distance = [[TREE.distance(a, b) for b in TREE.leaves] for a in ("zero", "one")]
    assert (np.array(distance) @ probs) == pytest.approx([2.35, 2.2])


def test_a_path_stops_where_its_own_child_is_unsure() -> None:
    bayes = decode(TREE, OUTPUTS, Decoding.bayes_risk)
    out, = stop(bayes, {"digit": 0.5, "round": 0.5, "straight": 0.5})
    assert out.path == [] and out.stop == Stop("digit", "straight", 0.45, 0.5)
    out, = stop(bayes, {"digit": 0.4, "round": 0.5, "straight": 0.5})
    assert out.path == ["straight", "one"] and out.probs == [0.45, 1.0] and out.stop is None


def test_greedy_ends_where_a_node_did_not_run() -> None:
    partial = NodeOutputs(OUTPUTS.classes, OUTPUTS.probs | {"round": np.full((1, 2), np.nan)})
    assert decode(TREE, partial, Decoding.greedy) == [[Step("digit", "round", 0.55)]]


def test_best_path_takes_the_likeliest_leaf_over_the_whole_tree() -> None:
    best, = decode(TREE, OUTPUTS, Decoding.best_path)  # one .45 beats zero and six .275
    assert best == [Step("digit", "straight", 0.45), Step("straight", "one", 1.0)]


def test_best_path_passes_over_a_node_that_did_not_run() -> None:
    partial = NodeOutputs(OUTPUTS.classes, OUTPUTS.probs | {"round": np.full((1, 2), np.nan)})
    assert decode(TREE, partial, Decoding.best_path)[0][-1] == Step("straight", "one", 1.0)
