"""How fast taxonomist trains, against plain baselines, in one run on the same data.

Three ratios, each with its target:

(a) training throughput of taxonomist's path (``NodeClassifier`` + ``NodeDataModule``
    through Lightning) over a hand-written PyTorch loop on the same tensors, the same
    model, optimiser and augmentation (target: at least 0.9x);
(b) images/s of the data path — the uint8 cache sliced in whole batches and augmented
    by kornia on the batch — over torchvision's ``ImageFolder`` on PNGs with the same
    augmentations per sample (``transforms.v2``) in a 2-worker ``DataLoader``
    (target: at least 2x);
(c) the cost of MLflow logging (sqlite) per epoch, relative to the epoch (target < 5%).

Each time is the fastest epoch after the first (warm-up, worker start-up): on a shared
machine other processes only ever add time, and the differences sought are smaller than
the noise they add to single epochs.

Usage::

    python -m bench.train                                   # CPU defaults
    python -m bench.train --device cuda --model resnet50 --size 224 --images 4096 \\
        --batch 128                                         # a GPU machine

Writes ``bench/results/train.json`` (table ``ratios``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import timm
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from bench.record import BenchRun, Cell, Figure, Table, add_results_option, ratio
from taxonomist.config.schema import Balance, OptimConfig, TrainerConfig
from taxonomist.tracking.logger import BufferedMLFlowLogger
from taxonomist.train.augment import build_augmentation
from taxonomist.train.datamodule import NodeDataModule, NodeSplit
from taxonomist.train.model import NodeSpec, normalize, to_input
from taxonomist.train.module import NodeClassifier
from taxonomist.train.speed import tune_for_speed

CLASSES = 4
# The same augmentations on both sides of (b), and in the training of (a) and (c).
KORNIA = [
    {"RandomHorizontalFlip": {}},
    {"RandomAffine": {"degrees": 10, "translate": [0.08, 0.08], "p": 1.0}},
    {"ColorJiggle": {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2}},
]
TORCHVISION = [
    v2.RandomHorizontalFlip(),
    v2.RandomAffine(degrees=10, translate=(0.08, 0.08)),
    v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@dataclass(frozen=True)
class Bench:
    """One benchmark's settings, from the command line."""

    device: str
    model: str
    size: int
    images: int
    batch: int
    epochs: int
    workers: int
    precision: str
    compile: bool
    folder: Path

    @property
    def spec(self) -> NodeSpec:
        classes = [f"c{i}" for i in range(CLASSES)]
        return NodeSpec("bench", classes, self.model, self.size, MEAN, STD, 0.5)

    @property
    def trainer(self) -> TrainerConfig:
        accelerator = "gpu" if self.device == "cuda" else "cpu"
        return TrainerConfig(accelerator=accelerator, precision=self.precision,
                             deterministic=False, compile=self.compile)


@dataclass(frozen=True)
class Comparison:
    """One of the three ratios: each side's figure, the ratio and its target."""

    name: str
    ours: Figure
    baseline: Figure
    value: float  # ours against the baseline (a fraction for "<" targets)
    op: str  # ">=" or "<"
    target: float
    detail: str

    @property
    def met(self) -> bool:
        return self.value >= self.target if self.op == ">=" else self.value < self.target

    def line(self) -> str:
        """The verdict as the bench prints it."""
        shown = f"{self.value:.1%}" if self.op == "<" else f"{self.value:.2f}x"
        goal = f"{self.target:.0%}" if self.op == "<" else f"{self.target}x"
        return (f"{self.name}: {shown} (target {self.op} {goal}: "
                f"{'met' if self.met else 'MISSED'}) — {self.detail}")

    def row(self, against: str) -> tuple[Cell, ...]:
        """The result table's row: ``against`` names the baseline after the ratio."""
        shown = (Figure(100 * self.value, "%", against, digits=1) if self.op == "<"
                 else ratio(self.value, against))
        op = "≥" if self.op == ">=" else "<"
        goal = f"{self.target:.0%}" if self.op == "<" else f"{self.target:g}×"
        return (self.name, self.ours, self.baseline, shown,
                f"{op} {goal}: {'met' if self.met else 'MISSED'}")


