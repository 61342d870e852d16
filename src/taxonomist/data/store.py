"""What ingest writes: content-addressed images, the manifest, and the journal between them.

Each accepted image is written under its sha256 first, then its manifest row is appended
to a journal beside the manifest (``data/.manifest.journal.jsonl``); the manifest itself
is rewritten atomically once, when the run ends. A run that dies halfway (Ctrl-C, a lost
connection, a killed machine) leaves the old manifest intact plus a journal of every image
stored since, and the next run folds the journal in: nothing stored is lost, and a source
that skips recorded rows (S3) does not download them again.

Corrections to recorded images (:meth:`Store.correct`) are not journalled: they cost no
download, and a run killed before :meth:`Store.save` finds them again in the source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import pandas as pd
from PIL import Image

from taxonomist.config import Paths
from taxonomist.contracts.manifest import BBOX_COLUMNS, CORRECTABLE_COLUMNS, MANIFEST_COLUMNS
from taxonomist.data.images import perceptual_hash
from taxonomist.data.manifest import (
    empty_manifest,
    require_columns,
    to_manifest_types,
    write_atomic,
)
from taxonomist.data.pixels import to_rgb
from taxonomist.data.rows import DEFAULT_LABEL_SOURCE
from taxonomist.errors import DataError

JOURNAL_NAME = ".manifest.journal.jsonl"
# What the store keeps in memory of each recorded image, to compare a re-ingested row with.
_KEPT = ("path", *CORRECTABLE_COLUMNS)
# What a manifest written before phash, label_source and bbox existed still has.
_FIRST_COLUMNS = MANIFEST_COLUMNS[: MANIFEST_COLUMNS.index("stored") + 1]


class Store:
    """The manifest so far (the journal of an interrupted run included) and the image store.

    Args:
        paths: the project layout; reads and writes ``manifest``, ``images`` and the
            journal beside the manifest.

    Attributes:
        resumed: rows recovered from the journal of an interrupted run.
    """

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.journal = paths.manifest.with_name(JOURNAL_NAME)
        self._old, upgraded = _existing_manifest(paths)
        self._new: list[dict[str, Any]] = []
        self._fixes: dict[str, dict[str, str]] = {}  # id -> corrected column -> value
        self._by_id = {row["id"]: row for row in self._old[["id", *_KEPT]].to_dict("records")}
        self._by_path = {row["path"]: image_id for image_id, row in self._by_id.items()}
        self._dirty = upgraded or not paths.manifest.is_file()
        journal = _journal_rows(self.journal, paths.root)
        recovered = [row for row in journal if row["id"] not in self._by_id]
        for row in recovered:
            self._remember(row)
        self.resumed = len(recovered)
        self._log: IO[str] | None = None

    @property
    def added(self) -> int:
        """Rows recorded by this run (those recovered from a journal not counted)."""
        return len(self._new) - self.resumed

    @property
    def corrected(self) -> int:
        """Recorded images whose values this run changed."""
        return len(self._fixes)

    def by_id(self, image_id: str) -> dict[str, str] | None:
        """The path and :data:`CORRECTABLE_COLUMNS` recorded for these bytes, or None."""
        return self._by_id.get(image_id)

    def id_at(self, path: str) -> str | None:
        """The id recorded under this path (the last one), or None."""
        return self._by_path.get(path)

    def put(self, data: bytes, image_id: str, extension: str) -> str:
        """Write the bytes under their hash (once) and return that path, project-relative."""
        dest = self.paths.images / image_id[:2] / f"{image_id}{extension}"
        if not dest.is_file():
            write_atomic(dest, lambda tmp: tmp.write_bytes(data))
        return dest.relative_to(self.paths.root).as_posix()

    def record(self, row: dict[str, Any]) -> None:
        """Add a manifest row for a stored image; it is in the journal when this returns."""
        if self._log is None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.journal.open("a", encoding="utf-8")
        self._log.write(json.dumps(row) + "\n")
        self._log.flush()
        self._remember(row)

    def correct(self, image_id: str, values: dict[str, str]) -> None:
        """Change some of :data:`CORRECTABLE_COLUMNS` of a recorded image; written by
        :meth:`save`."""
        self._by_id[image_id] = {**self._by_id[image_id], **values}
        self._fixes.setdefault(image_id, {}).update(values)
        self._dirty = True

    def save(self) -> None:
        """Write the manifest (atomically) when anything changed, then drop the journal."""
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dirty:
            combined = _corrected(_combined(self._old, self._new), self._fixes)
            write_atomic(self.paths.manifest, lambda tmp: combined.to_parquet(tmp, index=False))
            self._dirty = False
        self.journal.unlink(missing_ok=True)

    def _remember(self, row: dict[str, Any]) -> None:
        self._new.append(row)
        self._by_id[row["id"]] = {c: str(row.get(c) or "") for c in _KEPT}
        self._by_path[row["path"]] = row["id"]
        self._dirty = True


def _corrected(manifest: pd.DataFrame, fixes: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The manifest with each corrected image's new values in its own row."""
    row_of = dict(zip(manifest["id"], manifest.index, strict=True))
    for image_id, values in fixes.items():
        for column, value in values.items():
            manifest.at[row_of[image_id], column] = value
    return manifest


