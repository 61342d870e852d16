"""Split the manifest into train, val and test: by set, stratified, and frozen once made.

All views of one set (several photos of one car) land in the same split, or the test
score would reward memorising a set. Once ``data/splits.parquet`` exists it is frozen:
old images keep their split, new images of a known set join that set's split, and only
new sets are split. A challenger is then always tested on the same images as live.

Corrections change that only where they must. An excluded image leaves the splits. An
image moves only with its whole set: when an expert gives images of several splits one
set_id, the merged set goes to the first of train, val, test it has images in, so no
image a model trained on ever enters val or test. ``label`` keeps the label each image
was split with, so the test labels corrected since the split can be counted.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from taxonomist.config import Paths, SplitConfig
from taxonomist.contracts.cache import SPLITS
from taxonomist.contracts.detections import with_detections
from taxonomist.contracts.manifest import in_use, test_labels_changed
from taxonomist.data.manifest import read_manifest, require_columns, write_atomic
from taxonomist.errors import ConfigError, DataError

SPLIT_COLUMNS = ("id", "set_id", "label", "split")
# Sets are dealt into this many folds (fewer when there are fewer sets), so a fraction
# of sets is met to within 1/MAX_FOLDS.
MAX_FOLDS = 20
_CONFIG_FILE = "conf/config.yaml"


def split(cfg: SplitConfig, seed: int, paths: Paths, detections: Path | None = None
          ) -> pd.DataFrame:
    """Assign every image in use to train, val or test and write the splits file.

    Args:
        cfg: ``val`` and ``test`` are fractions of *sets*, not images.
        seed: seeds the shuffling of sets into folds; same manifest, same split.
        paths: reads ``manifest`` and an existing ``splits``, writes ``splits`` when
            anything changed.
        detections: the detect stage's output, when it runs: images it sends to review
            leave the splits, and those it relabels are split under their new label.

    Returns:
        One row per image in use: id, set_id (now), label (when first split), split.

    Raises:
        ConfigError: a fraction is outside [0, 1) or val + test leaves nothing to train on.
        DataError: the manifest is missing, or the existing splits file is inconsistent.
    """
    _check_fractions(cfg)
    manifest = read_manifest(paths.manifest, ("id", "set_id", "label"))
    manifest = in_use(with_detections(manifest, detections))
    frozen = _read_frozen(paths.splits)
    kept, moved = _regrouped(frozen, manifest)
    new = manifest.loc[~manifest["id"].isin(frozen["id"]), ["id", "set_id", "label"]]
    set_split = dict(zip(kept["set_id"], kept["split"], strict=False))  # one split per set
    in_known_set = new["set_id"].isin(set_split)
    joined = new[in_known_set]
    joined = joined.assign(split=joined["set_id"].map(set_split))
    fresh = _assign(new[~in_known_set], cfg, seed)
    splits = pd.concat([kept, joined, fresh], ignore_index=True).astype(str)
    if not paths.splits.is_file() or not splits.equals(frozen):
        write_atomic(paths.splits, lambda tmp: splits.to_parquet(tmp, index=False))
    print(_counts_message(splits, len(joined), len(fresh)))
    changes = _changes_message(moved, len(frozen) - len(kept),
                               test_labels_changed(manifest, splits))
    if changes:
        print(changes)
    return splits


def _check_fractions(cfg: SplitConfig) -> None:
    for key, value in (("val", cfg.val), ("test", cfg.test)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(
                _CONFIG_FILE, f"split.{key}", f"expected a fraction of sets in [0, 1), got {value}"
            )
    if cfg.val + cfg.test >= 1.0:
        raise ConfigError(
            _CONFIG_FILE,
            "split",
            f"val + test is {cfg.val + cfg.test:g}, which leaves no sets to train on",
            "keep val + test below 1, e.g. val: 0.15, test: 0.2",
        )


def _read_frozen(path: Path) -> pd.DataFrame:
    """The existing splits, checked; an empty table when there are none yet."""
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="str") for c in SPLIT_COLUMNS})
    fix = "restore it from DVC (`dvc checkout`), or delete it to split from scratch"
    frozen = pd.read_parquet(path)
    require_columns(frozen, SPLIT_COLUMNS, str(path), fix)
    unknown = sorted(set(frozen["split"]) - set(SPLITS))
    if unknown:
        raise DataError(f"{path}: split names {unknown} are not {', '.join(SPLITS)}; {fix}")
    per_set = frozen.groupby("set_id")["split"].nunique()
    if (per_set > 1).any():
        example = per_set[per_set > 1].index[0]
        raise DataError(f"{path}: set {example!r} is in more than one split; {fix}")
    return frozen[list(SPLIT_COLUMNS)].astype(str)


def _regrouped(frozen: pd.DataFrame, manifest: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The frozen rows of the images still in use, under their set_id now, each set in
    one split (the first of train, val, test its images are in); and how many moved."""
    set_now = manifest.set_index("id")["set_id"]
    kept = frozen[frozen["id"].isin(set_now.index)]
    kept = kept.assign(set_id=kept["id"].map(set_now)).reset_index(drop=True)
    order = kept["split"].map({name: i for i, name in enumerate(SPLITS)})
    first = order.groupby(kept["set_id"]).transform("min").map(dict(enumerate(SPLITS)))
    return kept.assign(split=first), int((first != kept["split"]).sum())


def _assign(rows: pd.DataFrame, cfg: SplitConfig, seed: int) -> pd.DataFrame:
    """Deal whole sets into folds, stratified by label, and name each fold's split."""
    rows = rows.sort_values(["set_id", "id"], ignore_index=True)
    # sklearn needs some class with at least as many images as there are folds
    biggest_class = rows["label"].value_counts().max() if len(rows) else 0
    folds = min(MAX_FOLDS, rows["set_id"].nunique(), biggest_class)
    if folds < 2:  # zero or one new set: nothing to stratify
        return rows.assign(split="train")
    fold_of = np.empty(len(rows), dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # rare classes with fewer sets than folds are expected; they land where they can
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        for fold, (_, members) in enumerate(
            splitter.split(rows, rows["label"], groups=rows["set_id"])
        ):
            fold_of[members] = fold
    return rows.assign(split=_fold_names(cfg, folds)[fold_of])


def _fold_names(cfg: SplitConfig, folds: int) -> np.ndarray:
    """Which split each fold becomes; at least one fold is always train."""
    n_test = min(round(cfg.test * folds), folds - 1)
    n_val = min(round(cfg.val * folds), folds - 1 - n_test)
    n_train = folds - n_test - n_val
    return np.array(["test"] * n_test + ["val"] * n_val + ["train"] * n_train)


def _counts_message(splits: pd.DataFrame, joined: int, fresh: int) -> str:
    images = splits["split"].value_counts()
    sets = splits.groupby("split")["set_id"].nunique()
    parts = [f"{name} {images.get(name, 0)} images / {sets.get(name, 0)} sets" for name in SPLITS]
    news = f"{joined} new images joined their set's split, {fresh} in new sets were split"
    return f"split: {', '.join(parts)} ({news})"


def _changes_message(moved: int, left: int, test_labels: int) -> str:
    """What corrections did to the frozen split; "" when they did nothing."""
    parts = [f"{n} {what}" for n, what in (
        (moved, "images moved split with their merged set"),
        (left, "excluded images left the splits"),
        (test_labels, "test labels changed since the test split was frozen")) if n]
    return f"split: {', '.join(parts)}" if parts else ""
