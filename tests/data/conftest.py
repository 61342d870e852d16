"""Tiny image folders made in the test, and the taxonomy they are labelled with."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from taxonomist.config import Paths
from taxonomist.contracts.manifest import SOURCE_COLUMNS
from taxonomist.data import FolderSource
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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (a real HTTP endpoint), for the whole test session."""
    from tests.data.s3_server import start_moto  # moto only for the tests that use it

    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials in the environment, and no other place boto3 could find real ones."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
