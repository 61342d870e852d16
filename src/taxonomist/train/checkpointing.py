"""Checkpoints that survive a kill: atomic writes, a configuration stamp, and resuming.

A ``train@NODE`` killed mid-run (OOM killer, pre-empted node, Ctrl-C twice) leaves
``checkpoints/<node>/`` behind. The next run resumes from the newest checkpoint in it that
can be read and was written for the same configuration; a damaged file is set aside with
a warning naming it, and checkpoints of another configuration are discarded.

Example::

    point = resume_point(folder, run_fingerprint(config, node, paths))
    trainer = pl.Trainer(plugins=[AtomicCheckpointIO()],
                         callbacks=[StampedCheckpoint(point.fingerprint, dirpath=folder)])
    trainer.fit(module, datamodule=data, ckpt_path=point.checkpoint)
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint

from taxonomist.config import Config, Paths
from taxonomist.contracts.cache import images_file, index_file
from taxonomist.contracts.files import TEMP_GLOB, write_atomic
from taxonomist.train.artifact import refuse_code_in_pickle

STAMP_KEY = "taxonomist"  # our entry in a Lightning checkpoint dict
CORRUPT_SUFFIX = ".corrupt"
SPOOL_FILE = "unsent-mlflow.json"  # tracking values a failed run could not send


class CheckpointWarning(UserWarning):
    """A checkpoint file was skipped: it could not be read."""


@dataclass(frozen=True)
class ResumePoint:
    """Where ``trainer.fit`` starts: a checkpoint to resume, or None for a fresh start.

    Attributes:
        fingerprint: identifies the configuration; stamped into every checkpoint.
        checkpoint: the file for ``trainer.fit(ckpt_path=...)``, or None.
        epoch: the epoch stored in ``checkpoint`` (the run goes on with the next one).
        run_id: the MLflow run the checkpoint was logged to, to continue it; or None.
    """

    fingerprint: str
    checkpoint: Path | None = None
    epoch: int | None = None
    run_id: str | None = None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, fsyncs, then ``os.replace``s.

    A reader (or the next run) sees either the previous complete file or the new complete
    file, never a half-written one — even on SIGKILL or power loss during the write.
    Remote paths (``s3://`` ...) go through Lightning's own writer.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_torch_save(checkpoint, Path(path))


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save(obj, path)``, all or nothing (:func:`write_atomic`).

    Raises:
        WriteFailed: the disk is full (or another OSError), naming ``path``; the
            previous file is kept.
    """
    write_atomic(path, lambda temp: _torch_save_telling_os_errors(obj, temp))


class _ErrorKeepingFile:
    """A file torch writes through, keeping the OSError its writer reports only as
    "unexpected pos 704 vs 598"."""

    def __init__(self, file: Any) -> None:
        self.file, self.error = file, None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.file.flush()


def _torch_save_telling_os_errors(obj: Any, temp: Path) -> None:
    with open(temp, "wb") as file:
        keeping = _ErrorKeepingFile(file)
        try:
            torch.save(obj, keeping)
        except RuntimeError:
            if keeping.error is None:
                raise
            raise keeping.error from None


class StampedCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that stamps each file with the configuration and the MLflow run.

    Args:
        fingerprint: from :func:`run_fingerprint`; a later run resumes only on a match.
        **kwargs: passed to ``ModelCheckpoint``.
    """

    def __init__(self, fingerprint: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fingerprint = fingerprint

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # The run id is known only once MLflow has been reached; None starts a new run.
        run_id = getattr(trainer.logger, "known_run_id", None)
        checkpoint[STAMP_KEY] = {"fingerprint": self.fingerprint, "mlflow_run_id": run_id}


def checkpoint_dir(paths: Paths, node: str) -> Path:
    return paths.root / "checkpoints" / node


def run_fingerprint(config: Config, node: str, paths: Paths) -> str:
    """What a node's checkpoints depend on: its resolved definition, the seed, the data.

    The data part hashes the train/val index of the node's cache (image ids are content hashes)
    and the shape of the image arrays, so it is cheap for any cache size and does not
    change when DVC merely re-links the files.
    """
    payload = {
        "node": node,
        "definition": config.node_params(node),
        "seed": config.project.seed,
        "cache": [_cache_fingerprint(paths, node, split) for split in ("train", "val")],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def resume_point(folder: Path, fingerprint: str) -> ResumePoint:
    """The newest readable checkpoint of this configuration in ``folder``, if any.

    Unreadable files are renamed to ``*.corrupt`` with a :class:`CheckpointWarning` and the
    next newest is tried. When nothing can be resumed, or the checkpoints belong to another
    configuration, the checkpoint files are removed and the run starts fresh.
    """
    if not folder.is_dir():
        return ResumePoint(fingerprint)
    for stale in folder.glob(TEMP_GLOB):  # a write interrupted by a kill
        stale.unlink(missing_ok=True)
    for path in sorted(folder.glob("*.ckpt"), key=_modified, reverse=True):
        stamp = _read_stamp(path)
        if stamp is None:
            continue
        if stamp.get("fingerprint") != fingerprint:
            break  # the folder holds one configuration's files: all are stale
        return ResumePoint(fingerprint, path, stamp["epoch"], stamp.get("mlflow_run_id"))
    clear_checkpoints(folder)
    return ResumePoint(fingerprint)


def clear_checkpoints(folder: Path) -> None:
    """Remove one run's files (not other caches kept in the folder, e.g. embeddings)."""
    for pattern in ("*.ckpt", TEMP_GLOB, SPOOL_FILE):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


def _read_stamp(path: Path) -> dict[str, Any] | None:
    """Our stamp plus the epoch, or None (after a warning) if the file cannot be loaded.

    Raises:
        UnsafeModelFile: the file is a pickle that would run code: not set aside as
            damaged, since someone may have put it there (see :mod:`.artifact`).
    """
    refuse_code_in_pickle(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        stamp = dict(checkpoint.get(STAMP_KEY) or {})
        stamp["epoch"] = int(checkpoint["epoch"])
        _ = checkpoint["state_dict"], checkpoint["loops"]
    except Exception as err:  # a damaged file fails in zip, pickle or key lookups alike
        aside = path.with_name(path.name + CORRUPT_SUFFIX)
        os.replace(path, aside)
        warnings.warn(
            f"skipping checkpoint {path}: it cannot be read ({type(err).__name__}: "
            f"{str(err)[:200]}); moved it to {aside.name} and trying an older one",
            CheckpointWarning,
            stacklevel=3,
        )
        return None
    return stamp


def _cache_fingerprint(paths: Paths, node: str, split: str) -> list[Any]:
    index = pd.read_parquet(index_file(paths, node, split))
    digest = hashlib.sha256(pd.util.hash_pandas_object(index, index=False).values.tobytes())
    shape = np.load(images_file(paths, node, split), mmap_mode="r").shape
    return [split, list(shape), digest.hexdigest()]


def _modified(path: Path) -> int:
    return path.stat().st_mtime_ns
