"""Transfer-learning strategies: which parameters train, at what learning rate, and when.

``backbone.strategy`` picks one of ``head_only``, ``last_n`` (the head and the last
``unfreeze_last`` blocks) and ``full`` (everything, with layer-wise learning-rate decay);
``unfreeze_every: K`` opens the blocks gradually, one more every K epochs, from the head
down. Blocks are timm's coarse parameter groups in depth order, the last being the head.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytorch_lightning as pl
from timm.models import group_parameters
from timm.optim import param_groups_layer_decay
from torch import nn

from taxonomist.config.schema import BackboneConfig, OptimConfig, Strategy
from taxonomist.errors import ConfigError
from taxonomist.train.model import freeze


@dataclass(frozen=True)
class TransferPlan:
    """A resolved strategy.

    Attributes:
        strategy: what the definition asked for (resolved when it left it null).
        blocks: blocks below the head that train once all are open; -1: every block.
        layer_decay: the learning-rate factor per block below the head, or None.
        unfreeze_every: epochs between opening one more block; 0: all open from the start.
    """

    strategy: Strategy
    blocks: int
    layer_decay: float | None = None
    unfreeze_every: int = 0

    def final_blocks(self, n_blocks: int) -> int:
        """How many of the model's ``n_blocks`` blocks below the head train in the end."""
        return n_blocks if self.blocks < 0 else min(self.blocks, n_blocks)

    def open_blocks(self, epoch: int, n_blocks: int) -> int:
        """How many blocks below the head train during ``epoch`` (0-based)."""
        if self.unfreeze_every <= 0:
            return self.final_blocks(n_blocks)
        return min(self.final_blocks(n_blocks), epoch // self.unfreeze_every)


def transfer_plan(cfg: BackboneConfig, source: str) -> TransferPlan:
    """Resolve and check the strategy keys of a ``backbone`` section.

    Raises:
        ConfigError: a value out of range, or a combination that cannot work.
    """
    strategy = cfg.strategy or (
        Strategy.head_only if cfg.unfreeze_last == 0 else Strategy.last_n
    )
    _check(cfg, strategy, source)
    blocks = {Strategy.head_only: 0, Strategy.last_n: cfg.unfreeze_last, Strategy.full: -1}
    decay = cfg.layer_decay if strategy is Strategy.full else None
    return TransferPlan(strategy, blocks[strategy], decay, cfg.unfreeze_every)


def _check(cfg: BackboneConfig, strategy: Strategy, source: str) -> None:
    if cfg.unfreeze_last < -1:
        raise ConfigError(source, "backbone.unfreeze_last", f"expected -1 or more, got "
                          f"{cfg.unfreeze_last}", "0: head only, N: last N blocks, -1: all")
    if strategy is Strategy.last_n and cfg.unfreeze_last == 0:
        raise ConfigError(source, "backbone.unfreeze_last", "strategy last_n needs a number "
                          "of blocks, got 0", "set unfreeze_last: N (or -1 for all blocks)")
    if not 0.0 < cfg.layer_decay <= 1.0:
        raise ConfigError(source, "backbone.layer_decay", f"expected a factor in (0, 1], got "
                          f"{cfg.layer_decay}", "e.g. 0.75; 1.0 gives every block the same lr")
    if cfg.unfreeze_every < 0:
        raise ConfigError(source, "backbone.unfreeze_every",
                          f"expected 0 (off) or a number of epochs, got {cfg.unfreeze_every}")
    if cfg.unfreeze_every and strategy is Strategy.head_only:
        raise ConfigError(source, "backbone.unfreeze_every", "strategy head_only never opens "
                          "a block", "use strategy last_n or full with unfreeze_every")


def block_groups(model: nn.Module) -> list[list[str]]:
    """Parameter names per block in depth order; the last group is the head."""
    return list(group_parameters(model, model.group_matcher(coarse=True)).values())


def apply_plan(model: nn.Module, plan: TransferPlan, epoch: int = 0) -> list[str]:
    """Set ``requires_grad`` as the plan has it during ``epoch``; return the trainable names."""
    return freeze(model, plan.open_blocks(epoch, len(block_groups(model)) - 1))


def optimizer_groups(model: nn.Module, plan: TransferPlan, optim: OptimConfig) -> list[dict]:
    """Parameter groups with their learning rates, for every parameter that ever trains.

    Blocks still closed by gradual unfreezing are included: they have no gradient while
    frozen, so the optimiser skips them, and its state keeps one shape across a resume.
    With ``layer_decay``, timm's ``param_groups_layer_decay`` scales each block's lr by
    ``layer_decay ** depth`` below the head (and exempts biases and norms from weight decay).
    """
    eventual = _eventually_trainable(model, plan)
    if plan.layer_decay is None:
        params = [p for name, p in model.named_parameters() if name in eventual]
        return [{"params": params, "lr": optim.lr, "weight_decay": optim.weight_decay}]
    with _trainable_only(model, eventual):
        groups = param_groups_layer_decay(
            model, weight_decay=optim.weight_decay, layer_decay=plan.layer_decay
        )
    for group in groups:
        group["lr"] = optim.lr * group["lr_scale"]
    return groups


def _eventually_trainable(model: nn.Module, plan: TransferPlan) -> set[str]:
    groups = block_groups(model)
    final = plan.final_blocks(len(groups) - 1)
    return {name for group in groups[len(groups) - 1 - final:] for name in group}


@contextmanager
def _trainable_only(model: nn.Module, names: set[str]) -> Iterator[None]:
    """Temporarily mark exactly ``names`` trainable (timm's grouping skips frozen ones)."""
    before = {name: p.requires_grad for name, p in model.named_parameters()}
    for name, param in model.named_parameters():
        param.requires_grad = name in names
    try:
        yield
    finally:
        for name, param in model.named_parameters():
            param.requires_grad = before[name]


class GradualUnfreezing(pl.Callback):
    """Opens one more block of ``pl_module.model`` every ``plan.unfreeze_every`` epochs.

    It works out the open blocks from the epoch number alone, so a resumed run picks up
    exactly where the interrupted one was.
    """

    def __init__(self, plan: TransferPlan) -> None:
        self.plan = plan

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.world_size > 1:  # DDP registers only the parameters trainable at wrap time
            raise ConfigError(
                f"conf/classifiers/{pl_module.spec.node}.yaml", "backbone.unfreeze_every",
                f"gradual unfreezing does not work across {trainer.world_size} processes: "
                "DDP never synchronises blocks that were frozen when it wrapped the model",
                "train on one device, or drop unfreeze_every (last_n / full open all at once)",
            )

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        apply_plan(pl_module.model, self.plan, trainer.current_epoch)
        # Frozen norm layers were put in eval mode (and Lightning keeps each module's
        # mode across validation): an opened block's must learn its statistics again.
        for layer in pl_module.model.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm) and any(
                p.requires_grad for p in layer.parameters()
            ):
                layer.train()