def _combined(old: pd.DataFrame, new: list[dict[str, Any]]) -> pd.DataFrame:
    parts = [frame for frame in (old, pd.DataFrame(new)) if len(frame)] or [old]
    combined = pd.concat(parts, ignore_index=True)
    extra = [c for c in combined.columns if c not in MANIFEST_COLUMNS]
    combined = combined[list(MANIFEST_COLUMNS) + extra]
    text = [c for c in combined.columns if c not in BBOX_COLUMNS]
    combined[text] = combined[text].fillna("")
    return to_manifest_types(combined)


def _existing_manifest(paths: Paths) -> tuple[pd.DataFrame, bool]:
    """The manifest on disk (empty if none) and whether it had to be upgraded."""
    if not paths.manifest.is_file():
        return empty_manifest(), False
    manifest = pd.read_parquet(paths.manifest)
    fix = "restore it with `dvc checkout data/manifest.parquet`, or delete it to start over"
    require_columns(manifest, _FIRST_COLUMNS, str(paths.manifest), fix)
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if not missing:
        return manifest, False
    return to_manifest_types(_upgraded(manifest, paths)), True


def _upgraded(manifest: pd.DataFrame, paths: Paths) -> pd.DataFrame:
    """A manifest from before label_source, bbox, phash, excluded and the label's workers
    and agreement, with them filled in.

    Labels were imported (by no known number of people), no box was known, nothing was
    excluded, and the pHash (and the upright size) come from the stored images, which are
    local.
    """
    manifest = manifest.copy()
    if "label_source" not in manifest.columns:
        manifest["label_source"] = DEFAULT_LABEL_SOURCE
    for column in ("excluded", "label_workers", "label_agreement"):
        if column not in manifest.columns:
            manifest[column] = ""
    for column in BBOX_COLUMNS:
        if column not in manifest.columns:
            manifest[column] = pd.array([None] * len(manifest), dtype="Int64")
    if "phash" not in manifest.columns:
        measured = [_measure(paths.root / stored) for stored in manifest["stored"]]
        manifest["width"] = [m[0] for m in measured]
        manifest["height"] = [m[1] for m in measured]
        manifest["phash"] = [m[2] for m in measured]
    extra = [c for c in manifest.columns if c not in MANIFEST_COLUMNS]
    return manifest[list(MANIFEST_COLUMNS) + extra]


def _measure(file: Path) -> tuple[int, int, str]:
    try:
        with Image.open(file) as image:
            rgb = to_rgb(image)
    except FileNotFoundError:
        raise DataError(f"{file}: stored image is missing; restore it with "
                        "`dvc checkout data/images`, then rerun `taxonomist ingest`") from None
    return rgb.width, rgb.height, perceptual_hash(rgb)


def _journal_rows(journal: Path, root: Path) -> list[dict[str, Any]]:
    """Rows an interrupted run journalled whose image is really stored.

    A line cut short by a crash does not parse and is skipped; so is a row whose image
    file is missing (the journal line is written only after the image, but a disk may
    lose both).
    """
    if not journal.is_file():
        return []
    rows = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        complete = isinstance(row, dict) and all(k in row for k in ("id", "path", "label"))
        if complete and (root / str(row.get("stored", ""))).is_file():
            rows.append(row)
    return rows


def read_stored(file: Path) -> Image.Image:
    """A stored image, decoded upright RGB (:func:`to_rgb`): what the cache and the detector
    see of it.

    Raises:
        DataError: the file is missing or no longer decodes, with how to restore it.
    """
    try:
        with Image.open(file) as image:
            return to_rgb(image)
    except FileNotFoundError:
        raise DataError(
            f"{file}: stored image is missing; restore it with `dvc checkout data/images` "
            "or rerun `taxonomist ingest`"
        ) from None
    except OSError as err:
        raise DataError(
            f"{file}: cannot decode the stored image ({err}); it was readable at ingest, "
            "so the store is damaged: restore it with `dvc checkout data/images`"
        ) from None
