"""``taxonomist label import FILE``: a batch's answers, checked, aggregated and recorded.

Every answer is checked before anything is written: its batch was exported here, its
task is in that batch, its label is one of the batch's classes, and no worker answered
one image twice. One bad row refuses the whole file, naming the file and the row, and
leaves every file as it was. A good file adds (or, imported again, replaces):

- ``labels/answers.csv``: every answer, for the expert's queue and a later re-aggregation;
- ``labels/workers.csv``: each worker's estimated quality at the node;
- ``labels/crowd.csv``: one label per image, with its workers, agreement and confidence,
  which the next ingest applies as ``label_source=crowd``.

Given the live stack's opinion (:mod:`taxonomist.labels.evidence`), the default
aggregation hears it as one more annotator on the images it did not train on: its
estimated accuracy is its row of ``workers.csv``, and ``crowd.csv`` records what it said
and how much it weighed (``model_label``, ``model_probability``, ``model_weight``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from taxonomist.config import Aggregation, Paths
from taxonomist.contracts.files import write_atomic
from taxonomist.contracts.labels import CROWD, label_file, read_decided, write_decided
from taxonomist.errors import DataError
from taxonomist.labels.aggregate import Aggregate, ModelOpinion, aggregate
from taxonomist.labels.answers import read_answers
from taxonomist.labels.batch import Batch

if TYPE_CHECKING:
    from taxonomist.labels.evidence import Opinion

WORKER_COLUMNS = ("worker", "node", "quality", "answers", "method", "batch")


@dataclass(frozen=True)
class Imported:
    """What one import recorded."""

    answers: int
    images: int
    workers: pd.DataFrame  # worker, node, quality, answers: best first
    unanimous: int  # images every worker agreed on
    heard: int = 0  # images the live stack was heard about
    model: str | None = None  # which stack, when it was heard

    def summary(self, file: Path, method: Aggregation) -> str:
        people = self.workers[self.workers["worker"] != self.model]
        best = ", ".join(f"{w.worker} {w.quality:.2f}" for w in people.head(5).itertuples())
        text = (f"{file}: {self.answers} answers from {len(people)} workers on "
                f"{self.images} images, aggregated by {method.value}: {self.unanimous} "
                f"unanimous; worker quality: {best}{', ...' if len(people) > 5 else ''}")
        if self.model is None:
            return text
        quality = self.workers.loc[self.workers["worker"] == self.model, "quality"]
        return (f"{text}; {self.model} heard on {self.heard} images held out from its "
                f"training, estimated accuracy {quality.mean():.2f}")


def import_answers(file: Path, paths: Paths, method: Aggregation,
                   opinion: Opinion | None = None) -> Imported:
    """Check, aggregate and record the answers in ``file`` (see the module's doc).

    Args:
        opinion: the live stack's, heard by the default aggregation
            (:func:`taxonomist.labels.evidence.stack_opinion`); None: the workers alone.

    Raises:
        DataError: anything wrong with the file or one of its rows, or a stored image the
            stack cannot read; nothing is written.
    """
    answers = read_answers(file)
    batches = {name: Batch.read(paths.label_batches, name, _first_where(answers, name))
               for name in answers["batch"].unique()}
    answers = pd.concat([_checked(answers[answers["batch"] == name], batch, paths)
                         for name, batch in batches.items()], ignore_index=True)
    _refuse_repeats(answers)
    heard = opinion if method is Aggregation.one_coin_dawid_skene else None
    results = {name: _aggregated(answers[answers["batch"] == name], batch, method, heard)
               for name, batch in batches.items()}
    origin = file.name
    _record_answers(answers, paths)
    workers = pd.concat([_worker_rows(results[n], b, method) for n, b in batches.items()],
                        ignore_index=True)
    _record_workers(workers, paths)
    crowd = pd.concat([_crowd_rows(results[n], b, paths, origin) for n, b in batches.items()],
                      ignore_index=True)
    _record_crowd(crowd, paths)
    unanimous = int(sum((r.images["agreement"] == 1).sum() for r in results.values()))
    heard_from = next((r.model for r in results.values() if r.model), None)
    return Imported(len(answers), len(crowd), workers.sort_values("quality", ascending=False),
                    unanimous, int(crowd["model_label"].ne("").sum()), heard_from)


def _aggregated(answers: pd.DataFrame, batch: Batch, method: Aggregation,
                opinion: Opinion | None) -> Aggregate:
    model: ModelOpinion | None = None
    if opinion is not None:
        model = opinion(batch, answers["task_id"].drop_duplicates())
    return aggregate(answers.rename(columns={"task_id": "task"}), method, model)


def _first_where(answers: pd.DataFrame, batch: str) -> str:
    return str(answers.loc[answers["batch"] == batch, "where"].iloc[0])


def _checked(answers: pd.DataFrame, batch: Batch, paths: Paths) -> pd.DataFrame:
    """The batch's answers, each task one the batch sent out and each label a class of
    the node; raises on the first that is not."""
    tasks = set(batch.tasks(paths.label_batches)["task_id"])
    for row in answers.itertuples():
        if row.task_id not in tasks:
            raise DataError(f"{row.where}: task_id {row.task_id!r} is not in batch "
                            f"{batch.batch} ({len(tasks)} tasks, in "
                            f"{paths.label_batches / batch.batch / 'tasks.csv'}); results of "
                            "another batch, or an edited input file?")
        if row.label not in batch.classes:
            raise DataError(f"{row.where}: worker {row.worker} answered {row.label!r}, which "
                            f"is not a class of node {batch.node!r} (one of "
                            f"{', '.join(batch.classes)}); fix the HIT's form or the row")
    return answers


def _refuse_repeats(answers: pd.DataFrame) -> None:
    """A worker answers an image once: a second answer would count their word twice."""
    repeated = answers[answers.duplicated(["batch", "task_id", "worker"], keep=False)]
    if repeated.empty:
        return
    first = repeated.iloc[0]
    same = repeated[(repeated["task_id"] == first["task_id"])
                    & (repeated["worker"] == first["worker"])]
    raise DataError(f"{' and '.join(same['where'])}: worker {first['worker']} answered "
                    f"task {first['task_id'][:12]}... {len(same)} times; keep one answer "
                    "(or reject the other assignment) and import again")


def _worker_rows(result: Aggregate, batch: Batch, method: Aggregation) -> pd.DataFrame:
    return result.workers.assign(node=batch.node, method=method.value, batch=batch.batch)


def _crowd_rows(result: Aggregate, batch: Batch, paths: Paths, origin: str) -> pd.DataFrame:
    images = result.images
    path_of = batch.tasks(paths.label_batches).set_index("task_id")["path"]
    return pd.DataFrame({
        "id": images["task"], "path": images["task"].map(path_of), "label": images["label"],
        "label_workers": images["workers"].astype(str),
        "label_agreement": images["agreement"].round(3).astype(str),
        "confidence": images["confidence"].round(3).astype(str),
        "origin": f"{origin} (batch {batch.batch})",
        "model_label": images["model_label"],
        "model_probability": _text(images["model_probability"]),
        "model_weight": _text(images["model_weight"]),
    })


def _text(numbers: pd.Series) -> pd.Series:
    """Rounded to 3 decimals; blank where there is no number (the stack was not heard)."""
    return numbers.round(3).astype(str).where(numbers.notna(), "")


def _record_answers(answers: pd.DataFrame, paths: Paths) -> None:
    rows = answers.rename(columns={"task_id": "id"})
    _merge_csv(paths.crowd_answers, rows, ["batch", "id", "worker"])


def _record_workers(workers: pd.DataFrame, paths: Paths) -> None:
    _merge_csv(paths.crowd_workers, workers[list(WORKER_COLUMNS)], ["worker", "node"])


def _record_crowd(crowd: pd.DataFrame, paths: Paths) -> None:
    file = label_file(paths.labels, CROWD)
    old = read_decided(file, CROWD)
    write_decided(file, _replaced(old, crowd, ["id"]), CROWD)


def _merge_csv(file: Path, rows: pd.DataFrame, key: list[str]) -> None:
    """Add ``rows`` to a CSV, replacing the rows with the same ``key``."""
    old = pd.read_csv(file, dtype=str, keep_default_na=False) if file.is_file() else None
    merged = rows if old is None else _replaced(old, rows.astype(str), key)
    write_atomic(file, lambda tmp: merged.to_csv(tmp, index=False))


def _replaced(old: pd.DataFrame, new: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    stale = old.set_index(key).index.isin(new.set_index(key).index)
    return pd.concat([old[~stale], new], ignore_index=True)
