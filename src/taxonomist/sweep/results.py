"""The trials of a sweep, read back from MLflow and ranked.

MLflow is the one place every trial reports to, whichever launcher ran it and wherever:
the ranking is built from the parent run's children, not from in-process return values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from taxonomist.sweep.trial import Objective
from taxonomist.tracking.names import (
    SWEEP_VALUES_TAG,
    SWEEP_WINNER_TAG,
    SWEEP_WINNER_VALUES_TAG,
)
from taxonomist.tracking.runs import RunLog, RunRecord


@dataclass(frozen=True)
class TrialRow:
    """One finished trial: its values and its best validation scores."""

    run_id: str
    name: str
    values: dict[str, Any]
    best_val_loss: float
    best_val_acc: float
    status: str

    def score(self, objective: Objective) -> float:
        return self.best_val_loss if objective is Objective.val_loss else self.best_val_acc


def ranked_trials(runs: RunLog, parent_run_id: str, objective: Objective) -> list[TrialRow]:
    """The parent's child runs, best first; trials without a score come last."""
    rows = [_row(run) for run in runs.child_runs(parent_run_id)]
    sign = 1.0 if objective is Objective.val_loss else -1.0

    def rank(row: TrialRow) -> tuple[bool, float]:
        return math.isnan(row.score(objective)), sign * _finite(row, objective)

    return sorted(rows, key=rank)


def record_winner(
    runs: RunLog, parent_run_id: str, rows: list[TrialRow], objective: Objective
) -> None:
    """Tag the parent with the winning run and log its score, for the MLflow UI."""
    if not rows or math.isnan(rows[0].score(objective)):
        return
    best = rows[0]
    runs.set_tags(parent_run_id, {
        SWEEP_WINNER_TAG: best.run_id,
        SWEEP_WINNER_VALUES_TAG: json.dumps(best.values),
    })
    runs.log(parent_run_id, metrics={objective.metric: best.score(objective)})


def format_table(rows: list[TrialRow], objective: Objective) -> str:
    """A ranked plain-text table: rank, both scores, each key that differs, the run.

    Keys with one value in every trial are listed once, above the table.

    Example::

        ranked by best_val_loss (lower is better); same in every trial: epochs=1
        rank  best_val_loss  best_val_acc  optim.lr  backbone.name  run
           1         0.4123        0.8750  0.001     resnet10t      1a2b3c4d round #0
    """
    keys = list(dict.fromkeys(k for row in rows for k in row.values))
    same = [k for k in keys if len({_cell(r.values.get(k)) for r in rows}) == 1 < len(rows)]
    varied = [k for k in keys if k not in same]
    header = ["rank", "best_val_loss", "best_val_acc", *varied, "run"]
    body = [
        [str(i), _number(r.best_val_loss), _number(r.best_val_acc),
         *(_cell(r.values.get(k)) for k in varied), _run_cell(r)]
        for i, r in enumerate(rows, start=1)
    ]
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(width) if column < 3 else cell.ljust(width)  # the numbers align right
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in [header, *body]
    ]
    better = "lower" if objective is Objective.val_loss else "higher"
    title = f"ranked by {objective.metric} ({better} is better)"
    if same:
        title += "; same in every trial: " + " ".join(
            f"{k}={_cell(rows[0].values.get(k))}" for k in same
        )
    return "\n".join([title, *lines])


def _row(run: RunRecord) -> TrialRow:
    return TrialRow(
        run_id=run.run_id,
        name=run.name,
        values=json.loads(run.tags.get(SWEEP_VALUES_TAG, "{}")),
        best_val_loss=run.metrics.get("best_val_loss", math.nan),
        best_val_acc=run.metrics.get("best_val_acc", math.nan),
        status=run.status,
    )


def _finite(row: TrialRow, objective: Objective) -> float:
    score = row.score(objective)
    return 0.0 if math.isnan(score) else score


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}"


def _run_cell(row: TrialRow) -> str:
    status = "" if row.status == "FINISHED" else f" ({row.status.lower()})"
    return f"{row.run_id[:8]} {row.name}{status}"


def _cell(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)
