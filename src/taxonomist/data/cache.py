"""The cache stage: decode and resize every image once per node, at that node's size.

Each inner node gets ``data/cache/<node>/<split>.npy``, holding only the images under its
children, resized to its own ``image_size``; the stack gets the whole val and test splits
at the largest size (``data/cache/_stack``). A node whose selection (image ids, labels, splits)
and size are what its cache was built from is kept untouched, so DVC sees its folder
unchanged and does not retrain it: new images of one class rebuild only the caches of
the nodes on that class's path from the root. Training then slices batches straight out
of the cache; no image is decoded again. The format belongs to
:mod:`taxonomist.contracts.cache`.

Rows are decoded (or copied from the parent's cache when it has the same size) and
written a chunk at a time, so memory stays flat whatever the size of the data.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomist.config import Paths
from taxonomist.contracts.cache import (
    SPLITS,
    STACK,
    STACK_SPLITS,
    SplitWriter,
    images_file,
    index_file,
    node_cache,
    read_selection,
    write_selection,
)
from taxonomist.contracts.detections import DetectedBoxes, with_detections
from taxonomist.contracts.manifest import BBOX_COLUMNS, REQUIRED_COLUMNS, in_use
from taxonomist.data.manifest import read_manifest, require_columns
from taxonomist.data.pixels import crop_region, image_to_array
from taxonomist.data.store import read_stored
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy

# The manifest columns each cached image carries, in this order (plus the boxes, scaled
# to cache pixels, when the manifest has box columns).
INDEX_COLUMNS = ("id", "label", "set_id", "source", "taken_at")
CHUNK = 256  # rows decoded, then written, at a time: all the memory a build holds
# Bump when the bytes a cache holds for the same selection change (resampling, layout).
# 3: images with a box are cropped to it (detect.enabled), boxes in the crop's pixels.
FORMAT = 3


@dataclass(frozen=True)
class CacheTarget:
    """One cache to build: a node (or the stack), its size, its rows with their split."""

    node: str
    size: int
    rows: pd.DataFrame
    splits: tuple[str, ...] = SPLITS
    donor: str | None = None  # a cache built before this one with these rows at this size
    margin: float | None = None  # crop each image with a box to it, grown by this; None: not

    def split_rows(self, split: str) -> pd.DataFrame:
        return self.rows[self.rows["split"] == split].reset_index(drop=True)

    def selection(self) -> dict:
        """The key the cache is kept by: size, format and a digest of the rows."""
        columns = ["split", *INDEX_COLUMNS, *_boxes_in(self.rows)]
        text = self.rows[columns].to_csv(index=False).encode()
        counts = {s: int((self.rows["split"] == s).sum()) for s in self.splits}
        return {"image_size": self.size, "format": FORMAT, "counts": counts,
                "crop_margin": self.margin, "rows": hashlib.sha256(text).hexdigest()}


@dataclass
class CacheResult:
    """What one run of the cache stage did: the caches rebuilt, those kept, their sizes."""

    rebuilt: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> split -> n

    def summary(self) -> str:
        built = ", ".join(self.rebuilt) or "none"
        return (f"cache: rebuilt {len(self.rebuilt)} ({built}), kept {len(self.kept)} "
                "unchanged")


def build_cache(taxonomy: Taxonomy, image_sizes: Mapping[str, int], paths: Paths,
                detected: DetectedBoxes | None = None) -> CacheResult:
    """Write ``data/cache/<node>/`` for every inner node and ``data/cache/_stack/``.

    Args:
        taxonomy: which images each node sees (those labelled under its children).
        image_sizes: node -> the side of the square its images are resized to.
        paths: reads ``manifest``, ``splits`` and the stored images; writes ``cache/``.
        detected: the detect stage's boxes, when it runs: every image with a box (the
            detector's, or one drawn in the manifest CSV) is cropped to it, grown by
            ``margin``, before the resize. None: whole images, boxes only rescaled.

    Returns:
        Which caches were rebuilt and which kept, with the images per split of each.

    Raises:
        DataError: the splits and the manifest disagree, or a stored image is missing or
            cannot be decoded.
    """
    result = CacheResult()
    margin = detected.margin if detected else None
    rows = _rows_with_split(paths, detected.file if detected else None)
    targets = cache_targets(taxonomy, image_sizes, rows, margin)
    for target in targets:
        selection = target.selection()
        if read_selection(paths, target.node) == selection and _complete(paths, target):
            result.kept.append(target.node)
        else:
            _write_target(target, selection, paths)
            result.rebuilt.append(target.node)
        result.counts[target.node] = selection["counts"]
    _remove_stale(paths, {t.node for t in targets})
    return result


def cache_targets(
    taxonomy: Taxonomy, image_sizes: Mapping[str, int], rows: pd.DataFrame,
    margin: float | None = None,
) -> list[CacheTarget]:
    """Every inner node from the root down, then the stack (val and test); each names a
    donor when the cache before it (its parent, or the root for the stack) holds its rows
    at its size."""
    above = {label: set(taxonomy.path(label)[:-1]) for label in rows["label"].unique()}
    targets = []
    for node in taxonomy.inner_nodes:
        under = [label for label, nodes in above.items() if node in nodes]
        parent = taxonomy.parent[node]
        donor = parent if parent and image_sizes[parent] == image_sizes[node] else None
        chosen = rows[rows["label"].isin(under)]
        targets.append(CacheTarget(node, image_sizes[node], chosen, donor=donor,
                                   margin=margin))
    largest = max(image_sizes.values())
    root_donor = taxonomy.root if image_sizes[taxonomy.root] == largest else None
    held_out = rows[rows["split"].isin(STACK_SPLITS)]
    return targets + [CacheTarget(STACK, largest, held_out, STACK_SPLITS, root_donor, margin)]


def _write_target(target: CacheTarget, selection: dict, paths: Paths) -> None:
    """Rewrite one cache, its key last, so a build killed midway is rebuilt next time."""
    folder = node_cache(paths, target.node)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for split in target.splits:
        index = target.split_rows(split)
        regions = _regions(index, target.margin)
        donor = _Donor(paths, target.donor, split) if target.donor else None
        with SplitWriter(paths, target.node, split, len(index), target.size) as out:
            for chunk in _pixels(index, regions, target.size, paths.root, donor):
                out.append(chunk)
            out.finish(_index(index, regions, target.size))
    write_selection(paths, target.node, selection)


class _Donor:
    """A cache built earlier in this run at the same size: its rows are copied, not
    decoded again. Mapped anew for each chunk, so its pages do not pile up in memory."""

    def __init__(self, paths: Paths, node: str, split: str) -> None:
        self.file = images_file(paths, node, split)
        ids = pd.read_parquet(index_file(paths, node, split), columns=["id"])["id"]
        self.position = {image_id: i for i, image_id in enumerate(ids)}

    def rows(self, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Which of ``ids`` it holds (a mask) and their images, in that order."""
        found = np.array([self.position.get(image_id, -1) for image_id in ids], dtype=np.int64)
        have = found >= 0
        images = np.load(self.file, mmap_mode="r")
        return have, np.array(images[found[have]])


