"""What every source is: a small base class, and the checks all sources share.

A source is a list of manifest rows plus a way to fetch the bytes each row points at.
Ingest does everything else (checking, hashing, storing), so a new kind of source, such
as an S3 bucket (:class:`~taxonomist.data.sources.s3.S3Source`), fills in two hooks and
inherits the same checks. This module imports no source: each source imports it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, ClassVar

import pandas as pd

from taxonomist.contracts.manifest import SOURCE_COLUMNS
from taxonomist.data.manifest import require_columns
from taxonomist.data.sources.listing import Listing
from taxonomist.errors import DataError


class Source(ABC):
    """Images plus a manifest describing them.

    Subclasses implement :meth:`entries` and :meth:`read_bytes`; a source that may lack a
    manifest CSV lists its files instead and sets :attr:`listing`, which
    :meth:`complete_row` applies to each row. :meth:`describe` and
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
    # set by entries() when the source has no manifest CSV and lists its files instead
    listing: Listing | None = None

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

    def complete_row(self, values: dict[str, str]) -> None:
        """Fill in a row that :meth:`entries` listed from a file, from what its path says.

        Rows of a manifest CSV are left as they are: the CSV wins. Ingest calls this on
        every row before its other checks.

        Raises:
            Rejected: the path says nothing usable (see :meth:`Listing.complete`).
        """
        if self.listing is not None:
            self.listing.complete(values)

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

    def share_url(self, path: str, ttl_s: int) -> str:
        """A URL a labelling worker's browser can open for ``path`` (a bucket: one that
        expires after ``ttl_s`` seconds); what a Mechanical Turk batch links to."""
        raise DataError(f"{self}: {type(self).__name__} cannot hand out image URLs")

    def storage_uri(self, path: str) -> str:
        """Where ``path`` lives, for a tool that fetches it itself (Label Studio presigns
        an ``s3://`` URI with its own credentials); the share URL unless overridden."""
        return self.share_url(path, 0)

    def __str__(self) -> str:
        """How to name the source's manifest in a message."""
        return type(self).__name__


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
