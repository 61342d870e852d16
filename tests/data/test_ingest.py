"""Ingest: every reject reason, content-addressed storage, idempotent reruns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from PIL import ImageFile

from taxonomist.config import Paths
from taxonomist.contracts.manifest import MANIFEST_COLUMNS
from taxonomist.data import FolderSource, ingest, parallel
from taxonomist.data.images import check_image
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder, image_bytes

PNG, OTHER_PNG = image_bytes(1), image_bytes(2)
JPEG = image_bytes(3, "JPEG", (32, 32))

# name: (rows as (path, label, bytes written there or None), kind, reason pattern).
# The last row is the one to reject; the rows before it are good.
REJECTS = {
    "truncated png": ([("a.png", "circle", PNG[: len(PNG) // 2])], "unreadable", "(?i)truncated"),
    "truncated jpeg": ([("a.jpg", "circle", JPEG[:-10])], "unreadable", "truncated"),
    "zero bytes": ([("a.png", "circle", b"")], "empty", r"empty \(0 bytes\)"),
    "text named .jpg": ([("a.jpg", "circle", b"not an image\n")], "unreadable", "not an image"),
    "dot-dot path": ([("../outside.png", "circle", PNG)], "bad_path", r"climbs out .* '\.\.'"),
    "absolute path": ([("{tmp}/outside.png", "circle", None)], "bad_path", "the path is absolute"),
    "missing file": ([("gone.png", "circle", None)], "missing", r"gone\.png: No such file"),
    "unknown label": ([("a.png", "circel", PNG)], "unknown_label", "did you mean 'circle'"),
    "duplicate bytes": (
        [("a.png", "circle", PNG), ("b.png", "circle", PNG)],
        "duplicate",
        "same bytes as 'a.png'",
    ),
    "same bytes, two labels": (
        [("a.png", "circle", PNG), ("b.png", "square", PNG)],
        "label_conflict",
        "'a.png', which is labelled 'circle', but this row says 'square'",
    ),
}


@pytest.mark.parametrize(("rows", "kind", "reason"), REJECTS.values(), ids=REJECTS.keys())
def test_rejects_a_bad_row_with_its_reason(
    rows, kind: str, reason: str, folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    (folder.root.parent / "outside.png").write_bytes(OTHER_PNG)
    for path, label, data in rows:
        folder.add(path.format(tmp=folder.root.parent), label, data)

    result = ingest(folder.source(), taxonomy, paths)

    assert (result.added, result.already_present, result.rejected) == (len(rows) - 1, 0, 1)
    rejects = pd.read_csv(paths.rejects, dtype=str, keep_default_na=False)
    assert rejects["kind"].tolist() == [kind]
    assert re.search(reason, rejects["reason"][0]), rejects["reason"][0]
    assert rejects["path"][0] not in set(pd.read_parquet(paths.manifest)["path"])


def test_unknown_label_without_close_match_lists_valid_labels(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "zebra", PNG)
    ingest(folder.source(), taxonomy, paths)
    reason = pd.read_csv(paths.rejects)["reason"][0]
    assert "label 'zebra' is not a class of taxonomy 'shapes'" in reason
    assert "valid labels include circle, oval, square, triangle" in reason


def test_truncated_images_stay_rejected_globally() -> None:
    # If anything flipped this, truncated images would be accepted with grey bottoms.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_stores_images_by_content_and_records_them(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("x/one.jpg", "round", PNG, set_id="s1", note="by the gate")  # a PNG named .jpg
    folder.add("x/two.png", "square", image_bytes(5, size=(6, 4)))

    ingest(folder.source(), taxonomy, paths)

    manifest = pd.read_parquet(paths.manifest)
    assert list(manifest.columns) == [*MANIFEST_COLUMNS, "note"]
    one, two = manifest.to_dict("records")
    assert one["stored"] == f"data/images/{one['id'][:2]}/{one['id']}.png"
    assert (paths.root / one["stored"]).read_bytes() == PNG
    assert (one["label"], one["set_id"], one["note"]) == ("round", "s1", "by the gate")
    assert (two["width"], two["height"]) == (6, 4)
    assert two["set_id"] == two["id"], "an image without a set is a set of its own"


def test_rerun_on_same_input_changes_nothing(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG)
    folder.add("b.png", "oval", OTHER_PNG)
    folder.add("c.png", "oval", b"")
    source = folder.source()
    ingest(source, taxonomy, paths)
    before = paths.manifest.read_bytes(), paths.manifest.stat().st_mtime_ns

    again = ingest(source, taxonomy, paths)

    assert (again.added, again.already_present, again.rejected) == (0, 2, 1)
    assert (paths.manifest.read_bytes(), paths.manifest.stat().st_mtime_ns) == before
    assert len(pd.read_csv(paths.rejects)) == 1, "rejects describe the last run"


def test_new_images_are_appended_and_old_bytes_under_new_path_are_duplicates(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG)
    ingest(folder.source(), taxonomy, paths)
    folder.add("b.png", "oval", OTHER_PNG)
    folder.add("copy-of-a.png", "circle", PNG)

    result = ingest(folder.source(), taxonomy, paths)

    assert (result.added, result.already_present, result.rejected) == (1, 1, 1)
    assert pd.read_parquet(paths.manifest)["path"].tolist() == ["a.png", "b.png"]
    assert "same bytes as 'a.png'" in pd.read_csv(paths.rejects)["reason"][0]


def test_nothing_is_dropped(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    for i in range(6):
        folder.add(f"good{i}.png", ["circle", "square"][i % 2], image_bytes(10 + i))
    folder.add("good0.png", "circle")  # listed twice: already present, not lost
    folder.add("dup.png", "circle", image_bytes(10))
    folder.add("bad.jpg", "circle", b"text")
    folder.add("missing.png", "square")
    folder.add("label.png", "hexagon", image_bytes(99))

    result = ingest(folder.source(), taxonomy, paths)

    assert result.added + result.already_present + result.rejected == len(folder.rows)
    assert (result.added, result.already_present, result.rejected) == (6, 1, 4)
    assert len(pd.read_parquet(paths.manifest)) == result.added
    assert len(pd.read_csv(paths.rejects)) == result.rejected
    assert result.summary() == (
        "ingest: 11 rows: 6 added, 1 already present, 4 rejected (1 duplicate, 1 missing, "
        "1 unknown_label, 1 unreadable); reasons in data/rejects.csv"
    )


def test_empty_input_still_writes_a_manifest(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    result = ingest(folder.source(), taxonomy, paths)
    assert result.summary() == "ingest: 0 rows: 0 added, 0 already present, 0 rejected"
    assert list(pd.read_parquet(paths.manifest).columns) == list(MANIFEST_COLUMNS)


@pytest.mark.parametrize(
    ("columns", "missing"),
    [
        (("path", "source", "set_id", "taken_at"), "label"),
        (("path", "label", "source"), "set_id, taken_at"),
    ],
)
def test_manifest_csv_without_a_required_column_is_refused(
    columns, missing: str, folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG)
    with pytest.raises(DataError, match=rf"incoming/manifest\.csv: missing column\(s\) {missing}"):
        ingest(folder.source(columns), taxonomy, paths)


def test_manifest_csv_with_a_computed_column_is_refused(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG, width="8")
    message = r"manifest\.csv: the manifest has column\(s\) width, which ingest computes"
    with pytest.raises(DataError, match=message):
        ingest(folder.source(), taxonomy, paths)


def test_missing_manifest_csv_says_how_to_make_one(
    tmp_path: Path, taxonomy: Taxonomy, paths: Paths
) -> None:
    with pytest.raises(DataError, match=r"nowhere/list\.csv: manifest CSV not found.*sample"):
        ingest(FolderSource(tmp_path / "nowhere", "list.csv"), taxonomy, paths)


def test_label_source_defaults_to_import(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG, label_source="expert")
    folder.add("b.png", "oval", OTHER_PNG, label_source=" ")
    ingest(folder.source(), taxonomy, paths)
    assert pd.read_parquet(paths.manifest)["label_source"].tolist() == ["expert", "import"]


def test_without_a_label_source_column_every_label_was_imported(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG)
    ingest(folder.source(), taxonomy, paths)
    assert pd.read_parquet(paths.manifest)["label_source"].tolist() == ["import"]


def box(x0: str, y0: str, x1: str, y1: str) -> dict[str, str]:
    return {"bbox_x0": x0, "bbox_y0": y0, "bbox_x1": x1, "bbox_y1": y1}


def test_a_bbox_is_stored_as_four_nullable_ints(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG, **box("1", "2", "8", "8"))
    folder.add("b.png", "oval", OTHER_PNG, **box("", "", "", ""))
    ingest(folder.source(), taxonomy, paths)
    manifest = pd.read_parquet(paths.manifest)
    boxes = manifest[["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]]
    assert all(str(dtype) == "Int64" for dtype in boxes.dtypes)
    assert boxes.iloc[0].tolist() == [1, 2, 8, 8]
    assert boxes.iloc[1].isna().all()


BAD_BOXES = {
    "partial": (box("1", "2", "", ""), r"has bbox_x0, bbox_y0 but bbox_x1, bbox_y1 blank"),
    "not a number": (box("1", "2", "3.5", "4"), r"bbox_x1 is '3\.5', expected a whole number"),
    "reversed": (box("5", "2", "3", "4"), r"\(5, 2, 3, 4\) is empty or reversed"),
    "outside": (box("0", "0", "9", "8"), r"\(0, 0, 9, 8\) is outside the 8x8 image"),
    "negative": (box("-1", "0", "4", "4"), r"outside the 8x8 image"),
}


@pytest.mark.parametrize(("cells", "reason"), BAD_BOXES.values(), ids=BAD_BOXES.keys())
def test_a_bad_bbox_is_rejected_naming_the_row(
    cells: dict[str, str], reason: str, folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("good.png", "circle", PNG)
    folder.add("boxed.png", "oval", OTHER_PNG, **cells)

    result = ingest(folder.source(), taxonomy, paths)

    assert (result.added, result.rejected) == (1, 1)
    reject = pd.read_csv(paths.rejects, dtype=str).iloc[0]
    assert (reject["kind"], reject["line"], reject["path"]) == ("bad_bbox", "3", "boxed.png")
    assert re.search(rf"boxed\.png: .*{reason}", reject["reason"]), reject["reason"]


def test_a_manifest_from_before_phash_and_provenance_is_upgraded(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG)
    ingest(folder.source(), taxonomy, paths)
    full = pd.read_parquet(paths.manifest)
    old = full[list(MANIFEST_COLUMNS[: MANIFEST_COLUMNS.index("stored") + 1])]
    old.to_parquet(paths.manifest, index=False)

    result = ingest(folder.source(), taxonomy, paths)

    assert (result.added, result.already_present) == (0, 1)
    upgraded = pd.read_parquet(paths.manifest)
    assert list(upgraded.columns) == list(MANIFEST_COLUMNS)
    assert upgraded.equals(full)


def test_a_journal_line_cut_short_by_a_crash_is_skipped(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    folder.add("a.png", "circle", PNG)
    folder.add("b.png", "oval", OTHER_PNG)
    ingest(folder.source(), taxonomy, paths)
    rows = pd.read_parquet(paths.manifest)
    paths.manifest.unlink()  # as if the run died before writing it
    journal = paths.data / ".manifest.journal.jsonl"
    first = rows.iloc[0].to_dict() | {f"bbox_{c}": None for c in ("x0", "y0", "x1", "y1")}
    journal.write_text(json.dumps({k: _plain(v) for k, v in first.items()}) + "\n"
                       + '{"id": "abc", "path": "b.p')

    result = ingest(folder.source(), taxonomy, paths)

    assert (result.added, result.already_present, result.resumed) == (1, 1, 1)
    assert pd.read_parquet(paths.manifest)["path"].tolist() == ["a.png", "b.png"]
    assert not journal.exists()


def _plain(value):
    return None if value is pd.NA else (value.item() if hasattr(value, "item") else value)


def test_an_interrupted_folder_ingest_keeps_what_it_stored(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        folder.add(f"{i}.png", "circle", image_bytes(40 + i))
    source = folder.source()
    reads = []

    def read_bytes(path: str) -> bytes:
        if len(reads) == 2:
            raise KeyboardInterrupt
        reads.append(path)
        return FolderSource.read_bytes(source, path)

    monkeypatch.setattr(source, "read_bytes", read_bytes)
    with pytest.raises(KeyboardInterrupt):
        ingest(source, taxonomy, paths)

    assert pd.read_parquet(paths.manifest)["path"].tolist() == ["0.png", "1.png"]
    result = ingest(folder.source(), taxonomy, paths)
    assert (result.added, result.already_present) == (2, 2)


def test_a_process_pool_records_the_same_as_one_process(
    folder: SourceFolder, taxonomy: Taxonomy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "POOL_FROM", 50)
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)  # a pool even on a one-core runner
    for i in range(120):
        folder.add(f"{i}.png", ["circle", "square"][i % 3 == 0], image_bytes(500 + i))
    folder.add("cut.jpg", "circle", JPEG[:-10])
    folder.add("copy.png", "square", image_bytes(501))  # bytes of 1.png, labelled circle
    folder.add("gone.png", "circle")
    pooled, single = Paths(tmp_path / "pooled"), Paths(tmp_path / "single")

    ingest(folder.source(), taxonomy, pooled)
    monkeypatch.setattr(parallel, "POOL_FROM", 10_000)
    ingest(folder.source(), taxonomy, single)

    for name in ("manifest", "rejects"):
        read = pd.read_parquet if name == "manifest" else pd.read_csv
        first, second = (read(getattr(p, name)) for p in (pooled, single))
        pd.testing.assert_frame_equal(first, second)
    assert len(pd.read_parquet(pooled.manifest)) == 120
    assert pd.read_csv(pooled.rejects)["kind"].tolist() == ["unreadable", "label_conflict",
                                                            "missing"]


def test_a_rerun_decodes_only_the_new_images(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        folder.add(f"{i}.png", "circle", image_bytes(700 + i))
    ingest(folder.source(), taxonomy, paths)
    folder.add("new.png", "square", image_bytes(799))
    folder.add("copy.png", "circle", image_bytes(700))  # recorded bytes under a new path
    decoded = []
    monkeypatch.setattr(parallel, "check_image",
                        lambda data, policy: decoded.append(data) or check_image(data, policy))

    result = ingest(folder.source(), taxonomy, paths)

    assert (result.added, result.already_present, result.rejected) == (1, 5, 1)
    assert decoded == [image_bytes(799)]