def _pixels(index: pd.DataFrame, regions: np.ndarray, size: int, root: Path,
            donor: _Donor | None) -> Iterator[np.ndarray]:
    """The rows' images, each cropped to its region, CHUNK at a time: copied from the
    donor where it has them, decoded from the store otherwise."""
    whole = (regions == _whole_images(index)).all(axis=1)
    for start in range(0, len(index), CHUNK):
        rows = index.iloc[start:start + CHUNK]
        chunk = np.empty((len(rows), size, size, 3), dtype=np.uint8)
        have = np.zeros(len(rows), dtype=bool)
        if donor is not None:
            have, copied = donor.rows(rows["id"])
            chunk[have] = copied
        for i in np.flatnonzero(~have):
            crop = None if whole[start + i] else tuple(regions[start + i].tolist())
            chunk[i] = image_to_array(read_stored(root / rows["stored"].iloc[i]), size, crop)
        yield chunk


def _regions(rows: pd.DataFrame, margin: float | None) -> np.ndarray:
    """(n, 4) the part of each upright image that is cached: its box grown by ``margin``
    (:func:`crop_region`) where it has a box and ``margin`` is set, else all of it."""
    whole = _whole_images(rows)
    if margin is None or not _boxes_in(rows):
        return whole
    boxes = rows[list(BBOX_COLUMNS)].to_numpy(dtype=np.float64, na_value=np.nan)
    boxed = np.isfinite(boxes).all(axis=1)
    grown = crop_region(boxes[boxed], whole[boxed, 2], whole[boxed, 3], margin)
    whole[boxed] = grown
    return whole


