"""Sources: the folder source, its manifest CSV, and which source the config picks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from taxonomist.config import DataConfig, DataKind
from taxonomist.data import FolderSource, create_source, read_manifest_csv
from taxonomist.errors import DataError


def test_manifest_csv_values_are_read_verbatim() -> None:
    csv = b"path,label,source,set_id,taken_at\na.png,NA,,007,2024-01-02\n"
    row = read_manifest_csv(io.BytesIO(csv), "m.csv").iloc[0]
    assert (row["label"], row["source"], row["set_id"]) == ("NA", "", "007")


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (b"", r"m\.csv: the manifest CSV is empty"),
        (b"path,label\na.png,x\n", r"m\.csv: missing column\(s\) source, set_id, taken_at"),
        (b'path,label,source,set_id,taken_at\n"a.png,x\n', r"m\.csv: not a valid CSV"),
    ],
)
def test_unusable_manifest_csv_is_refused(csv: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_manifest_csv(io.BytesIO(csv), "m.csv")


@pytest.mark.parametrize("kind", [DataKind.sample, DataKind.folder])
def test_folder_kinds_read_the_folder_under_the_project(kind: DataKind, tmp_path: Path) -> None:
    source = create_source(DataConfig(kind=kind, root="data/in", manifest="list.csv"), tmp_path)
    assert isinstance(source, FolderSource)
    assert source.manifest == tmp_path / "data" / "in" / "list.csv"
    assert source.describe("a/b.png") == str(tmp_path / "data" / "in" / "a" / "b.png")


@pytest.mark.parametrize("path", ["../x.png", "/etc/hostname", "a/../../x.png"])
def test_folder_source_will_not_read_outside_its_folder(path: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="it must be relative to"):
        FolderSource(tmp_path, "m.csv").read_bytes(path)


def test_folder_source_reports_a_missing_file_as_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FolderSource(tmp_path, "m.csv").read_bytes("nope.png")
