"""The manifest: one row per stored image, the truth every later stage reads.

``data/manifest.parquet`` has the columns in
:data:`~taxonomist.contracts.manifest.MANIFEST_COLUMNS` (what each means is there), plus
any extra columns the source's manifest CSV carried (a photographer, say). ``id`` is
unique; ``label_source`` is ``import`` unless the source's CSV says ``crowd``,
``expert``, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from taxonomist.contracts.files import write_atomic  # noqa: F401 (ingest, split, rejects)
from taxonomist.contracts.manifest import INT_COLUMNS, MANIFEST_COLUMNS, NULLABLE_INT_COLUMNS
from taxonomist.errors import DataError


def empty_manifest() -> pd.DataFrame:
    """A manifest with no rows and the right columns and types."""
    return to_manifest_types(pd.DataFrame({c: [] for c in MANIFEST_COLUMNS}))


def to_manifest_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Width and height as int64, the bbox as nullable Int64, every other column as text."""
    types = {c: _type_of(c) for c in frame.columns}
    return frame.astype(types)


def _type_of(column: str) -> str:
    if column in INT_COLUMNS:
        return "int64"
    return "Int64" if column in NULLABLE_INT_COLUMNS else "str"


def read_manifest(path: Path, columns: Sequence[str] = MANIFEST_COLUMNS) -> pd.DataFrame:
    """Read ``data/manifest.parquet``, checking that ``columns`` are there.

    Raises:
        DataError: the file is missing (ingest has not run) or lacks a column.
    """
    if not path.is_file():
        raise DataError(f"{path}: no manifest yet; run `taxonomist ingest` first")
    manifest = pd.read_parquet(path)
    require_columns(manifest, columns, str(path), "rerun `taxonomist ingest` to rewrite it")
    return manifest


def require_columns(frame: pd.DataFrame, columns: Sequence[str], where: str, fix: str) -> None:
    """Raise a DataError naming ``where`` and the missing columns, if any are missing.

    Args:
        frame: the table to check.
        columns: the columns it must have.
        where: the file (or other location) the table came from, for the message.
        fix: what the user should do about it.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(columns)}; found {found}); {fix}"
        )
