"""Ingest: check each image a source lists, store the good ones content-addressed.

Every input row ends up in exactly one place: added to ``data/manifest.parquet``, counted
as already present (an earlier run stored it), or written to ``data/rejects.csv`` with the
reason. Nothing is dropped silently, and rerunning on the same input changes nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from taxonomist.config import Paths
from taxonomist.data.manifest import (
    MANIFEST_COLUMNS,
    empty_manifest,
    read_manifest,
    to_manifest_types,
    write_atomic,
)
from taxonomist.data.sources import Source, outside_reason
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy

# ``kind`` groups the reasons: bad_path, missing, empty, unreadable, unknown_label,
# duplicate, label_conflict; ``reason`` is the sentence for a person.
REJECT_COLUMNS = ("path", "label", "reason", "kind")
# Columns ingest computes; a source's manifest may not bring its own.
_COMPUTED = ("id", "width", "height", "stored")
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp"}


@dataclass(frozen=True)
class IngestResult:
    """What one ingest run did with its input rows.

    Attributes:
        added: new images stored and recorded in the manifest.
        already_present: rows whose path and bytes an earlier run already recorded.
        rejected: rows written to the rejects CSV.
        rejected_by_kind: ``rejected`` broken down by kind (duplicate, unreadable, ...).
        rejects_file: where the rejected rows and their reasons are.
    """

    added: int
    already_present: int
    rejected: int
    rejected_by_kind: dict[str, int] = field(default_factory=dict)
    rejects_file: str = ""

    def summary(self) -> str:
        """One line for the terminal, e.g. ``ingest: 10 rows: 8 added, ...``."""
        total = self.added + self.already_present + self.rejected
        line = (
            f"ingest: {total} rows: {self.added} added, "
            f"{self.already_present} already present, {self.rejected} rejected"
        )
        if not self.rejected:
            return line
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.rejected_by_kind.items()))
        return f"{line} ({kinds}); reasons in {self.rejects_file}"


class _Rejected(Exception):
    """Raised by a check to reject one row; never leaves this module."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def ingest(source: Source, taxonomy: Taxonomy, paths: Paths) -> IngestResult:
    """Check, store and record every image that ``source`` lists.

    A row is rejected when its path is absolute or climbs out with '..', the file is
    missing, empty or not a decodable image, its label is not a class of ``taxonomy``
    (a leaf or an inner node), or its bytes are already in the manifest under another
    path (a duplicate) or another label (a label conflict). A row with an empty
    ``set_id`` becomes a set of its own (its ``id``).

    Args:
        source: where the manifest rows and image bytes come from.
        taxonomy: the classes a label may name.
        paths: the project layout; writes ``images/``, ``manifest`` and ``rejects``.

    Returns:
        The counts; ``added + already_present + rejected`` is the number of input rows.

    Raises:
        DataError: the source's manifest or the existing manifest is unusable as a whole.
    """
    entries = _checked_entries(source)
    manifest = read_manifest(paths.manifest) if paths.manifest.is_file() else empty_manifest()
    # id -> (path, label) of every image recorded so far, this run's included
    seen = {i: (p, lab) for i, p, lab in manifest[["id", "path", "label"]].itertuples(False)}
    added: list[dict[str, Any]] = []
    rejects: list[dict[str, str]] = []
    already = 0
    for row in tqdm(entries.to_dict("records"), desc="ingest", unit="img"):
        try:
            new = _ingest_row(row, source, taxonomy, seen, paths)
        except _Rejected as rejected:
            rejects.append({"path": row["path"], "label": row["label"],
                            "reason": rejected.reason, "kind": rejected.kind})
            continue
        if new is None:
            already += 1
        else:
            added.append(new)
    _write_manifest(manifest, added, paths)
    _write_rejects(rejects, paths)
    kinds = Counter(r["kind"] for r in rejects)
    rel = paths.rejects.relative_to(paths.root).as_posix()
    return IngestResult(len(added), already, len(rejects), dict(kinds), rel)


def _checked_entries(source: Source) -> pd.DataFrame:
    entries = source.entries()
    clash = [c for c in _COMPUTED if c in entries.columns]
    if clash:
        raise DataError(
            f"{source}: the manifest has column(s) {', '.join(clash)}, which ingest "
            "computes itself; rename or remove them"
        )
    return entries.fillna("").astype(str)


