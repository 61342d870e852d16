"""The label history: every earlier value of every image, so a correction loses nothing.

``data/label_history.parquet`` has one row per value a re-ingest changed (``applied``) or
was asked to change by a lower-ranked label source (``overruled``): the image, the
column, the old and new value, the label sources on each side, when, and which row of
which source manifest asked. It only grows; ``taxonomist label history IMAGE_OR_PATH``
prints one image's rows after the values it was first recorded with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from taxonomist.contracts.files import write_atomic
from taxonomist.contracts.manifest import CORRECTABLE_COLUMNS
from taxonomist.data.corrections import Decision
from taxonomist.errors import DataError

HISTORY_COLUMNS = ("id", "column", "old", "new", "old_label_source", "new_label_source",
                   "outcome", "at", "origin")
APPLIED, OVERRULED = "applied", "overruled"
_SAID = ("old", "new", "new_label_source", "outcome")  # what makes two rows the same news
_SHOWN_MATCHES = 3


class LabelHistory:
    """The history on disk plus the rows this run adds; written by :meth:`save`.

    Args:
        path: ``data/label_history.parquet`` (absent until the first change).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._old = read_history(path)
        self._new: list[dict[str, str]] = []
        self._last = {(row["id"], row["column"]): _said(row)
                      for row in self._old.to_dict("records")}
        self.at = datetime.now(UTC).isoformat(timespec="seconds")

    def record(self, image_id: str, decision: Decision, origin: str) -> None:
        """One row per changed value, unless the image's last row for that column says
        the same already: a source re-ingested unchanged repeats no overruled proposal."""
        outcome = APPLIED if decision.applied else OVERRULED
        for change in decision.changes:
            row = {"id": image_id, "column": change.column, "old": change.old,
                   "new": change.new, "old_label_source": decision.recorded_source,
                   "new_label_source": decision.proposed_source, "outcome": outcome,
                   "at": self.at, "origin": origin}
            key = (image_id, change.column)
            if self._last.get(key) != _said(row):
                self._new.append(row)
                self._last[key] = _said(row)

    def save(self) -> None:
        """Append this run's rows (atomically). With none, nothing is written, except a
        first, empty file: DVC expects every output of the ingest stage to exist."""
        if not self._new and self.path.is_file():
            return
        rows = pd.concat([self._old, pd.DataFrame(self._new, columns=HISTORY_COLUMNS)],
                         ignore_index=True)
        write_atomic(self.path, lambda tmp: rows.to_parquet(tmp, index=False))


def read_history(path: Path) -> pd.DataFrame:
    """The history file, all text; an empty table when nothing was ever changed.

    Raises:
        DataError: the file lacks a column of :data:`HISTORY_COLUMNS`.
    """
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="str") for c in HISTORY_COLUMNS})
    history = pd.read_parquet(path)
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; restore it with "
                        f"`dvc checkout {path.name}`")
    return history[list(HISTORY_COLUMNS)].astype(str)


def _said(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[c] for c in _SAID)


def find_image(query: str, manifest: pd.DataFrame, where: str) -> pd.Series:
    """The manifest row ``query`` names: its id, its path in the source or in the store,
    a unique id prefix, or a file name ending in its source path.

    Raises:
        DataError: nothing matches (naming what was searched), or several images do.
    """
    wanted = query.strip()
    if not wanted:
        raise DataError("no image given: name one by its sha256 id (or its first digits) "
                        "or its path")
    searches = (
        manifest["id"] == wanted.lower(),
        (manifest["path"] == wanted) | (manifest["stored"] == wanted),
        manifest["id"].str.startswith(wanted.lower()),
        manifest["path"].map(lambda path: wanted.endswith(f"/{path}")),
    )
    for found in searches:
        matches = manifest[found]
        if len(matches) == 1:
            return matches.iloc[0]
        if len(matches) > 1:
            shown = ", ".join(f"{r.id[:12]} ({r.path})" for r in matches.head(_SHOWN_MATCHES)
                              .itertuples())
            raise DataError(f"{wanted!r} matches {len(matches)} images in {where}: {shown}; "
                            "give more of the id, or the whole path")
    raise DataError(
        f"no image in {where} ({len(manifest)} images) has the id, an id starting with, "
        f"the path or the stored path {wanted!r}; give the sha256 id (or its first "
        "digits) or the path as the source manifest lists it"
    )


def describe_history(image: pd.Series, history: pd.DataFrame) -> str:
    """What ``taxonomist label history`` prints: the values first recorded, then every
    change, oldest first, with its label source, time, outcome and origin."""
    rows = history[history["id"] == image["id"]]
    first = {c: _first_value(c, image, rows) for c in CORRECTABLE_COLUMNS}
    status = f"excluded ({image['excluded']})" if image.get("excluded") else "in use"
    lines = [
        f"{image['id']}  {image['path']}  (stored {image['stored']}), {status}",
        "first recorded: " + ", ".join(f"{c} {first[c] or '-'}" for c in CORRECTABLE_COLUMNS
                                       if c != "label_source")
        + f" ({first['label_source']})",
    ]
    lines += [_change_line(row) for row in rows.to_dict("records")]
    if rows.empty:
        lines.append("never changed since")
    return "\n".join(lines)


def _first_value(column: str, image: pd.Series, rows: pd.DataFrame) -> str:
    """The column's value before its first recorded change, else its value now."""
    changed = rows[rows["column"] == column]
    if column == "label_source" and not rows.empty:
        return str(rows["old_label_source"].iloc[0])
    return str(changed["old"].iloc[0] if len(changed) else image.get(column, "") or "")


def _change_line(row: dict[str, str]) -> str:
    verb = "over" if row["outcome"] == APPLIED else "under"
    return (f"{row['at']}  {row['column']} {row['old'] or '-'} -> {row['new'] or '-'}  "
            f"{row['outcome']} ({row['new_label_source']} {verb} {row['old_label_source']}; "
            f"{row['origin']})")
