"""Tiny image folders made in the test, and the taxonomy they are labelled with."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from taxonomist.config import Paths
from taxonomist.data import SOURCE_COLUMNS, FolderSource
from taxonomist.taxonomy import Taxonomy


def image_bytes(seed: int, fmt: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    """A small image of random pixels: a different seed gives different bytes."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


class SourceFolder:
    """A source folder being filled in by a test: files plus manifest CSV rows."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rows: list[dict[str, str]] = []
        root.mkdir(parents=True, exist_ok=True)

    def add(
        self, path: str, label: str, data: bytes | None = None, set_id: str = "", **extra: str
    ) -> None:
        """List ``path`` in the manifest; write ``data`` there unless it is None."""
        if data is not None:
            file = self.root / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(data)
        row = {"path": path, "label": label, "source": "cam", "set_id": set_id,
               "taken_at": "2024-05-01"}
        self.rows.append(row | extra)

    def source(self, columns: tuple[str, ...] = SOURCE_COLUMNS) -> FolderSource:
        """Write manifest.csv (with only ``columns`` plus extras) and return the source."""
        extra = [k for row in self.rows for k in row if k not in SOURCE_COLUMNS]
        fields = list(columns) + list(dict.fromkeys(extra))
        with (self.root / "manifest.csv").open("w", newline="") as out:
            writer = csv.DictWriter(out, fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)
        return FolderSource(self.root, "manifest.csv")


@pytest.fixture
def taxonomy() -> Taxonomy:
    return Taxonomy.from_tree(
        "shapes", {"shape": {"round": ["circle", "oval"], "angular": ["square", "triangle"]}}
    )


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "project")


@pytest.fixture
def folder(tmp_path: Path) -> SourceFolder:
    return SourceFolder(tmp_path / "incoming")
