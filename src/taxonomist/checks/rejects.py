"""Rejects check: rows ingest rejected because their bytes were already stored under
another label (a warning: the manifest kept the first label, which may be the wrong one).

It runs on ``data/rejects.csv`` as ingest writes it; without that file (or its ``kind``
column) there is nothing to check.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pandas as pd

from taxonomist.checks.base import Check, Failure, Message, Table
from taxonomist.checks.dataset import Dataset
from taxonomist.checks.wording import EXAMPLES, failing_count, failing_rows, more


def _rejects_of(data: Dataset) -> pd.DataFrame | None:
    return data.rejects


REJECTS = Table("rejects", _rejects_of, index=("path", "label", "reason"), examples=EXAMPLES)


class RejectedLabelConflicts(Check):
    """No row rejected as a label conflict: the same bytes under two labels."""

    name = "label_conflict"
    table = REJECTS
    severity = "warning"

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        return [
            expect.ExpectColumnValuesToNotBeInSet(
                column="kind", value_set=["label_conflict"], severity=self.severity,
                meta=self.meta(),
            )
        ]

    def messages(self, failure: Failure) -> list[Message]:
        rows, total = failing_rows(failure.result), failing_count(failure.result)
        shown = "; ".join(
            f"{row.get('path')} labelled '{row.get('label')}': {row.get('reason')}"
            for row in rows[:EXAMPLES]
        )
        text = (
            f"ingest: {total} row(s) rejected as label conflicts, the same bytes under two "
            f"labels (data/rejects.csv): {shown}{more(total, min(len(rows), EXAMPLES))}; the "
            f"manifest kept the first label, which may be the wrong one"
        )
        return [Message(("rejects", "label_conflict"), text)]
