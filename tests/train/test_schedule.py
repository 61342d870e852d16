"""The learning-rate schedules, as a real Lightning fit steps them: once per batch."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import timm
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from taxonomist.config.schema import BackboneConfig, OptimConfig, Schedule, Strategy
from taxonomist.train.model import NodeSpec
from taxonomist.train.module import NodeClassifier
from taxonomist.train.transfer import transfer_plan

LR = 0.01
EPOCHS, BATCHES = 3, 4


class LearningRates(pl.Callback):
    """Each group's learning rate at every training batch."""

    def __init__(self) -> None:
        self.seen: list[list[float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen.append([group["lr"] for group in trainer.optimizers[0].param_groups])


def rates_in_a_fit(optim: OptimConfig, backbone: BackboneConfig | None = None) -> list[list[float]]:
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", num_classes=2)
    spec = NodeSpec("round", ["a", "b"], "test_resnet", 16, [0.5] * 3, [0.5] * 3, 0.5)
    plan = transfer_plan(backbone, "conf/classifiers/round.yaml") if backbone else None
    module = NodeClassifier(model, spec, nn.Identity(), optim, transfer=plan)
    images = torch.randint(0, 255, (BATCHES * 4, 16, 16, 3), dtype=torch.uint8)
    data = DataLoader(TensorDataset(images, torch.arange(BATCHES * 4) % 2), batch_size=4)
    rates = LearningRates()
    trainer = pl.Trainer(max_epochs=EPOCHS, callbacks=[rates], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, data)
    return rates.seen


def test_constant_keeps_the_rate_throughout() -> None:
    seen = rates_in_a_fit(OptimConfig(lr=LR, schedule=Schedule.constant))
    assert len(seen) == EPOCHS * BATCHES and {r[0] for r in seen} == {LR}


def test_cosine_falls_every_step_from_the_rate_to_near_zero() -> None:
    first = [r[0] for r in rates_in_a_fit(OptimConfig(lr=LR, schedule=Schedule.cosine))]
    assert first[0] == pytest.approx(LR)
    assert all(a > b for a, b in zip(first, first[1:], strict=False))
    assert first[-1] < LR * 0.02


def test_onecycle_rises_to_the_rate_then_falls_below_where_it_began() -> None:
    first = [r[0] for r in rates_in_a_fit(OptimConfig(lr=LR, schedule=Schedule.onecycle))]
    peak = first.index(max(first))
    assert first[0] == pytest.approx(LR / 25)
    assert max(first) == pytest.approx(LR, rel=0.05) and 0 < peak < len(first) - 1
    assert first[-1] < first[0]


def test_onecycle_keeps_layer_decay_s_ratios_between_groups() -> None:
    backbone = BackboneConfig(strategy=Strategy.full, layer_decay=0.5)
    seen = rates_in_a_fit(OptimConfig(lr=LR, schedule=Schedule.onecycle), backbone)
    peaks = [max(step[g] for step in seen) for g in range(len(seen[0]))]
    assert len({round(p, 9) for p in peaks}) > 1  # deeper blocks peak lower
    assert max(peaks) == pytest.approx(LR, rel=0.05)
    ratios = {round(step[g] / step[0], 6) for step in seen for g in range(len(step))}
    assert ratios == {round(p / peaks[0], 6) for p in peaks}
