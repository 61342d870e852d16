"""The cache stage: decode and resize every image once, into one uint8 array per split.

Training then slices batches straight out of ``data/cache/<split>.npy``; no image is
decoded again, epoch after epoch. The file format belongs to :mod:`taxonomist.contracts.cache`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from taxonomist.config import Paths
from taxonomist.contracts.cache import SPLITS, CachedSplit, save_split
from taxonomist.data.manifest import read_manifest, require_columns
from taxonomist.data.pixels import image_to_array
from taxonomist.errors import DataError

# The manifest columns each cached image carries, in this order.
INDEX_COLUMNS = ("id", "label", "set_id", "source", "taken_at")


def build_cache(image_size: int, paths: Paths) -> dict[str, int]:
    """Write ``<split>.npy`` and ``<split>.parquet`` for train, val and test.

    Args:
        image_size: the side of the square every image is resized to (the largest
            ``image_size`` any classifier asks for; each resizes further on the device).
        paths: reads ``manifest``, ``splits`` and the stored images; writes ``cache/``.

    Returns:
        The number of images per split, e.g. ``{"train": 3000, "val": 600, "test": 900}``.

    Raises:
        DataError: the splits and the manifest disagree, or a stored image is missing or
            cannot be decoded.
    """
    rows = _rows_with_split(paths)
    counts = {}
    for name in SPLITS:
        index = rows[rows["split"] == name].reset_index(drop=True)
        images = _decode_all(index["stored"], image_size, paths.root, name)
        save_split(paths, name, CachedSplit(images, index[list(INDEX_COLUMNS)]))
        counts[name] = len(index)
    return counts


def _rows_with_split(paths: Paths) -> pd.DataFrame:
    """Manifest rows in the order of the splits file, each with its split."""
    manifest = read_manifest(paths.manifest)
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


def _decode_all(stored: pd.Series, size: int, root: Path, split: str) -> np.ndarray:
    images = np.empty((len(stored), size, size, 3), dtype=np.uint8)
    for i, relative in enumerate(tqdm(stored, desc=f"cache {split}", unit="img")):
        images[i] = _load(root / relative, size)
    return images


def _load(file: Path, size: int) -> np.ndarray:
    try:
        with Image.open(file) as image:
            return image_to_array(image, size)
    except FileNotFoundError:
        raise DataError(
            f"{file}: stored image is missing; restore it with `dvc checkout data/images` "
            "or rerun `taxonomist ingest`"
        ) from None
    except OSError as err:
        raise DataError(
            f"{file}: cannot decode the stored image ({err}); it was readable at ingest, "
            "so the store is damaged: restore it with `dvc checkout data/images`"
        ) from None