def ratios_table(comparisons: list[Comparison]) -> Table:
    """(a), (b) and (c), each against the baseline it was measured with."""
    training, data, logging = comparisons
    return Table("ratios", ("measured", "taxonomist", "baseline", "ratio", "target"), [
        training.row("the hand-written loop"),
        data.row("`ImageFolder` + `transforms.v2`"),
        logging.row("of the epoch"),
    ])


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    run = BenchRun.start("train", args.results_dir, args)
    with tempfile.TemporaryDirectory(prefix="taxonomist-bench-") as tmp:
        bench = Bench(args.device, args.model, args.size, args.images, args.batch,
                      args.epochs, args.workers, args.precision or _default_precision(args),
                      args.compile, Path(tmp))
        print(f"{bench.model} at {bench.size} px, {bench.images} images, batch {bench.batch}, "
              f"{bench.epochs} epochs, {bench.device} ({torch.get_num_threads()} threads), "
              f"precision {bench.precision}{', compiled' if bench.compile else ''}")
        split = make_cache(bench)
        results = [
            compare_training(bench, split),
            compare_data_paths(bench, split),
            logging_overhead(bench, split),
        ]
    print()
    for comparison in results:
        print(comparison.line())
    run.write([ratios_table(results)])


# --- data ----------------------------------------------------------------------------


def make_cache(bench: Bench) -> NodeSplit:
    """Smooth random images (PNG-compressible like photos), as the cache stage stores
    them: one uint8 .npy, memory-mapped."""
    rng = np.random.default_rng(0)
    cells = max(bench.size // 8, 1)
    coarse = rng.integers(0, 256, (bench.images, 8, 8, 3), dtype=np.uint8)
    images = coarse.repeat(cells, axis=1).repeat(cells, axis=2)[:, : bench.size, : bench.size]
    noise = rng.integers(0, 12, images.shape, dtype=np.uint8)
    path = bench.folder / "train.npy"
    np.save(path, np.ascontiguousarray(images + noise))
    targets = rng.integers(0, CLASSES, bench.images)
    return NodeSplit(np.load(path, mmap_mode="r"), np.arange(bench.images), targets)


def write_pngs(bench: Bench, split: NodeSplit) -> Path:
    root = bench.folder / "pngs"
    for i, (image, target) in enumerate(zip(split.images, split.targets, strict=True)):
        folder = root / f"c{target}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(image)).save(folder / f"{i:06d}.png")
    return root


# --- (a) Lightning vs a hand-written loop ---------------------------------------------


def compare_training(bench: Bench, split: NodeSplit, rounds: int = 2) -> Comparison:
    """The fastest epoch of each side over ``rounds`` alternating runs, so a slow spell of
    the machine cannot fall on one side only."""
    ours, plain = [], []
    for _ in range(rounds):
        ours += lightning_epochs(bench, split, logger=None)
        plain += plain_loop_epochs(bench, split)
    ours, plain = min(ours), min(plain)
    n = len(split)
    return Comparison(
        "(a) training, taxonomist / plain loop", Figure(n / ours, "img/s", digits=0),
        Figure(n / plain, "img/s", digits=0), plain / ours, ">=", 0.9,
        f"{n / ours:,.0f} vs {n / plain:,.0f} img/s",
    )


def new_model(bench: Bench) -> nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(bench.model, pretrained=False, num_classes=CLASSES)
    return tune_for_speed(model, bench.trainer)


def lightning_epochs(
    bench: Bench, split: NodeSplit, logger: pl.loggers.Logger | None, val: bool = False
) -> list[float]:
    """Seconds per training epoch of taxonomist's module and data module."""
    module = NodeClassifier(new_model(bench), bench.spec, build_augmentation(KORNIA, "bench"),
                            OptimConfig())
    data = NodeDataModule(split, split, CLASSES, bench.batch, Balance.none)
    timer = EpochTimer(bench.device)
    trainer = pl.Trainer(
        max_epochs=bench.epochs, accelerator=bench.trainer.accelerator, devices=1,
        precision=bench.precision, logger=logger or False, callbacks=[timer],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=1.0 if val else 0, num_sanity_val_steps=0, log_every_n_steps=1,
    )
    trainer.fit(module, datamodule=data)
    return timer.seconds[1:]


class EpochTimer(pl.Callback):
    """Wall time of each training epoch (and its validation, when there is one)."""

    def __init__(self, device: str) -> None:
        self.device, self.seconds, self._start = device, [], 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _sync(self.device)
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _sync(self.device)
        self.seconds.append(time.perf_counter() - self._start)


def plain_loop_epochs(bench: Bench, split: NodeSplit) -> list[float]:
    """The loop one would write by hand: same tensors, model, optimiser, augmentation."""
    device = torch.device(bench.device)
    model = new_model(bench).to(device).train()
    augment = build_augmentation(KORNIA, "bench").to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    images = torch.from_numpy(np.asarray(split.images))
    targets = torch.from_numpy(split.targets)
    half = "16" in bench.precision and bench.device == "cuda"
    scaler = torch.amp.GradScaler(enabled=half)
    seconds = []
    for _ in range(bench.epochs):
        _sync(bench.device)
        start = time.perf_counter()
        for rows in torch.randperm(len(images)).split(bench.batch):
            x = images[rows].to(device, non_blocking=True)
            y = targets[rows].to(device, non_blocking=True)
            x = normalize(augment(to_input(x, bench.size)), bench.spec)
            with torch.autocast(bench.device, dtype=torch.float16, enabled=half):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        _sync(bench.device)
        seconds.append(time.perf_counter() - start)
    return seconds[1:]


# --- (b) the data path ------------------------------------------------------------------


def compare_data_paths(bench: Bench, split: NodeSplit) -> Comparison:
    ours = cached_kornia_rate(bench, split)
    theirs = imagefolder_rate(bench, write_pngs(bench, split))
    return Comparison(
        f"(b) data path, cache+kornia / ImageFolder+v2 ({bench.workers} workers)",
        Figure(ours, "img/s", digits=0), Figure(theirs, "img/s", digits=0),
        ours / theirs, ">=", 2.0, f"{ours:,.0f} vs {theirs:,.0f} img/s",
    )


def cached_kornia_rate(bench: Bench, split: NodeSplit) -> float:
    """Images/s out of ``NodeDataModule``, augmented and normalised on the device."""
    device = torch.device(bench.device)
    augment = build_augmentation(KORNIA, "bench").to(device)
    loader = NodeDataModule(split, split, CLASSES, bench.batch, Balance.none).train_dataloader()

    def epoch() -> None:
        for images, _targets in loader:
            images = images.to(device, non_blocking=True)
            normalize(augment(to_input(images, bench.size)), bench.spec)

    return len(split) / min(_timed_epochs(bench, epoch))


def imagefolder_rate(bench: Bench, root: Path) -> float:
    """Images/s of the usual torchvision pipeline: decode + augment each PNG in workers."""
    transform = v2.Compose([
        v2.PILToTensor(), *TORCHVISION,  # on uint8, the fast way in v2
        v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD),
    ])
    loader = DataLoader(
        ImageFolder(str(root), transform=transform), batch_size=bench.batch, shuffle=True,
        num_workers=bench.workers, persistent_workers=bench.workers > 0,
        pin_memory=bench.device == "cuda",
    )
    device = torch.device(bench.device)

    def epoch() -> None:
        for images, _targets in loader:
            images.to(device, non_blocking=True)

    return bench.images / min(_timed_epochs(bench, epoch))


