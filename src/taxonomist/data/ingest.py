"""Ingest: check each image a source lists, store the good ones content-addressed.

Every input row ends up in exactly one place: added to ``data/manifest.parquet``, counted
as already present (an earlier run stored it), or written to ``data/rejects.csv`` with the
reason. Nothing is dropped silently, and rerunning on the same input changes nothing.

A run that stops halfway (Ctrl-C, a server that stopped answering, a killed machine)
keeps every image it stored: the manifest is written when the run ends, however it
ends, and a journal covers a run killed outright (:mod:`taxonomist.data.store`). The next
run picks up where it stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field

import pandas as pd
from tqdm import tqdm

from taxonomist.config import Paths
from taxonomist.data.images import ImagePolicy
from taxonomist.data.parallel import Inspection, inspected
from taxonomist.data.rejects import Rejected, write_rejects
from taxonomist.data.rows import (
    Bbox,
    bbox_columns,
    check_bbox_inside,
    check_label,
    check_path,
    label_source,
    parse_bbox,
)
from taxonomist.data.sources.base import Source
from taxonomist.data.store import Store
from taxonomist.data.taken_at import check_taken_at, exif_taken_at
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy

# Columns ingest computes; a source's manifest may not bring its own.
_COMPUTED = ("id", "width", "height", "stored", "phash")


@dataclass(frozen=True)
class IngestResult:
    """What one ingest run did with its input rows.

    Attributes:
        added: new images stored and recorded in the manifest.
        already_present: rows whose path and bytes an earlier run already recorded.
        rejected: rows written to the rejects CSV.
        rejected_by_kind: ``rejected`` broken down by kind (duplicate, unreadable, ...).
        rejects_file: where the rejected rows and their reasons are.
        resumed: images an interrupted run had stored, recorded by this one.
    """

    added: int
    already_present: int
    rejected: int
    rejected_by_kind: dict[str, int] = field(default_factory=dict)
    rejects_file: str = ""
    resumed: int = 0

    def summary(self) -> str:
        """One line for the terminal, e.g. ``ingest: 10 rows: 8 added, ...``."""
        total = self.added + self.already_present + self.rejected
        line = (
            f"ingest: {total} rows: {self.added} added, "
            f"{self.already_present} already present, {self.rejected} rejected"
        )
        if self.rejected:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.rejected_by_kind.items()))
            line = f"{line} ({kinds}); reasons in {self.rejects_file}"
        if self.resumed:
            line = f"{line}; {self.resumed} images stored by an interrupted run recovered"
        return line


@dataclass
class _Row:
    """One row of the source's manifest, as text, with its line in the CSV."""

    line: int
    values: dict[str, str]
    bbox: Bbox | None = None

    @property
    def path(self) -> str:
        return self.values["path"]


def ingest(
    source: Source, taxonomy: Taxonomy, paths: Paths, policy: ImagePolicy | None = None
) -> IngestResult:
    """Check, store and record every image that ``source`` lists.

    A row is rejected when its path is absolute or climbs out with '..', its label is not
    a class of ``taxonomy`` (a leaf or an inner node), its bbox is malformed or outside
    the image, the file is missing or empty, its bytes do not match a ``sha256`` column,
    it is not an accepted format, too large, or not decodable (``policy``), or its bytes
    are already in the manifest under another path (a duplicate) or another label (a
    label conflict), or its ``taken_at`` (or, when that is empty, its EXIF
    DateTimeOriginal) is not a date. A row with an empty ``set_id`` becomes a set of its
    own (its ``id``); one without ``label_source`` gets ``import``. A source without a
    manifest CSV fills each row in from its path first (``Source.complete_row``).

    Args:
        source: where the manifest rows and image bytes come from.
        taxonomy: the classes a label may name.
        paths: the project layout; writes ``images/``, ``manifest`` and ``rejects``.
        policy: accepted formats and the largest size; the defaults when None.

    Returns:
        The counts; ``added + already_present + rejected`` is the number of input rows.

    Raises:
        DataError: the source's manifest or the existing manifest is unusable as a whole,
            or the source failed beyond its retries (what was stored is kept).
    """
    entries = _checked_entries(source)
    store = Store(paths)
    run = _Run(source, taxonomy, policy or ImagePolicy(), store)
    try:
        run.ingest(entries)
    finally:  # however the run ends, what it stored is recorded
        store.save()
        write_rejects(run.rejects, paths)
    kinds = Counter(r["kind"] for r in run.rejects)
    rel = paths.rejects.relative_to(paths.root).as_posix()
    return IngestResult(store.added, run.already, len(run.rejects), dict(kinds), rel,
                        store.resumed)


def _checked_entries(source: Source) -> pd.DataFrame:
    entries = source.entries()
    clash = [c for c in _COMPUTED if c in entries.columns]
    if clash:
        raise DataError(
            f"{source}: the manifest has column(s) {', '.join(clash)}, which ingest "
            "computes itself; rename or remove them"
        )
    return entries.fillna("").astype(str)


