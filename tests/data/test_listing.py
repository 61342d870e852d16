"""Sources without a hand-written manifest: a folder per class, rows read from the paths,
taken_at from EXIF, dates checked; and on S3, a prefix per class (moto's server)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from PIL import ExifTags, Image

from taxonomist.config import DataConfig, DataKind, Paths
from taxonomist.data import FolderSource, ingest
from taxonomist.data.sources import Listing, create_source
from taxonomist.errors import ConfigError, DataError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder, image_bytes
from tests.data.test_s3 import Bucket, boto_session, bucket  # noqa: F401 (fixtures)

SETS = r"(?P<label>[^/]+)/(?P<set_id>[^_]+)_.*"


def photo(seed: int, taken: str | None = None, offset: str | None = None) -> bytes:
    """A JPEG with EXIF DateTimeOriginal ``taken`` (and OffsetTimeOriginal) when given."""
    image = Image.open(io.BytesIO(image_bytes(seed)))
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = offset
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def put(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


def listed(root: Path, pattern: str = DataConfig.path_pattern) -> FolderSource:
    data = DataConfig(kind=DataKind.folder, root=str(root), path_pattern=pattern)
    return create_source(data, Path("/"))


def manifest(paths: Paths) -> pd.DataFrame:
    return pd.read_parquet(paths.manifest).set_index("path")


def rejects(paths: Paths) -> pd.DataFrame:
    return pd.read_csv(paths.rejects, dtype=str, keep_default_na=False).set_index("path")


def test_a_folder_per_class_needs_no_manifest(
    tmp_path: Path, taxonomy: Taxonomy, paths: Paths
) -> None:
    root = tmp_path / "photos"
    put(root, {"circle/a.png": image_bytes(1), "square/b/c.jpg": photo(2),
               "circle/.thumb.png": image_bytes(3), ".git/x.png": image_bytes(4)})
    result = ingest(listed(root), taxonomy, paths)
    assert (result.added, result.rejected) == (2, 0)  # hidden files are not listed
    rows = manifest(paths)
    assert rows["label"].to_dict() == {"circle/a.png": "circle", "square/b/c.jpg": "square"}
    assert (rows["set_id"] == rows["id"]).all()  # no set in the path: a set of its own


def test_a_pattern_reads_the_set_and_rejects_what_it_does_not_match(
    tmp_path: Path, taxonomy: Taxonomy, paths: Paths
) -> None:
    root = tmp_path / "photos"
    put(root, {"circle/car7_1.png": image_bytes(1), "circle/car7_2.png": image_bytes(2),
               "square/loose.png": image_bytes(3), "notes.txt": b"hello",
               "hexagon/h_1.png": image_bytes(4)})
    result = ingest(listed(root, SETS), taxonomy, paths)
    assert result.added == 2
    assert manifest(paths)["set_id"].tolist() == ["car7", "car7"]
    found = rejects(paths)
    assert found["kind"].to_dict() == {
        "hexagon/h_1.png": "unknown_label", "notes.txt": "format", "square/loose.png": "no_match"}
    assert found.loc["square/loose.png", "reason"].startswith(
        f"{root / 'square' / 'loose.png'}: the path does not match data.path_pattern")


def test_a_manifest_csv_when_present_wins(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("circle/a.png", "oval", image_bytes(1), set_id="s1")
    folder.source()  # writes manifest.csv
    ingest(listed(folder.root, SETS), taxonomy, paths)
    row = manifest(paths).loc["circle/a.png"]
    assert (row["label"], row["set_id"], row["taken_at"]) == ("oval", "s1", "2024-05-01")


@pytest.mark.parametrize(
    ("taken", "offset", "expected"),
    [
        ("2024:05:17 14:03:09", None, "2024-05-17T14:03:09"),
        ("2024:05:17 14:03:09", "+02:00", "2024-05-17T14:03:09+02:00"),
        ("0000:00:00 00:00:00", None, ""),  # the camera's clock was never set
        ("    :  :     :  :  ", None, ""),  # EXIF's own way to say "unknown"
        (None, None, ""),
    ],
)
def test_taken_at_comes_from_exif_when_nothing_else_gives_it(
    tmp_path: Path, taxonomy: Taxonomy, paths: Paths, taken, offset, expected
) -> None:
    put(tmp_path / "photos", {"circle/a.jpg": photo(1, taken, offset)})
    ingest(listed(tmp_path / "photos"), taxonomy, paths)
    assert manifest(paths).loc["circle/a.jpg", "taken_at"] == expected


def test_a_csv_taken_at_wins_over_exif(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.jpg", "circle", photo(1, "2020:01:01 00:00:00"), taken_at="2024-06-30")
    folder.add("b.jpg", "circle", photo(2, "2020:01:01 00:00:00"), taken_at="")
    ingest(folder.source(), taxonomy, paths)
    assert manifest(paths)["taken_at"].to_dict() == {
        "a.jpg": "2024-06-30", "b.jpg": "2020-01-01T00:00:00"}


@pytest.mark.parametrize(
    ("csv_date", "exif_date", "message"),
    [
        ("31/02/2024", None, r"taken_at '31/02/2024' is not a date; expected ISO 8601"),
        ("2024-02-30", None, r"taken_at '2024-02-30' is not a date"),
        ("today", None, r"taken_at 'today' is not a date"),
        ("", "2024:13:45 10:00:00", r"EXIF DateTimeOriginal '2024:13:45 10:00:00' is not a date"),
        ("", "last tuesday", r"EXIF DateTimeOriginal 'last tuesday' is not a date"),
    ],
)
def test_an_unreadable_date_is_a_reject_naming_the_file(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths, csv_date, exif_date, message
) -> None:
    folder.add("a.jpg", "circle", photo(1, exif_date), taken_at=csv_date)
    result = ingest(folder.source(), taxonomy, paths)
    assert (result.added, result.rejected_by_kind) == (0, {"bad_date": 1})
    reason = rejects(paths).loc["a.jpg", "reason"]
    assert reason.startswith(f"{folder.root / 'a.jpg'}: ")
    assert pd.Series([reason]).str.contains(message).all()


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(?P<label>[^/]+", r"conf/data/folder.yaml: path_pattern: not a regular expression"),
        ("([^/]+)/.+", r"path_pattern: has no \(\?P<label>...\) group"),
        ("(?P<label>[^/]+)/(?P<car>.+)",
         r"path_pattern: unknown group\(s\) car\n.*may name: label, set_id"),
    ],
)
def test_a_bad_path_pattern_is_a_config_error(pattern: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Listing.from_config(DataConfig(kind=DataKind.folder, path_pattern=pattern))


def test_an_empty_or_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"photos: no such folder; set data.root"):
        listed(tmp_path / "photos").entries()
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match=r"photos: no images, and no manifest CSV"):
        listed(tmp_path / "photos").entries()


def test_the_sample_still_requires_its_manifest(tmp_path: Path) -> None:
    source = create_source(DataConfig(kind=DataKind.sample, root=str(tmp_path)), Path("/"))
    with pytest.raises(DataError, match="manifest CSV not found; for the sample data run"):
        source.entries()


@pytest.mark.usefixtures("aws_env")
def test_a_prefix_per_class_on_s3_needs_no_manifest(
    bucket: Bucket, taxonomy: Taxonomy, paths: Paths  # noqa: F811 (the imported fixture)
) -> None:
    bucket.put("photos/circle/car1_a.jpg", photo(1, "2024:05:17 14:03:09"))
    bucket.put("photos/circle/car1_b.jpg", photo(2))
    bucket.put("photos/square/car2_a.png", image_bytes(3))
    bucket.put("photos/square/stray.png", image_bytes(4))
    bucket.put("elsewhere/circle/x_1.png", image_bytes(5))  # outside the prefix
    listing = Listing.from_config(DataConfig(kind=DataKind.s3, path_pattern=SETS))
    result = ingest(bucket.source(listing=listing), taxonomy, paths)
    assert (result.added, result.rejected_by_kind) == (3, {"no_match": 1})
    rows = manifest(paths)
    assert rows[["label", "set_id"]].to_dict("index") == {
        "circle/car1_a.jpg": {"label": "circle", "set_id": "car1"},
        "circle/car1_b.jpg": {"label": "circle", "set_id": "car1"},
        "square/car2_a.png": {"label": "square", "set_id": "car2"},
    }
    assert rows.loc["circle/car1_a.jpg", "taken_at"] == "2024-05-17T14:03:09"
    assert rejects(paths).loc["square/stray.png", "reason"].startswith(
        f"s3://{bucket.name}/photos/square/stray.png: the path does not match")
    rerun = ingest(bucket.source(listing=listing), taxonomy, paths)
    assert (rerun.added, rerun.already_present) == (0, 3)


@pytest.mark.usefixtures("aws_env")
def test_an_s3_manifest_when_present_wins(
    bucket: Bucket, taxonomy: Taxonomy, paths: Paths  # noqa: F811
) -> None:
    bucket.put("photos/circle/car1_a.png", image_bytes(1))
    bucket.put_manifest([{"path": "circle/car1_a.png", "label": "oval", "source": "cam",
                          "set_id": "", "taken_at": ""}])
    listing = Listing.from_config(DataConfig(kind=DataKind.s3, path_pattern=SETS))
    ingest(bucket.source(listing=listing), taxonomy, paths)
    row = manifest(paths).loc["circle/car1_a.png"]
    assert row["label"] == "oval" and row["set_id"] == row["id"]