def _whole_images(rows: pd.DataFrame) -> np.ndarray:
    zeros = np.zeros(len(rows), dtype=np.int64)
    return np.stack([zeros, zeros, rows["width"].to_numpy(np.int64),
                     rows["height"].to_numpy(np.int64)], axis=1)


def _index(rows: pd.DataFrame, regions: np.ndarray, size: int) -> pd.DataFrame:
    """The cached rows' manifest values; boxes in the cache's pixels (of the crop)."""
    index = rows[list(INDEX_COLUMNS)].copy()
    for column in _boxes_in(rows):
        axis = 0 if column in ("bbox_x0", "bbox_x1") else 1
        origin, side = regions[:, axis], regions[:, axis + 2] - regions[:, axis]
        index[column] = (rows[column].astype("float64") - origin) * size / side
    return index


def _boxes_in(rows: pd.DataFrame) -> list[str]:
    return list(BBOX_COLUMNS) if set(BBOX_COLUMNS) <= set(rows.columns) else []


def _complete(paths: Paths, target: CacheTarget) -> bool:
    """Every split file is there with the rows and size its key says."""
    for split in target.splits:
        file = images_file(paths, target.node, split)
        if not file.is_file():
            return False
        shape = np.load(file, mmap_mode="r").shape
        if shape[:2] != (int((target.rows["split"] == split).sum()), target.size):
            return False
    return True


def _remove_stale(paths: Paths, current: set[str]) -> None:
    """Drop what no node reads any more: caches of removed nodes, the old flat layout."""
    for entry in paths.cache.iterdir():
        if entry.name in current:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _rows_with_split(paths: Paths, detections: Path | None) -> pd.DataFrame:
    """Manifest rows in use (not excluded), with the detector's boxes when it ran, in the
    order of the splits file, each with its split."""
    manifest = read_manifest(paths.manifest, REQUIRED_COLUMNS)  # boxes when it has them
    manifest = in_use(with_detections(manifest, detections))
    if not paths.splits.is_file():
        raise DataError(f"{paths.splits}: no splits yet; run `taxonomist split` first")
    splits = pd.read_parquet(paths.splits)
    require_columns(splits, ("id", "split"), str(paths.splits), "run `taxonomist split` again")
    unknown = splits.loc[~splits["id"].isin(manifest["id"]), "id"]
    if len(unknown):
        raise DataError(
            f"{paths.splits}: {len(unknown)} image ids are not in {paths.manifest} "
            f"(e.g. {unknown.iloc[0]}); restore the manifest (`dvc checkout`) or, to "
            "split from scratch, delete the splits file and run `taxonomist split`"
        )
    unsplit = manifest.loc[~manifest["id"].isin(splits["id"]), "id"]
    if len(unsplit):
        raise DataError(
            f"{paths.manifest}: {len(unsplit)} images have no split (e.g. {unsplit.iloc[0]}); "
            "run `taxonomist split` after `taxonomist ingest`"
        )
    return splits[["id", "split"]].merge(manifest, on="id", how="left", validate="one_to_one")

