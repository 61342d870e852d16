"""Where ingest reads images from: a small base class and the folder source.

A source is a list of manifest rows plus a way to fetch the bytes each row points at.
Ingest does everything else (checking, hashing, storing), so a new kind of source, such
as an S3 bucket (:class:`taxonomist.data.s3.S3Source`), fills in two hooks and inherits
the same checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, ClassVar

import pandas as pd

from taxonomist.config import DataConfig, DataKind
from taxonomist.data.manifest import SOURCE_COLUMNS, require_columns
from taxonomist.errors import ConfigError, DataError


class Source(ABC):
    """Images plus a manifest describing them.

    Subclasses implement :meth:`entries` and :meth:`read_bytes`; :meth:`describe` and
    ``__str__`` may be overridden so messages name an item (and the manifest) the way the
    user would find it. A bucket source, say, parses its CSV with
    ``read_manifest_csv(io.BytesIO(body), "s3://bucket/manifest.csv")`` and turns a
    missing key into ``FileNotFoundError``. A source whose reads are slow overrides
    :meth:`fetch_many` to fetch concurrently, and sets :attr:`refetch_recorded` to False.

    Attributes:
        refetch_recorded: whether ingest reads a row again when the manifest already has
            its path under its label, to notice bytes that changed in place. Cheap for a
            folder; a bucket source says False, so a rerun or a resumed run downloads only
            what is not stored yet (and a changed object needs a new key, or a ``sha256``
            column that says so).

    Example:
        >>> class InMemory(Source):
        ...     def __init__(self, rows, blobs):
        ...         self.rows, self.blobs = rows, blobs
        ...     def entries(self):
        ...         return self.rows
        ...     def read_bytes(self, path):
        ...         if path not in self.blobs:
        ...             raise FileNotFoundError(path)
        ...         return self.blobs[path]
    """

    refetch_recorded: ClassVar[bool] = True

    @abstractmethod
    def entries(self) -> pd.DataFrame:
        """The manifest rows, one per image.

        Returns:
            A table with at least the columns path, label, source, set_id and taken_at,
            all text (empty text where a value is unknown). Extra columns are kept in
            the manifest.

        Raises:
            DataError: the manifest is missing, unreadable or lacks a column.
        """

    @abstractmethod
    def read_bytes(self, path: str) -> bytes:
        """The bytes of the image that a manifest row's ``path`` names.

        Raises:
            FileNotFoundError: nothing exists at ``path``; ingest rejects the row.
            OSError: it exists but cannot be read; ingest rejects the row.
        """

    def fetch_many(self, paths: Sequence[str]) -> Iterator[tuple[str, bytes | OSError]]:
        """The bytes of each of ``paths``, in the same order, one ``read_bytes`` at a time.

        A row's own failure (``FileNotFoundError``, ``OSError``) is yielded in place of its
        bytes, so ingest can reject that row and go on; anything else (a
        :class:`~taxonomist.errors.DataError` for a server that stopped answering, say)
        is raised and ends the run, keeping what was stored so far.

        Yields:
            ``(path, bytes or the OSError)`` for each path, in order.
        """
        for path in paths:
            try:
                yield path, self.read_bytes(path)
            except OSError as err:
                yield path, err

    def describe(self, path: str) -> str:
        """How to name the item at ``path`` in a message, e.g. its full file name."""
        return path

    def __str__(self) -> str:
        """How to name the source's manifest in a message."""
        return type(self).__name__


class FolderSource(Source):
    """A folder of images and a CSV manifest whose paths are relative to the folder.

    Args:
        root: the folder.
        manifest: the CSV's file name, relative to ``root``.
    """

    def __init__(self, root: Path, manifest: str) -> None:
        self.root = Path(root)
        self.manifest = self.root / manifest

    def __str__(self) -> str:
        return str(self.manifest)

    def entries(self) -> pd.DataFrame:
        if not self.manifest.is_file():
            raise DataError(
                f"{self.manifest}: manifest CSV not found; for the sample data run "
                "`taxonomist sample`, for your own images set data.root and data.manifest "
                "in conf/data/folder.yaml"
            )
        with self.manifest.open("rb") as csv:
            return read_manifest_csv(csv, str(self.manifest))

    def read_bytes(self, path: str) -> bytes:
        reason = outside_reason(path)
        if reason:
            raise DataError(f"{path!r} {reason}; it must be relative to {self.root}")
        return (self.root / path).read_bytes()

    def describe(self, path: str) -> str:
        return str(self.root / path)


def read_manifest_csv(csv: IO[bytes] | Path, where: str) -> pd.DataFrame:
    """Parse a source's manifest CSV: every value as text, required columns checked.

    Values are read verbatim: ``NA`` stays the text "NA" and an empty cell is "", so a
    class called "None" survives and nothing turns into a float.

    Args:
        csv: the open file (or its path).
        where: how to name it in messages, e.g. ``data/sample/manifest.csv``.

    Raises:
        DataError: the CSV is empty, malformed, or lacks one of the required columns.
    """
    try:
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: the manifest CSV is empty; it needs a header row") from None
    except pd.errors.ParserError as err:
        raise DataError(f"{where}: not a valid CSV file: {err}") from None
    require_columns(
        frame,
        SOURCE_COLUMNS,
        where,
        "add the missing column(s) to the header row (a value may be empty)",
    )
    return frame


def outside_reason(path: str) -> str | None:
    """Why ``path`` may point outside the source's folder, or None when it cannot.

    Example:
        >>> outside_reason("../secrets.png")
        "climbs out of the folder with '..'"
    """
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute():
        return "is absolute"
    if ".." in posix.parts:
        return "climbs out of the folder with '..'"
    return None


def source_for(data: DataConfig, project_root: Path) -> Source:
    """The source that ``conf/data/*.yaml`` describes.

    ``sample`` and ``folder`` read a folder: the one ``taxonomist sample`` writes, or the
    user's own; ``data.root`` is relative to the project root (or absolute). ``s3`` reads
    ``s3://data.bucket/data.prefix``, with the manifest at ``data.manifest`` under the
    prefix.

    Raises:
        ConfigError: ``s3`` without a bucket, or fewer than one worker or attempt.
    """
    if data.kind is not DataKind.s3:
        return FolderSource(project_root / data.root, data.manifest)
    from taxonomist.data.s3 import S3Source, join_key  # boto3 only when a bucket is used

    _check_s3_config(data)
    return S3Source(
        data.bucket,
        data.prefix,
        join_key(data.prefix, data.manifest),
        endpoint_url=data.endpoint_url,
        region=data.region,
        workers=data.workers,
        max_attempts=data.max_attempts,
        read_timeout=data.read_timeout,
    )


def _check_s3_config(data: DataConfig) -> None:
    file = "conf/data/s3.yaml"
    if not data.bucket:
        raise ConfigError(file, "bucket", "expected a bucket name, got none",
                          "e.g. `taxonomist pipeline data=s3 data.bucket=my-photos`")
    if data.bucket.startswith("s3://") or "/" in data.bucket:
        raise ConfigError(file, "bucket", f"expected a bare bucket name, got {data.bucket!r}",
                          "put the part after the bucket name in data.prefix")
    for key in ("workers", "max_attempts"):
        if getattr(data, key) < 1:
            raise ConfigError(file, key, f"expected at least 1, got {getattr(data, key)}")
