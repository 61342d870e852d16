"""Ingest: check each image a source lists, store the good ones content-addressed.

Every input row ends up in exactly one place: added to ``data/manifest.parquet``, counted
as already present (an earlier run stored it), as a correction of a recorded image
(applied, or overruled by a higher-ranked label source: :mod:`taxonomist.data.corrections`,
both kept in ``data/label_history.parquet``), or written to ``data/rejects.csv`` with the
reason. Then the rows of ``labels/crowd.csv`` and ``labels/expert.csv`` (what
``taxonomist label import`` and ``label apply`` decided: :mod:`taxonomist.contracts.labels`)
correct their images the same way, as label_source crowd and expert. Nothing is dropped
silently, and rerunning on the same input changes nothing.

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
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from taxonomist.config import Paths
from taxonomist.contracts.labels import CROWD, EXPERT, label_file, read_decided
from taxonomist.data.corrections import Decision, Precedence, decide
from taxonomist.data.history import LabelHistory
from taxonomist.data.images import ImagePolicy
from taxonomist.data.parallel import Inspection, inspected
from taxonomist.data.rejects import Rejected, write_rejects
from taxonomist.data.rows import (
    Bbox,
    bbox_columns,
    check_bbox_inside,
    check_excluded,
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
        corrected: rows that changed a recorded image's label or metadata.
        overruled: rows whose changes a higher-ranked label source had already decided
            otherwise; kept in the label history, not applied.
    """

    added: int
    already_present: int
    rejected: int
    rejected_by_kind: dict[str, int] = field(default_factory=dict)
    rejects_file: str = ""
    resumed: int = 0
    corrected: int = 0
    overruled: int = 0

    def summary(self) -> str:
        """One line for the terminal, e.g. ``ingest: 10 rows: 8 added, ...``."""
        total = (self.added + self.already_present + self.rejected + self.corrected
                 + self.overruled)
        changes = "".join(f", {n} {what}" for n, what in (
            (self.corrected, "corrected"), (self.overruled, "overruled")) if n)
        line = (
            f"ingest: {total} rows: {self.added} added{changes}, "
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
    source: Source, taxonomy: Taxonomy, paths: Paths, policy: ImagePolicy | None = None,
    precedence: Precedence | None = None,
) -> IngestResult:
    """Check, store and record every image that ``source`` lists.

    A row is rejected when its path is absolute or climbs out with '..', its label is not
    a class of ``taxonomy`` (a leaf or an inner node), its bbox is malformed or outside
    the image, the file is missing or empty, its bytes do not match a ``sha256`` column,
    it is not an accepted format, too large, or not decodable (``policy``), its
    ``excluded`` is no known reason, or its ``taken_at`` (or, when that is empty, its
    EXIF DateTimeOriginal) is not a date. A row with an empty ``set_id`` becomes a set of
    its own (its ``id``); one without ``label_source`` gets ``import``. A source without a
    manifest CSV fills each row in from its path first (``Source.complete_row``).

    A row for bytes an earlier run recorded corrects that image: each value it changes
    is applied when its label_source ranks at least as high as the recorded one
    (``precedence``), else kept in the history as overruled; a blank ``taken_at``
    changes nothing. Such a row under another path that changes nothing is a duplicate.
    Two rows of one run for the same bytes must agree: another label is a label
    conflict, another path a duplicate.

    Args:
        source: where the manifest rows and image bytes come from.
        taxonomy: the classes a label may name.
        paths: the project layout; writes ``images/``, ``manifest``, ``label_history``
            and ``rejects``.
        policy: accepted formats and the largest size; the defaults when None.
        precedence: whose corrections win; expert > crowd > import when None.

    Returns:
        The counts; together they are the number of input rows.

    Raises:
        DataError: the source's manifest or the existing manifest is unusable as a whole,
            or the source failed beyond its retries (what was stored is kept).
    """
    entries = _checked_entries(source)
    store, history = Store(paths), LabelHistory(paths.label_history)
    run = _Run(source, taxonomy, policy or ImagePolicy(), store, precedence or Precedence(),
               history)
    decided = {by: read_decided(label_file(paths.labels, by), by)
               for by in (CROWD, EXPERT)}  # a broken label file stops the run before any work
    try:
        run.ingest(entries)
        for by, rows in decided.items():
            run.apply_decided(rows, by, label_file(paths.labels, by))
    finally:  # however the run ends, what it stored is recorded
        history.save()  # first: no correction reaches the manifest without its history
        store.save()
        write_rejects(run.rejects, paths)
    kinds = Counter(r["kind"] for r in run.rejects)
    rel = paths.rejects.relative_to(paths.root).as_posix()
    return IngestResult(store.added, run.already, len(run.rejects), dict(kinds), rel,
                        store.resumed, run.corrected, run.overruled)


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

    def __init__(self, source: Source, taxonomy: Taxonomy, policy: ImagePolicy, store: Store,
                 precedence: Precedence, history: LabelHistory) -> None:
        self.source, self.taxonomy, self.policy, self.store = source, taxonomy, policy, store
        self.precedence, self.history = precedence, history
        self.rejects: list[dict[str, str]] = []
        self.already = self.corrected = self.overruled = 0
        self.claimed: dict[str, str] = {}  # id -> path of this run's row that settled it

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

    def apply_decided(self, rows: pd.DataFrame, source: str, file: Path) -> None:
        """Correct recorded images by a label file's rows, ``source`` their label_source.

        A row for an image the manifest lacks, or with a label not in the taxonomy, is
        rejected (rejects.csv, naming the file and line)."""
        rel = file.relative_to(self.store.paths.root).as_posix()
        for i, values in enumerate(rows.to_dict("records")):
            row = _Row(i + 2, values)
            try:
                self._apply_decided_row(row, source, f"{rel} line {row.line}")
            except Rejected as rejected:
                self._reject(row, rejected, f"{rel} line {row.line}")

    def _apply_decided_row(self, row: _Row, source: str, origin: str) -> None:
        recorded = self.store.by_id(row.values["id"])
        if recorded is None:
            raise Rejected("unknown_image", f"no image with id {row.values['id']!r} in the "
                           "manifest; it was decided for another data version")
        label = row.values["label"] or recorded["label"]
        check_label(label, self.taxonomy)
        excluded = check_excluded(row.values) if "excluded" in row.values else recorded[
            "excluded"]
        proposed = {**recorded, "label": label, "excluded": excluded, "label_source": source,
                    **_counted(row.values)}
        self._settle(row.values["id"], decide(recorded, proposed, self.precedence), origin)

    def _wants_bytes(self, row: _Row) -> bool:
        """Run the checks that need no bytes; False when the row is settled without them."""
        return self._guarded(self._precheck, row) is True

    def _precheck(self, row: _Row) -> bool:
        check_path(row.path)
        self.source.complete_row(row.values)
        check_label(row.values["label"], self.taxonomy)
        row.values["taken_at"] = check_taken_at(row.values["taken_at"])
        row.values["excluded"] = check_excluded(row.values)
        row.bbox = parse_bbox(row.values)
        image_id = self._trusted_id(row)
        if image_id is None:
            return True
        self._settle_recorded(row, image_id)
        return False

    def _trusted_id(self, row: _Row) -> str | None:
        """The id the manifest has under this path, when the source says to trust it without
        reading the bytes again (a bucket: no download on a rerun or resume) and no
        ``sha256`` column says the bytes changed."""
        image_id = self.store.id_at(row.path)
        if self.source.refetch_recorded or image_id is None:
            return None
        expected = row.values.get("sha256", "").strip().lower()
        return image_id if expected in ("", image_id) else None

    def _recorded_before(self, image_id: str) -> bool:
        """Whether the manifest has these bytes: they were checked when recorded."""
        return self.store.by_id(image_id) is not None

    def _accept(self, row: _Row, result: bytes | OSError, inspection: Inspection | None) -> None:
        data = _bytes(result)
        image_id = inspection.sha256
        _check_sha256(row, image_id)
        if self._recorded_before(image_id):
            self._settle_recorded(row, image_id)
            return
        image = inspection.checked()
        check_bbox_inside(row.bbox, image.width, image.height)
        stored = self.store.put(data, image_id, image.extension)
        computed = {"id": image_id, "set_id": row.values["set_id"] or image_id,
                    "taken_at": row.values["taken_at"] or exif_taken_at(data),
                    "width": image.width, "height": image.height, "stored": stored,
                    "phash": image.phash, "label_source": label_source(row.values),
                    **_counted(row.values)}
        self.store.record({**row.values, **bbox_columns(row.bbox), **computed})
        self.claimed[image_id] = row.path

    def _settle_recorded(self, row: _Row, image_id: str) -> None:
        """A row for recorded bytes: a second row of this run for them, which must agree
        with the first, or the first, which may correct what an earlier run recorded.

        Raises:
            Rejected: a second row with another label or path, or a row under another
                path that changes nothing (a copy of the file).
        """
        recorded = self.store.by_id(image_id)
        if image_id in self.claimed:
            self._check_agrees(row, self.claimed[image_id], recorded["label"])
            self.already += 1
            return
        decision = decide(recorded, self._proposed(row, image_id, recorded), self.precedence)
        if not decision.changes and recorded["path"] != row.path:
            raise Rejected("duplicate", f"same bytes as {recorded['path']!r}, which is "
                           "already ingested")
        self.claimed[image_id] = row.path
        if not decision.changes:
            self.already += 1
            return
        self._settle(image_id, decision, f"{self.source} line {row.line}: {row.path}")

    def _settle(self, image_id: str, decision: Decision, origin: str) -> None:
        """Record a decision's changes in the history; apply them, or count them overruled."""
        if not decision.changes:
            return
        self.history.record(image_id, decision, origin)
        if decision.applied:
            self.store.correct(image_id, decision.values())
            self.corrected += 1
        else:
            self.overruled += 1

    @staticmethod
    def _check_agrees(row: _Row, first_path: str, label: str) -> None:
        if label != row.values["label"]:
            raise Rejected(
                "label_conflict",
                f"same bytes as {first_path!r}, which is labelled {label!r}, but this row "
                f"says {row.values['label']!r}; decide on one label and fix the other row",
            )
        if first_path != row.path:
            raise Rejected("duplicate", f"same bytes as {first_path!r}, which is already "
                           "ingested")

    @staticmethod
    def _proposed(row: _Row, image_id: str, recorded: dict[str, str]) -> dict[str, str]:
        """The row's values of the correctable columns, filled in as ingest records them.
        A blank taken_at proposes nothing: the date recorded came from these same bytes'
        EXIF or an earlier row, and reading the EXIF again would need the bytes."""
        values = row.values
        return {"label": values["label"], "set_id": values["set_id"] or image_id,
                "source": values["source"], "taken_at": values["taken_at"] or
                recorded["taken_at"], "excluded": values["excluded"],
                "label_source": label_source(values), **_counted(values)}

    def _guarded(self, check: Callable[..., bool | None], row: _Row, *args) -> bool | None:
        """``check(row, *args)``, turning a rejection into a line of rejects.csv."""
        try:
            return check(row, *args)
        except Rejected as rejected:
            self._reject(row, rejected, self.source.describe(row.path) if row.path
                         else f"line {row.line}")
            return None

    def _reject(self, row: _Row, rejected: Rejected, where: str) -> None:
        self.rejects.append({
            "path": row.path, "label": row.values["label"], "kind": rejected.kind,
            "reason": f"{where}: {rejected.reason}", "line": str(row.line),
        })


def _counted(values: dict[str, str]) -> dict[str, str]:
    """How many people gave the row's label and how many of them agreed; blank: unknown."""
    return {c: values.get(c, "").strip() for c in ("label_workers", "label_agreement")}


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
