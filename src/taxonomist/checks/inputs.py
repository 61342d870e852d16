"""Read what the validate stage checks: the manifest, its splits, ingest's rejects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from taxonomist.config import Paths
from taxonomist.contracts.detections import with_detections
from taxonomist.errors import DataError


@dataclass(frozen=True)
class Inputs:
    """The tables :func:`~taxonomist.checks.validate` takes, read from the project."""

    manifest: pd.DataFrame
    splits: pd.DataFrame
    rejects: pd.DataFrame | None


def read_inputs(paths: Paths, detections: Path | None = None) -> Inputs:
    """``data/manifest.parquet`` (with ``detections`` joined on when the detect stage
    runs), ``data/splits.parquet`` and ``data/rejects.csv``.

    The rejects file is optional (None when ingest wrote none); columns are checked by
    the validation itself, so a wrong column is reported with the others.

    Raises:
        DataError: the manifest or the splits are missing or unreadable, with the stage
            that writes them.
    """
    return Inputs(
        manifest=with_detections(_parquet(paths.manifest, "ingest"), detections),
        splits=_parquet(paths.splits, "split"),
        rejects=pd.read_csv(paths.rejects, dtype=str) if paths.rejects.is_file() else None,
    )


def _parquet(path: Path, stage: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(
            f"{path}: not found; validate checks it, so run `taxonomist {stage}` "
            f"(`dvc repro {stage}`) first"
        )
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise DataError(
            f"{path}: not a readable parquet file ({err}); run `dvc repro {stage}` to "
            f"rewrite it"
        ) from None
