"""The folder source: images in a folder, listed by a CSV manifest beside them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from taxonomist.data.sources.base import Source, outside_reason, read_manifest_csv
from taxonomist.errors import DataError


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
