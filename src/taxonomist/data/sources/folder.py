"""The folder source: images in a folder, listed by a CSV manifest beside them or, without
one, by their paths (a folder per class, as torchvision's ``ImageFolder`` expects)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pandas as pd

from taxonomist.data.sources.base import Source, outside_reason, read_manifest_csv
from taxonomist.data.sources.listing import Listing, is_listed
from taxonomist.errors import DataError


class FolderSource(Source):
    """A folder of images and a CSV manifest whose paths are relative to the folder.

    Args:
        root: the folder.
        manifest: the CSV's file name, relative to ``root``.
        listing: how to read rows from the paths when there is no such CSV; None: the
            CSV is required.

    Example:
        >>> FolderSource(Path("photos"), "manifest.csv", Listing.from_config(data))
    """

    def __init__(self, root: Path, manifest: str, listing: Listing | None = None) -> None:
        self.root = Path(root)
        self.manifest = self.root / manifest
        self._fallback = listing

    def __str__(self) -> str:
        return str(self.manifest)

    def entries(self) -> pd.DataFrame:
        if self.manifest.is_file():
            with self.manifest.open("rb") as csv:
                return read_manifest_csv(csv, str(self.manifest))
        if self._fallback is None:
            raise DataError(
                f"{self.manifest}: manifest CSV not found; for the sample data run "
                "`taxonomist sample`, for your own images set data.root and data.manifest "
                "in conf/data/folder.yaml"
            )
        self.listing = self._fallback
        return self.listing.rows(self._files())

    def _files(self) -> list[str]:
        """Every file under the folder (not hidden), relative to it; refuses an empty one."""
        if not self.root.is_dir():
            raise DataError(f"{self.root}: no such folder; set data.root (conf/data/folder.yaml"
                            ", or `taxonomist pipeline data=folder data.root=/path/to/images`)")
        files = [p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()]
        listed = [f for f in files if is_listed(PurePosixPath(f))]
        if not listed:
            raise DataError(f"{self.root}: no images, and no manifest CSV "
                            f"({self.manifest.name}); put the images in a folder per class "
                            "(root/<label>/...), or write the manifest CSV")
        return listed

    def read_bytes(self, path: str) -> bytes:
        reason = outside_reason(path)
        if reason:
            raise DataError(f"{path!r} {reason}; it must be relative to {self.root}")
        return (self.root / path).read_bytes()

    def describe(self, path: str) -> str:
        return str(self.root / path)

    def share_url(self, path: str, ttl_s: int) -> str:
        """A ``file://`` URL: for a worker on this machine (or a share mounted alike);
        it never expires."""
        return (self.root / path).resolve().as_uri()