def _ingest_row(
    row: dict[str, str],
    source: Source,
    taxonomy: Taxonomy,
    seen: dict[str, tuple[str, str]],
    paths: Paths,
) -> dict[str, Any] | None:
    """The manifest row for a new image, or None when the manifest already has it.

    Raises:
        _Rejected: the row fails a check.
    """
    path, label = row["path"], row["label"]
    _check_path(path)
    _check_label(label, taxonomy)
    data = _read(source, path)
    image_id = hashlib.sha256(data).hexdigest()
    if _already_recorded(image_id, path, label, seen):
        return None
    width, height, extension = _decode(data)
    stored = _store(data, image_id, extension, paths)
    seen[image_id] = (path, label)
    computed = {"id": image_id, "set_id": row["set_id"] or image_id,
                "width": width, "height": height, "stored": stored}
    return {**row, **computed}


def _check_path(path: str) -> None:
    reason = "is empty" if not path else outside_reason(path)
    if reason:
        raise _Rejected(
            "bad_path",
            f"the path {reason}; manifest paths must be relative to the source folder "
            "and stay inside it",
        )


def _check_label(label: str, taxonomy: Taxonomy) -> None:
    if label in taxonomy:
        return
    close = difflib.get_close_matches(label, taxonomy.nodes, n=3)
    if close:
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?"
    else:
        names = taxonomy.leaves[:6]
        more = ", ..." if len(taxonomy.leaves) > len(names) else ""
        hint = f"valid labels include {', '.join(names)}{more}"
    raise _Rejected(
        "unknown_label",
        f"label {label!r} is not a class of taxonomy '{taxonomy.name}' ({taxonomy.source}); "
        f"{hint}",
    )


def _read(source: Source, path: str) -> bytes:
    try:
        data = source.read_bytes(path)
    except FileNotFoundError:
        raise _Rejected("missing", f"no such file: {source.describe(path)}") from None
    except OSError as err:
        raise _Rejected(
            "unreadable", f"cannot read {source.describe(path)}: {err.strerror or err}"
        ) from None
    if not data:
        raise _Rejected("empty", "the file is empty (0 bytes)")
    return data


def _already_recorded(
    image_id: str, path: str, label: str, seen: dict[str, tuple[str, str]]
) -> bool:
    """True when these bytes are recorded under this path and label already.

    Raises:
        _Rejected: the bytes are recorded under another label or another path.
    """
    if image_id not in seen:
        return False
    other_path, other_label = seen[image_id]
    if other_label != label:
        raise _Rejected(
            "label_conflict",
            f"same bytes as {other_path!r}, which is labelled {other_label!r}, but this row "
            f"says {label!r}; decide on one label and fix the other row",
        )
    if other_path != path:
        raise _Rejected("duplicate", f"same bytes as {other_path!r}, which is already ingested")
    return True


def _decode(data: bytes) -> tuple[int, int, str]:
    """Width, height and file extension of a fully decodable image.

    ``verify`` catches broken structure, ``load`` a truncated pixel stream; both are
    needed because each misses what the other finds.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            size, fmt = image.size, image.format or ""
    except UnidentifiedImageError:
        raise _Rejected("unreadable", "not an image format PIL can read") from None
    except Exception as err:  # corrupt input makes PIL's decoders raise many types
        raise _Rejected("unreadable", f"cannot decode the image: {err}") from None
    return size[0], size[1], _EXTENSIONS.get(fmt, f".{fmt.lower()}")


def _store(data: bytes, image_id: str, extension: str, paths: Paths) -> str:
    """Write the bytes under their hash (once) and return that path, project-relative."""
    dest = paths.images / image_id[:2] / f"{image_id}{extension}"
    if not dest.is_file():
        write_atomic(dest, lambda tmp: tmp.write_bytes(data))
    return dest.relative_to(paths.root).as_posix()


def _write_manifest(manifest: pd.DataFrame, added: list[dict[str, Any]], paths: Paths) -> None:
    """Append the new rows; leave the file untouched when there are none."""
    if not added and paths.manifest.is_file():
        return
    new = pd.DataFrame(added)
    parts = [frame for frame in (manifest, new) if len(frame)] or [manifest]
    combined = pd.concat(parts, ignore_index=True)
    extra = [c for c in combined.columns if c not in MANIFEST_COLUMNS]
    combined = to_manifest_types(combined[list(MANIFEST_COLUMNS) + extra].fillna(""))
    write_atomic(paths.manifest, lambda tmp: combined.to_parquet(tmp, index=False))


def _write_rejects(rejects: list[dict[str, str]], paths: Paths) -> None:
    """Rewrite the rejects CSV: it describes the last run only (a header when none)."""
    frame = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
    write_atomic(paths.rejects, lambda tmp: frame.to_csv(tmp, index=False))
