"""Batches for one node, sliced straight out of the uint8 cache (no decoding, no workers)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    WeightedRandomSampler,
)

from taxonomist.config.schema import Balance
from taxonomist.contracts.cache import CachedSplit
from taxonomist.taxonomy import Taxonomy
from taxonomist.train.model import FineTargets

# Bounding boxes in pixels of the cached images; NaN where an image has none.
BOX_COLUMNS = ("bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1")


@dataclass(frozen=True)
class NodeSplit:
    """The images of one split that a node's classifier sees, with class indices."""

    images: np.ndarray  # (N, S, S, 3) uint8, possibly a memmap
    rows: np.ndarray  # indices into images
    targets: np.ndarray  # class index per row
    boxes: np.ndarray | None = None  # (len(rows), 4) float32 per row; None: no boxes at all
    # targets: leaves: each row's label as an index into FineTargets.labels; the batches'
    # targets then, and the classes loss weights are per (``targets`` stays the child,
    # for the sampler)
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)


def node_split(
    cached: CachedSplit, taxonomy: Taxonomy, node: str, fine: FineTargets | None = None
) -> NodeSplit:
    """Keep the images whose label falls under one of ``node``'s children; ``fine``: with
    their labels too, for training on the node's leaves."""
    classes = list(taxonomy.children[node])
    child = [taxonomy.child_for_label(node, label) for label in cached.index["label"]]
    rows = np.array([i for i, c in enumerate(child) if c is not None], dtype=np.int64)
    targets = np.array([classes.index(child[i]) for i in rows], dtype=np.int64)
    labels = None
    if fine is not None:
        names = cached.index["label"].to_numpy()[rows]
        labels = np.array([fine.labels.index(name) for name in names], dtype=np.int64)
    return NodeSplit(cached.images, rows, targets, _boxes(cached, rows), labels)


def _boxes(cached: CachedSplit, rows: np.ndarray) -> np.ndarray | None:
    """The rows' boxes, or None when the index has no box columns or only NaN in them."""
    if not set(BOX_COLUMNS) <= set(cached.index.columns):
        return None
    boxes = cached.index[list(BOX_COLUMNS)].to_numpy(dtype=np.float32, na_value=np.nan)[rows]
    return boxes if np.isfinite(boxes).any() else None


def class_weights(split: NodeSplit, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, 1.0 on average over the images (n / (k * n_c)): one per
    child, or with ``targets: leaves`` (``split.labels``) one per label the network learns,
    so that a leaf weighs the same whichever family it is in, as in a flat network."""
    classes = split.targets if split.labels is None else split.labels
    counts = np.bincount(classes, minlength=num_classes).astype(np.float64)
    weights = len(split) / (num_classes * np.maximum(counts, 1.0))
    return torch.tensor(weights, dtype=torch.float32)


class _Batches(Dataset):
    """Indexed by a list of positions: returns a whole batch in one memmap slice.

    A batch is ``(images, targets)``, plus ``boxes`` when the split has any.
    """

    def __init__(self, split: NodeSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, positions: list[int]) -> tuple[torch.Tensor, ...]:
        positions = np.sort(np.asarray(positions))
        images = np.asarray(self.split.images[self.split.rows[positions]])
        targets = self.split.targets if self.split.labels is None else self.split.labels
        batch = (torch.from_numpy(images), torch.from_numpy(targets[positions]))
        if self.split.boxes is None:
            return batch
        return (*batch, torch.from_numpy(self.split.boxes[positions]))


class NodeDataModule(pl.LightningDataModule):
    """Train and val loaders for one node; ``balance=sampler`` draws classes evenly."""

    def __init__(
        self,
        train: NodeSplit,
        val: NodeSplit,
        num_classes: int,
        batch_size: int,
        balance: Balance,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.train, self.val = train, val
        self.num_classes, self.batch_size = num_classes, batch_size
        self.balance, self.num_workers = balance, num_workers

    def train_dataloader(self) -> DataLoader:
        if self.balance is Balance.sampler:
            per_image = class_weights(self.train, self.num_classes)[self.train.targets]
            sampler = WeightedRandomSampler(per_image.double(), len(self.train))
        else:
            sampler = RandomSampler(range(len(self.train)))
        # BatchNorm cannot train on a batch of one image: drop such a last batch (a
        # different image each epoch, as the order is shuffled)
        lone_last = len(self.train) % self.batch_size == 1 and len(self.train) > 1
        return self._loader(self.train, sampler, drop_last=lone_last)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val, SequentialSampler(range(len(self.val))))

    def _loader(self, split: NodeSplit, sampler, drop_last: bool = False) -> DataLoader:
        return DataLoader(
            _Batches(split),
            sampler=BatchSampler(sampler, self.batch_size, drop_last=drop_last),
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