class _Run:
    """One pass over the entries: checks first, then bytes, in manifest order."""

    def __init__(
        self, source: Source, taxonomy: Taxonomy, policy: ImagePolicy, store: Store
    ) -> None:
        self.source, self.taxonomy, self.policy, self.store = source, taxonomy, policy, store
        self.rejects: list[dict[str, str]] = []
        self.already = 0

    def ingest(self, entries: pd.DataFrame) -> None:
        rows = [_Row(i + 2, values) for i, values in enumerate(entries.to_dict("records"))]
        wanted = [row for row in rows if self._wants_bytes(row)]
        fetched = self.source.fetch_many([row.path for row in wanted])
        checked = inspected(fetched, self.policy, len(wanted), self._recorded_before)
        bar = tqdm(checked, total=len(wanted), desc="ingest", unit="img")
        with closing(fetched), closing(checked), bar as progress:
            for row, (path, result, inspection) in zip(wanted, progress, strict=True):
                if path != row.path:
                    raise RuntimeError(f"{type(self.source).__name__}.fetch_many returned "
                                       f"{path!r} where {row.path!r} was due: out of order")
                self._guarded(self._accept, row, result, inspection)

    def _wants_bytes(self, row: _Row) -> bool:
        """Run the checks that need no bytes; False when the row is settled without them."""
        return self._guarded(self._precheck, row) is True

    def _precheck(self, row: _Row) -> bool:
        check_path(row.path)
        self.source.complete_row(row.values)
        check_label(row.values["label"], self.taxonomy)
        row.values["taken_at"] = check_taken_at(row.values["taken_at"])
        row.bbox = parse_bbox(row.values)
        if self._recorded_unchanged(row):
            self.already += 1
            return False
        return True

    def _recorded_unchanged(self, row: _Row) -> bool:
        """Whether the manifest has this path under this label and the source says to trust
        it without reading the bytes again (a bucket: no download on a rerun or resume)."""
        recorded = self.store.by_path(row.path)
        if self.source.refetch_recorded or recorded is None:
            return False
        image_id, label = recorded
        expected = row.values.get("sha256", "").strip().lower()
        return label == row.values["label"] and expected in ("", image_id)

    def _recorded_before(self, image_id: str) -> bool:
        """Whether the manifest has these bytes: they were checked when recorded."""
        return self.store.by_id(image_id) is not None

    def _accept(self, row: _Row, result: bytes | OSError, inspection: Inspection | None) -> None:
        data = _bytes(result)
        image_id = inspection.sha256
        _check_sha256(row, image_id)
        if self._already_recorded(image_id, row):
            self.already += 1
            return
        image = inspection.checked()
        check_bbox_inside(row.bbox, image.width, image.height)
        stored = self.store.put(data, image_id, image.extension)
        computed = {"id": image_id, "set_id": row.values["set_id"] or image_id,
                    "taken_at": row.values["taken_at"] or exif_taken_at(data),
                    "width": image.width, "height": image.height, "stored": stored,
                    "phash": image.phash, "label_source": label_source(row.values)}
        self.store.record({**row.values, **bbox_columns(row.bbox), **computed})

    def _already_recorded(self, image_id: str, row: _Row) -> bool:
        """True when these bytes are recorded under this path and label already.

        Raises:
            Rejected: the bytes are recorded under another label or another path.
        """
        recorded = self.store.by_id(image_id)
        if recorded is None:
            return False
        other_path, other_label = recorded
        label = row.values["label"]
        if other_label != label:
            raise Rejected(
                "label_conflict",
                f"same bytes as {other_path!r}, which is labelled {other_label!r}, but this "
                f"row says {label!r}; decide on one label and fix the other row",
            )
        if other_path != row.path:
            raise Rejected("duplicate", f"same bytes as {other_path!r}, which is already "
                           "ingested")
        return True

    def _guarded(self, check: Callable[..., bool | None], row: _Row, *args) -> bool | None:
        """``check(row, *args)``, turning a rejection into a line of rejects.csv."""
        try:
            return check(row, *args)
        except Rejected as rejected:
            where = self.source.describe(row.path) if row.path else f"line {row.line}"
            self.rejects.append({
                "path": row.path, "label": row.values["label"], "kind": rejected.kind,
                "reason": f"{where}: {rejected.reason}", "line": str(row.line),
            })
            return None


def _bytes(result: bytes | OSError) -> bytes:
    if isinstance(result, FileNotFoundError):
        raise Rejected("missing", result.strerror or str(result))
    if isinstance(result, OSError):
        raise Rejected("unreadable", f"cannot read it: {result.strerror or result}")
    if not result:
        raise Rejected("empty", "the file is empty (0 bytes)")
    return result


def _check_sha256(row: _Row, image_id: str) -> None:
    expected = row.values.get("sha256", "").strip().lower()
    if expected and expected != image_id:
        raise Rejected(
            "checksum",
            f"the bytes have sha256 {image_id}, but the manifest's sha256 column says "
            f"{expected}; the file changed since the manifest was written, or was damaged "
            "on the way: fetch it again, or correct the manifest",
        )
