"""Which parameters train, at which learning rate, under each transfer-learning strategy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import timm
import torch
from torch import nn

from taxonomist.config.schema import BackboneConfig, OptimConfig, Strategy
from taxonomist.errors import ConfigError
from taxonomist.train.model import NodeSpec, frozen_norm_layers
from taxonomist.train.module import NodeClassifier
from taxonomist.train.transfer import GradualUnfreezing, TransferPlan, apply_plan, transfer_plan

SOURCE = "conf/classifiers/round.yaml"
ALL = {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"}
LR = 0.01


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("test_resnet", num_classes=3)


def trainable(model: nn.Module) -> set[str]:
    return {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}


def optimizer_for(model: nn.Module, plan: TransferPlan) -> torch.optim.Optimizer:
    spec = NodeSpec("round", ["a", "b", "c"], "test_resnet", 16, [0.5] * 3, [0.5] * 3, 0.5)
    module = NodeClassifier(model, spec, nn.Identity(), OptimConfig(lr=LR), transfer=plan)
    return module.configure_optimizers()


def lr_by_prefix(optimizer: torch.optim.Optimizer, model: nn.Module) -> dict[str, set[float]]:
    names = {id(p): n for n, p in model.named_parameters()}
    lrs: dict[str, set[float]] = {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            prefix = ".".join(names[id(param)].split(".")[:1])
            lrs.setdefault(prefix, set()).add(round(group["lr"], 10))
    return lrs


@pytest.mark.parametrize(
    ("backbone", "expected"),
    [
        (BackboneConfig(), TransferPlan(Strategy.head_only, 0)),
        (BackboneConfig(unfreeze_last=2), TransferPlan(Strategy.last_n, 2)),
        (BackboneConfig(unfreeze_last=-1), TransferPlan(Strategy.last_n, -1)),  # as before
        (BackboneConfig(strategy=Strategy.head_only, unfreeze_last=3),
         TransferPlan(Strategy.head_only, 0)),  # an explicit strategy wins
        (BackboneConfig(strategy=Strategy.full, layer_decay=0.5),
         TransferPlan(Strategy.full, -1, 0.5)),
        (BackboneConfig(strategy=Strategy.last_n, unfreeze_last=2, unfreeze_every=3),
         TransferPlan(Strategy.last_n, 2, None, 3)),
    ],
)
def test_strategy_is_resolved_from_the_definition(backbone, expected) -> None:
    assert transfer_plan(backbone, SOURCE) == expected


@pytest.mark.parametrize(
    ("backbone", "message"),
    [
        (BackboneConfig(strategy=Strategy.last_n), "unfreeze_last: strategy last_n needs"),
        (BackboneConfig(unfreeze_last=-2), r"unfreeze_last: expected -1 or more, got -2"),
        (BackboneConfig(layer_decay=0.0), r"layer_decay: expected a factor in \(0, 1\]"),
        (BackboneConfig(unfreeze_every=2), "unfreeze_every: strategy head_only never opens"),
        (BackboneConfig(strategy=Strategy.full, unfreeze_every=-1), "unfreeze_every: expected"),
    ],
)
def test_impossible_strategies_name_the_file_and_key(backbone, message) -> None:
    with pytest.raises(ConfigError, match=f"round.yaml: backbone.{message}"):
        transfer_plan(backbone, SOURCE)


def test_head_only_trains_the_head_at_the_base_lr() -> None:
    model = tiny()
    plan = transfer_plan(BackboneConfig(), SOURCE)
    apply_plan(model, plan)
    assert trainable(model) == {"fc"}
    assert lr_by_prefix(optimizer_for(model, plan), model) == {"fc": {LR}}


def test_last_n_trains_the_last_blocks_too() -> None:
    model = tiny()
    plan = transfer_plan(BackboneConfig(strategy=Strategy.last_n, unfreeze_last=2), SOURCE)
    apply_plan(model, plan)
    assert trainable(model) == {"fc", "layer4", "layer3"}
    lrs = lr_by_prefix(optimizer_for(model, plan), model)
    assert lrs == {"fc": {LR}, "layer4": {LR}, "layer3": {LR}}


def test_full_decays_the_lr_block_by_block_below_the_head() -> None:
    model = tiny()
    plan = transfer_plan(BackboneConfig(strategy=Strategy.full, layer_decay=0.5), SOURCE)
    apply_plan(model, plan)
    assert trainable(model) == ALL
    lrs = lr_by_prefix(optimizer_for(model, plan), model)
    # test_resnet: stem, one block per stage, head -> six layers, the stem five below the head
    assert lrs == {
        "fc": {LR}, "layer4": {LR / 2}, "layer3": {LR / 4}, "layer2": {LR / 8},
        "layer1": {LR / 16}, "conv1": {LR / 32}, "bn1": {LR / 32},
    }


def test_gradual_unfreezing_opens_one_block_every_k_epochs() -> None:
    model = tiny()
    backbone = BackboneConfig(strategy=Strategy.last_n, unfreeze_last=2, unfreeze_every=2)
    plan = transfer_plan(backbone, SOURCE)
    apply_plan(model, plan)
    optimizer = optimizer_for(model, plan)
    # every parameter that will ever train is in the optimiser from the start
    assert set(lr_by_prefix(optimizer, model)) == {"fc", "layer4", "layer3"}
    callback, seen = GradualUnfreezing(plan), []
    for epoch in range(7):
        trainer = SimpleNamespace(current_epoch=epoch)
        callback.on_train_epoch_start(trainer, SimpleNamespace(model=model))
        seen.append(trainable(model))
    assert seen == [{"fc"}] * 2 + [{"fc", "layer4"}] * 2 + [{"fc", "layer4", "layer3"}] * 3


def test_an_opened_block_learns_its_batchnorm_statistics_again() -> None:
    model = tiny()
    plan = transfer_plan(BackboneConfig(unfreeze_last=1, unfreeze_every=1), SOURCE)
    apply_plan(model, plan)
    for layer in frozen_norm_layers(model):
        layer.eval()  # as NodeClassifier does for frozen blocks
    GradualUnfreezing(plan).on_train_epoch_start(
        SimpleNamespace(current_epoch=1), SimpleNamespace(model=model)
    )
    assert model.layer4[0].bn1.training and not model.layer3[0].bn1.training


def test_gradual_unfreezing_with_full_keeps_the_decayed_lrs() -> None:
    model = tiny()
    backbone = BackboneConfig(strategy=Strategy.full, layer_decay=0.5, unfreeze_every=1)
    plan = transfer_plan(backbone, SOURCE)
    apply_plan(model, plan)
    assert trainable(model) == {"fc"}
    lrs = lr_by_prefix(optimizer_for(model, plan), model)
    assert lrs["fc"] == {LR} and lrs["conv1"] == {LR / 32}
    assert trainable(model) == {"fc"}  # building the groups did not unfreeze anything
    apply_plan(model, plan, epoch=10)
    assert trainable(model) == ALL


def test_the_module_asks_lightning_for_the_callback_only_when_scheduled() -> None:
    spec = NodeSpec("round", ["a", "b", "c"], "test_resnet", 16, [0.5] * 3, [0.5] * 3, 0.5)

    def callbacks(backbone: BackboneConfig) -> list:
        plan = transfer_plan(backbone, SOURCE)
        return NodeClassifier(tiny(), spec, nn.Identity(), OptimConfig(), transfer=plan
                              ).configure_callbacks()

    assert callbacks(BackboneConfig(unfreeze_last=1)) == []
    scheduled = callbacks(BackboneConfig(unfreeze_last=1, unfreeze_every=1))
    assert [type(c) for c in scheduled] == [GradualUnfreezing]


def test_gradual_unfreezing_refuses_ddp_with_a_reason() -> None:
    plan = transfer_plan(BackboneConfig(unfreeze_last=1, unfreeze_every=1), SOURCE)
    module = SimpleNamespace(spec=SimpleNamespace(node="round"))
    GradualUnfreezing(plan).setup(SimpleNamespace(world_size=1), module, "fit")
    with pytest.raises(ConfigError, match="round.yaml: backbone.unfreeze_every: .*2 processes"):
        GradualUnfreezing(plan).setup(SimpleNamespace(world_size=2), module, "fit")
