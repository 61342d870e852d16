"""One stage in a warm worker: what it leaves behind for the next stage."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from taxonomist.runner.job import StageJob, run_job


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch, _index):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())


def test_a_trained_model_is_freed_when_its_stage_ends(tmp_path: Path) -> None:
    """A Trainer and its module point at each other: only a full collection frees them,
    and a worker that trains node after node must not wait for one (automatic collection
    is off here, so only the worker's own can free them)."""
    trained: list[weakref.ref] = []

    def train(_argv: list[str]) -> int:
        model = Tiny()
        data = TensorDataset(torch.randn(8, 4), torch.randint(0, 2, (8,)))
        pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir=tmp_path).fit(model, DataLoader(data, batch_size=4))
        trained.append(weakref.ref(model))
        return 0

    job = StageJob("train@tiny", ("taxonomist train tiny",), str(tmp_path),
                   str(tmp_path / "train@tiny.log"), ())
    gc.disable()
    try:
        outcome = run_job(job, train)
    finally:
        gc.enable()
        gc.unfreeze()  # the worker froze this test process's objects: give them back
    assert outcome.returncode == 0
    assert trained[0]() is None, "the stage's model outlived it, in the worker's memory"
