"""``targets: leaves``: a node's network trained on its leaves, read as its children."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import timm
import torch
from torch import nn

from taxonomist.config.schema import Balance, OptimConfig
from taxonomist.contracts.cache import CachedSplit
from taxonomist.taxonomy import Taxonomy
from taxonomist.train.artifact import load_node_model, save_node_model
from taxonomist.train.datamodule import NodeDataModule, node_split
from taxonomist.train.model import FineTargets, NodeSpec, set_log_probs
from taxonomist.train.module import NodeClassifier

# digit -> round [zero six] / straight (a leaf child) / curved -> loop [two five] and three
TREE = Taxonomy.from_tree("digits", {"digit": {
    "round": ["zero", "six"], "straight": None, "curved": [{"loop": ["two", "five"]}, "three"]}})


def test_each_label_covers_the_leaves_under_it() -> None:
    fine = FineTargets.of(TREE, "digit")
    assert fine.leaves == ["straight", "zero", "six", "three", "two", "five"]
    covers = dict(zip(fine.labels, fine.label_leaves, strict=True))
    assert covers["round"] == [False, True, True, False, False, False]
    assert covers["curved"] == [False, False, False, True, True, True]
    assert covers["loop"] == [False, False, False, False, True, True]
    assert covers["two"] == [False, False, False, False, True, False]
    assert fine.leaf_child == [1, 0, 0, 2, 2, 2]


def test_a_child_is_the_log_sum_exp_of_its_leaves() -> None:
    # leaf logits ln 1, ln 2, ln 3, ln 4: probabilities 0.1 .. 0.4
    logits = torch.log(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    sets = torch.tensor([[True, True, False, False], [False, False, True, True]])
    assert torch.allclose(set_log_probs(logits, sets).exp(), torch.tensor([[0.3, 0.7]]))


def spec_for(fine: FineTargets) -> NodeSpec:
    return NodeSpec("digit", list(TREE.children["digit"]), "test_resnet", 16, [0.5] * 3,
                    [0.5] * 3, 0.5, leaves=fine.leaves, leaf_child=fine.leaf_child)


def leaf_module() -> NodeClassifier:
    fine = FineTargets.of(TREE, "digit")
    torch.manual_seed(0)
    network = timm.create_model("test_resnet", num_classes=len(fine.leaves))
    return NodeClassifier(network, spec_for(fine), nn.Identity(), OptimConfig(), fine=fine)


def test_the_loss_is_on_the_label_not_on_its_child() -> None:
    module = leaf_module()
    fine = FineTargets.of(TREE, "digit")
    outputs = torch.tensor([[0.0, 4.0, 0.0, 0.0, 0.0, 0.0]])  # sure it is zero
    log_p, _ = module._target_log_probs(outputs)
    zero, six, round_ = (fine.labels.index(n) for n in ("zero", "six", "round"))
    # a six is as wrong as any leaf elsewhere, although its child (round) is right
    assert -log_p[0, six].item() == pytest.approx(math.log(5 + math.exp(4)))
    assert log_p[0, zero] > log_p[0, six]
    assert log_p[0, round_].exp().item() == pytest.approx(
        (math.exp(4) + 1) / (math.exp(4) + 5))  # an image labelled only `round`


def test_the_splits_targets_are_the_labels() -> None:
    index = pd.DataFrame({"label": ["six", "round", "two", "straight", "digit"]})
    cached = CachedSplit(torch.zeros(5, 4, 4, 3).numpy(), index)
    fine = FineTargets.of(TREE, "digit")
    split = node_split(cached, TREE, "digit", fine)
    assert [fine.labels[i] for i in split.labels] == ["six", "round", "two", "straight"]
    assert list(split.targets) == [0, 0, 2, 1]  # still the children, for the weights
    data = NodeDataModule(split, split, 3, batch_size=4, balance=Balance.none)
    _, batch_targets = next(iter(data.val_dataloader()))
    assert batch_targets.tolist() == split.labels.tolist()  # what the loss is given


def test_a_saved_node_loads_back_giving_the_same_child_scores(tmp_path) -> None:
    module = leaf_module().eval()
    x = torch.rand(2, 3, 16, 16)
    save_node_model(module.model, module.spec, tmp_path)
    spec, loaded = load_node_model(tmp_path)
    assert spec == module.spec
    with torch.no_grad():
        expected, got = module(x), loaded(x)
    assert got.shape == (2, 3)
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(got.exp().sum(dim=1), torch.ones(2))
