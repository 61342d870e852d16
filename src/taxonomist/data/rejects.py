"""Rejected rows: the exception a check raises, and ``data/rejects.csv`` where they land.

A reject is a row of the source's manifest that ingest refused, with a ``kind`` to group
by and a ``reason`` for a person: what was found and what to do, naming the file or key.
"""

from __future__ import annotations

import pandas as pd

from taxonomist.config import Paths
from taxonomist.data.manifest import write_atomic

# kind groups the reasons: bad_path, bad_bbox, bad_date, no_match (a listed path that
# data.path_pattern does not match), unknown_label, bad_exclusion, missing, empty,
# unreadable, format, too_large, checksum, duplicate, label_conflict. line is the row's
# line in the source's manifest CSV (the header is line 1; without a CSV, the row's place
# in the listing + 1).
REJECT_COLUMNS = ("path", "label", "reason", "kind", "line")


class Rejected(Exception):
    """Raised by a check to reject one row; ingest turns it into a line of rejects.csv.

    Args:
        kind: the group, e.g. ``too_large``.
        reason: the sentence for a person, e.g. "declared size 100000x100000 ...".
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def write_rejects(rejects: list[dict[str, str]], paths: Paths) -> None:
    """Rewrite the rejects CSV: it describes the last run only (a header when none)."""
    frame = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
    write_atomic(paths.rejects, lambda tmp: frame.to_csv(tmp, index=False))
