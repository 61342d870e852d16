"""A node leaning on its leaf-trained ancestor (``ancestor_weight``), worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from taxonomist.config import ClassifierConfig, Config
from taxonomist.config.schema import ProjectConfig
from taxonomist.stack.blending import ancestor_view, fit_weight, leaf_ancestor
from taxonomist.stack.predictor import StackPredictor, Stopping
from taxonomist.stack.tuning import fit_ancestor_weights
from taxonomist.taxonomy import Taxonomy
from taxonomist.train.model import ChildrenFromLeaves, NodeSpec

TREE = {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}}
LEAVES = ["zero", "six", "one", "seven"]
ROOT_LEAVES = [0.5, 0.1, 0.3, 0.1]  # round 0.6 (zero 5/6 of it), straight 0.4
ROUND_ALONE = [0.2, 0.8]  # the round node alone prefers six


class Constant(nn.Module):
    """The same probabilities (as logits) for every image."""

    def __init__(self, probs: list[float]) -> None:
        super().__init__()
        self.register_buffer("logits", torch.log(torch.tensor(probs)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), -1)


def node(name: str, classes: list[str], **leaves) -> NodeSpec:
    return NodeSpec(name, classes, "fake", 8, [0.5] * 3, [0.5] * 3, 0.0, **leaves)


def stack(weight: float, root_on_leaves: bool = True) -> StackPredictor:
    taxonomy = Taxonomy.from_tree("digits", TREE)
    if root_on_leaves:
        root = (node("digit", ["round", "straight"], leaves=LEAVES, leaf_child=[0, 0, 1, 1]),
                ChildrenFromLeaves(Constant(ROOT_LEAVES), [0, 0, 1, 1], 2))
    else:
        root = (node("digit", ["round", "straight"]), Constant([0.6, 0.4]))
    nodes = {"digit": root,
             "round": (node("round", ["zero", "six"]), Constant(ROUND_ALONE)),
             "straight": (node("straight", ["one", "seven"]), Constant([0.5, 0.5]))}
    stopping = Stopping(dict.fromkeys(nodes, 0.0), ancestor_weights={"round": weight})
    return StackPredictor(taxonomy, nodes, stopping)


IMAGES = np.zeros((3, 8, 8, 3), np.uint8)


@pytest.mark.parametrize(("weight", "expected"), [
    (0.0, [0.2, 0.8]),  # the node alone
    (1.0, [5 / 6, 1 / 6]),  # the root's leaves under round, renormalised
    (0.5, [(0.2 + 5 / 6) / 2, (0.8 + 1 / 6) / 2]),  # the average
])
def test_a_node_mixes_its_own_and_its_ancestors_view(weight: float, expected) -> None:
    outputs = stack(weight).node_outputs(IMAGES, everywhere=True)
    assert outputs.probs["round"] == pytest.approx(np.tile(expected, (3, 1)))
    assert outputs.probs["straight"] == pytest.approx(np.full((3, 2), 0.5))  # weight 0
    assert outputs.probs["digit"] == pytest.approx(np.tile([0.6, 0.4], (3, 1)))


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_one_node_alone_is_what_it_is_in_the_whole_stack(weight: float) -> None:
    predictor = stack(weight)
    assert predictor.node_probabilities("round", IMAGES) == pytest.approx(
        predictor.node_outputs(IMAGES, everywhere=True).probs["round"])


def test_leaning_on_the_ancestor_can_change_the_answer() -> None:
    assert {p.label for p in stack(0.0).predict(IMAGES)} == {"six"}
    assert {p.label for p in stack(0.5).predict(IMAGES)} == {"zero"}


def test_without_an_ancestor_on_leaves_a_node_decides_alone() -> None:
    outputs = stack(0.5, root_on_leaves=False).node_outputs(IMAGES, everywhere=True)
    assert outputs.probs["round"] == pytest.approx(np.tile(ROUND_ALONE, (3, 1)))


def test_the_view_is_the_share_of_the_leaves_under_each_child() -> None:
    taxonomy = Taxonomy.from_tree("t", {"r": {"a": {"b": ["x", "y"], "z": []}, "w": []}})
    probs = np.array([[0.1, 0.3, 0.6, 0.0], [0.0, 0.0, 0.5, 0.5]])
    view = ancestor_view(taxonomy, ["x", "y"], ["x", "y", "z", "w"], probs)
    assert view == pytest.approx(np.array([[0.25, 0.75], [0.5, 0.5]]))  # no mass: uniform
    assert ancestor_view(taxonomy, ["b", "z"], ["x", "y", "z", "w"], probs) == pytest.approx(
        np.array([[0.4, 0.6], [0.0, 1.0]]))  # b's share is that of x and y together


def test_the_ancestor_on_leaves_nearest_the_root_is_the_one_leant_on() -> None:
    taxonomy = Taxonomy.from_tree("t", {"r": {"a": {"b": ["x", "y"], "z": []}, "w": []}})
    assert leaf_ancestor(taxonomy, "b", {"a"}) == "a"
    assert leaf_ancestor(taxonomy, "b", {"r", "a"}) == "r"  # it learnt from every image
    assert leaf_ancestor(taxonomy, "b", {"b"}) is None  # itself is no ancestor
    assert leaf_ancestor(taxonomy, "r", {"r"}) is None


OWN_RIGHT = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
VIEW_FLAT = np.full((4, 2), 0.5)
TRUTH = np.array([0, 1, 0, 1])


def test_a_node_right_where_its_ancestor_shrugs_keeps_its_say() -> None:
    assert fit_weight(OWN_RIGHT, VIEW_FLAT, TRUTH) < 0.05


def test_a_node_that_guesses_defers_to_an_ancestor_that_knows() -> None:
    ancestor_right = np.array([[0.95, 0.05], [0.05, 0.95], [0.9, 0.1], [0.1, 0.9]])
    assert fit_weight(VIEW_FLAT, ancestor_right, TRUTH) > 0.95


def test_two_half_right_opinions_are_mixed() -> None:
    # each is sure and right on two images, unsure on the others: the mix beats either
    own = np.array([[0.99, 0.01], [0.01, 0.99], [0.5, 0.5], [0.5, 0.5]])
    view = np.array([[0.5, 0.5], [0.5, 0.5], [0.99, 0.01], [0.01, 0.99]])
    assert 0.4 < fit_weight(own, view, TRUTH) < 0.6
    assert fit_weight(own, view, TRUTH[:0]) == 0.0  # nothing to fit on: the node alone


def test_the_weights_are_saved_with_the_stack_and_old_stacks_have_none() -> None:
    stopping = Stopping({"digit": 0.5}, ancestor_weights={"round": 0.5})
    assert Stopping.from_json(stopping.to_json()) == stopping
    assert Stopping.from_json({"thresholds": {"digit": 0.5}}).ancestor_weights == {}


def test_a_null_weight_is_fitted_on_val_and_a_number_is_kept() -> None:
    # every val image is a zero: the root gives zero 5/6 under round, round alone 0.2
    taxonomy = Taxonomy.from_tree("digits", TREE)
    weights = {"digit": None, "round": None, "straight": 0.3}
    config = Config(ProjectConfig(), taxonomy, {
        n: ClassifierConfig(ancestor_weight=w) for n, w in weights.items()})
    fitted = fit_ancestor_weights(config, stack(0.0), IMAGES, ["zero"] * len(IMAGES))
    assert fitted["round"] > 0.99  # the root is the better judge here
    assert fitted["straight"] == 0.3  # configured: kept
    assert fitted["digit"] == 0.0  # no ancestor to lean on