def _timed_epochs(bench: Bench, epoch: Callable[[], None]) -> list[float]:
    seconds = []
    for _ in range(max(bench.epochs, 2)):
        _sync(bench.device)
        start = time.perf_counter()
        with torch.no_grad():
            epoch()
        _sync(bench.device)
        seconds.append(time.perf_counter() - start)
    return seconds[1:]


# --- (c) MLflow ---------------------------------------------------------------------------


def logging_overhead(bench: Bench, split: NodeSplit) -> Comparison:
    """Epochs with validation, with and without the MLflow logger (sqlite)."""
    logger = TimedLogger(
        experiment_name="bench", tracking_uri=f"sqlite:///{bench.folder / 'mlflow.db'}",
        artifact_location=(bench.folder / "artifacts").as_uri(),
    )
    logger.log_hyperparams({"model": bench.model})  # creates the store: not an epoch's cost
    logger.spent = 0.0
    without = min(lightning_epochs(bench, split, None, val=True))
    with_logger = min(lightning_epochs(bench, split, logger, val=True))
    per_epoch = logger.spent / bench.epochs
    return Comparison(
        "(c) MLflow logging per epoch", Figure(per_epoch * 1000, "ms", digits=0),
        Figure(without, "s", digits=2), per_epoch / without, "<", 0.05,
        f"{per_epoch * 1000:.0f} ms inside the logger per {without:.2f} s epoch; fastest "
        f"epoch with the logger / without: {with_logger / without:.3f}",
    )


class TimedLogger(BufferedMLFlowLogger):
    """Adds up the time spent inside the logger."""

    spent = 0.0

    def log_metrics(self, metrics, step=None) -> None:
        with self._timing():
            super().log_metrics(metrics, step)

    def finalize(self, status: str = "success") -> None:
        with self._timing():
            super().finalize(status)

    @contextmanager
    def _timing(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.spent += time.perf_counter() - start


# --- helpers ---------------------------------------------------------------------------


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _default_precision(args: argparse.Namespace) -> str:
    return "16-mixed" if args.device == "cuda" else "32-true"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--model", default="resnet10t", help="any timm model name")
    parser.add_argument("--size", type=int, default=48, help="image side in pixels")
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4, help="the first is warm-up")
    parser.add_argument("--workers", type=int, default=2, help="ImageFolder loader workers")
    parser.add_argument("--precision", help="Lightning precision (default: 16-mixed on cuda)")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    add_results_option(parser)
    return parser


if __name__ == "__main__":
    main()
