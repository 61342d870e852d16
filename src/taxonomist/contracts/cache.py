"""The decoded-image cache: the file format between the cache stage and its readers.

Every inner node has its own cache, holding only the images whose label falls under one
of its children, at that node's own ``image_size``; the stack's images (every val and
test image, at the largest ``image_size``) are one more, under :data:`STACK`::

    data/cache/<node>/<split>.npy       uint8 images (N, S, S, 3)
    data/cache/<node>/<split>.parquet   one row per image, same order (id, label, ...)
    data/cache/<node>/selection.json    what the node's cache was built from (its key)

So ``train@NODE`` depends on ``data/cache/<node>`` alone: new images of one class change
only the caches of the nodes above that class, and DVC retrains only those. Readers
memory-map the arrays (:func:`load_node_split`) and slice whole batches; writers append
rows a chunk at a time (:class:`SplitWriter`), so neither holds a split in memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.lib import format as npy

from taxonomist.contracts.files import write_atomic, write_failed, write_text_atomic

SPLITS = ("train", "val", "test")
IMAGE_DTYPE = np.uint8
# The stack's own cache: every val and test image, at the largest image_size (val to
# tune where walks stop, test to measure the stack).
STACK = "_stack"
STACK_SPLITS = ("val", "test")
SELECTION_FILE = "selection.json"


class CacheLayout(Protocol):
    """Where the cache lives; :class:`taxonomist.config.Paths` is one."""

    @property
    def cache(self) -> Path: ...


def node_cache(layout: CacheLayout, node: str) -> Path:
    """The folder of one node's cache (``data/cache/<node>``), a DVC output of its own."""
    return layout.cache / node


def images_file(layout: CacheLayout, node: str, split: str) -> Path:
    return node_cache(layout, node) / f"{split}.npy"


def index_file(layout: CacheLayout, node: str, split: str) -> Path:
    return node_cache(layout, node) / f"{split}.parquet"


@dataclass(frozen=True)
class CachedSplit:
    """One split: images (N, S, S, 3) uint8 and their manifest rows, aligned.

    Raises:
        ValueError: the images and the rows differ in number (rerun ``taxonomist cache``).
    """

    images: np.ndarray
    index: pd.DataFrame

    def __post_init__(self) -> None:
        if len(self.images) != len(self.index):
            raise ValueError(
                f"cache is inconsistent: {len(self.images)} images but {len(self.index)} rows; "
                "rerun `taxonomist cache` (or `dvc repro cache`) to rewrite it"
            )

    def __len__(self) -> int:
        return len(self.index)


def load_node_split(layout: CacheLayout, node: str, split: str) -> CachedSplit:
    """This node's split: its images memory-mapped (nothing is read until sliced), its rows.

    The one way any stage reads the cache; ``node`` is an inner node of the taxonomy, or
    :data:`STACK` for the stack's test images (:func:`load_stack_test`).

    Raises:
        FileNotFoundError: naming the file and the command that writes it.
    """
    images = images_file(layout, node, split)
    if not images.is_file():
        raise FileNotFoundError(
            f"{images}: no cache for node '{node}' ({split}); run `taxonomist cache` "
            "(or `dvc repro cache`)"
        )
    index = pd.read_parquet(index_file(layout, node, split))
    return CachedSplit(np.load(images, mmap_mode="r"), index)


def load_stack_test(layout: CacheLayout) -> CachedSplit:
    """Every test image, at the largest ``image_size`` of any node: what the stack walks."""
    return load_node_split(layout, STACK, "test")


class SplitWriter:
    """Writes one split's ``.npy`` a chunk of rows at a time, then its index.

    The header (with the final shape) goes first and the rows are appended in order, so
    memory holds one chunk, never the split. Files are written under temporary names and
    renamed by :meth:`finish`: a build killed midway leaves no half-written cache behind.

    Example:
        >>> with SplitWriter(paths, "round", "train", rows=len(index), size=32) as out:
        ...     for chunk in chunks:
        ...         out.append(chunk)
        ...     out.finish(index)
    """

    def __init__(self, layout: CacheLayout, node: str, split: str, rows: int, size: int) -> None:
        self.images = images_file(layout, node, split)
        self.index = index_file(layout, node, split)
        self.images.parent.mkdir(parents=True, exist_ok=True)
        self.expected, self.written = rows, 0
        self.shape = (size, size, 3)
        # write_atomic's naming, so a killed build's leftover is recognised and removed
        self._temp = self.images.with_name(f".{self.images.name}.tmp-{os.getpid()}")
        header = {"descr": npy.dtype_to_descr(np.dtype(IMAGE_DTYPE)), "fortran_order": False,
                  "shape": (rows, size, size, 3)}
        with self._failing_names_the_file():
            self._file = self._temp.open("wb")
            npy.write_array_header_1_0(self._file, header)

    @contextmanager
    def _failing_names_the_file(self) -> Iterator[None]:
        """An OSError (a full disk) becomes one naming the split, which stays as it was."""
        try:
            yield
        except OSError as err:
            self._temp.unlink(missing_ok=True)  # a full disk gets its space back
            raise write_failed(self.images, err) from err

    def append(self, images: np.ndarray) -> None:
        """Append rows (n, S, S, 3) uint8; they reach the file before this returns."""
        if images.shape[1:] != self.shape or images.dtype != IMAGE_DTYPE:
            raise ValueError(f"{self.images}: rows of {self.shape} uint8 expected, "
                             f"got {images.shape[1:]} {images.dtype}")
        if self.written + len(images) > self.expected:
            raise ValueError(f"{self.images}: more than the {self.expected} rows announced")
        with self._failing_names_the_file():
            self._file.write(np.ascontiguousarray(images).data)  # a view of the rows, no copy
            self._file.flush()  # leave nothing buffered in this process
        self.written += len(images)

    def finish(self, index: pd.DataFrame) -> None:
        """Check the row count, write the index, and put both files in place."""
        if self.written != self.expected or len(index) != self.expected:
            raise ValueError(f"{self.images}: {self.written} rows written and {len(index)} "
                             f"index rows, {self.expected} announced")
        with self._failing_names_the_file():
            os.fsync(self._file.fileno())  # the rows on disk before the name points at them
            self._file.close()
            write_atomic(self.index,
                         lambda tmp: index.reset_index(drop=True).to_parquet(tmp, index=False))
            os.replace(self._temp, self.images)

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._file.closed:  # not finished: an error midway
            self._file.close()
            self._temp.unlink(missing_ok=True)


def save_node_split(layout: CacheLayout, node: str, split: str, cached: CachedSplit) -> None:
    """Write one split of one node from arrays already in memory (small caches, tests)."""
    size = cached.images.shape[1]
    with SplitWriter(layout, node, split, len(cached), size) as out:
        out.append(np.asarray(cached.images, dtype=IMAGE_DTYPE))
        out.finish(cached.index)


def read_selection(layout: CacheLayout, node: str) -> dict | None:
    """What the node's cache was built from (:func:`write_selection`), None if unknown."""
    file = node_cache(layout, node) / SELECTION_FILE
    try:
        return json.loads(file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_selection(layout: CacheLayout, node: str, selection: dict) -> None:
    """Record the node's key last, once its splits are complete."""
    file = node_cache(layout, node) / SELECTION_FILE
    write_text_atomic(file, json.dumps(selection, indent=2, sort_keys=True) + "\n")
