"""``taxonomist label queue``: the images an expert should look at, most disputed first.

An image in use is queued when the crowd answered about it (``labels/answers.csv``,
``labels/crowd.csv``), when the live stack's walk contradicts its current label (leaves
the label's path from the root), or when a model that never saw its label doubts it
(:mod:`taxonomist.labels.out_of_fold`). An image the expert already decided (its
``label_source`` is expert, or it is in ``labels/expert.csv``) is not queued again. The
queue is ranked by one score, highest first::

    disagreement = (1 - crowd agreement) + max(out-of-fold doubt,
                                               contradiction if out of sample else 0)

- *crowd agreement*: the share of the workers who gave the crowd's aggregated label
  (``label_agreement`` of ``labels/crowd.csv``); the term is 0 without crowd answers.
- *out-of-fold doubt*: ``1 - P(label)`` from the image's nearest neighbours on grey
  pixels in the other folds (dealt by set), so each image is scored by a model that
  never saw its label, whatever its split; 0 where it has no evidence.
- *contradiction*: the live stack's probability for the first class on its walk that is
  off the current label's path; 0 when the walk stays on it (it reached the label, or
  stopped above it) or no stack is live.
- *out of sample*: the image is not in the train split (val, test, or not split yet),
  so the stack never fitted its label. In sample, the stack was fitted to that very
  label, so its probabilities are no fair evidence against it (why confident learning
  uses out-of-sample probabilities only): such a contradiction is shown, but scores 0;
  the out-of-fold doubt speaks for those images.

So a 2-to-1 crowd scores 0.33 and a three-way split 0.67; an image the evidence sends
elsewhere with probability 0.9 scores 0.9 more, and is a *likely label error* when that
evidence is at least :data:`LIKELY_ERROR` (even odds). Its ``suggestion`` is then the
class that evidence names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomist.config import Paths
from taxonomist.contracts.labels import CROWD, EXPERT, label_file, read_decided
from taxonomist.errors import DataError
from taxonomist.labels.batch import under_node
from taxonomist.labels.out_of_fold import OutOfFold
from taxonomist.stack.predictor import Prediction
from taxonomist.taxonomy import Taxonomy

LIKELY_ERROR = 0.5  # an out-of-sample contradiction at least this sure: a likely label error
TRAIN = "train"


@dataclass(frozen=True)
class Crowd:
    """What the crowd said, checked against the manifest.

    Attributes:
        labels: ``labels/crowd.csv``: one aggregated label per image (``id``, ``label``,
            ``label_agreement``, ``confidence``, ...).
        answers: ``labels/answers.csv``: every answer (``id``, ``worker``, ``label``, ...).
        decided: the ids in ``labels/expert.csv``.
    """

    labels: pd.DataFrame
    answers: pd.DataFrame
    decided: frozenset[str]


def read_crowd(paths: Paths, manifest: pd.DataFrame) -> Crowd:
    """The label files as imported, every row naming an image of ``manifest``.

    Raises:
        DataError: a row names an image not in the manifest (naming the file and line),
            or a file lacks its columns.
    """
    labels = read_decided(label_file(paths.labels, CROWD), CROWD)
    answers = _read_answers(paths.crowd_answers)
    expert = read_decided(label_file(paths.labels, EXPERT), EXPERT)
    known = set(manifest["id"])
    for file, rows in ((label_file(paths.labels, CROWD), labels),
                       (paths.crowd_answers, answers)):
        _refuse_unknown(rows, file, known, paths.manifest)
    return Crowd(labels, answers, frozenset(expert["id"]))


def _read_answers(file: Path) -> pd.DataFrame:
    if not file.is_file():
        return pd.DataFrame({c: pd.Series(dtype="str") for c in ("id", "worker", "label")})
    answers = pd.read_csv(file, dtype=str, keep_default_na=False)
    missing = [c for c in ("id", "worker", "label") if c not in answers.columns]
    if missing:
        raise DataError(f"{file}: missing column(s) {', '.join(missing)}; it is written by "
                        "`taxonomist label import`: restore it with `git checkout -- "
                        f"{file.name}` or import the results again")
    return answers


def _refuse_unknown(rows: pd.DataFrame, file: Path, known: set[str], manifest: Path) -> None:
    unknown = np.flatnonzero(~rows["id"].isin(known))
    if not len(unknown):
        return
    more = f" (nor are {len(unknown) - 1} more of its rows)" if len(unknown) > 1 else ""
    raise DataError(
        f"{file} line {unknown[0] + 2}: image {rows['id'].iloc[unknown[0]]!r} is not in "
        f"{manifest} ({len(known)} images){more}; answers for another project, or a "
        "manifest restored to an older version: delete such rows, or ingest the images "
        "again")


def disagreement(agreement: float | None, contradiction: float, out_of_sample: bool,
                 doubt: float = 0.0) -> float:
    """The queue's score (see the module's doc): 0 to 2, higher is more disputed.

    Example:
        >>> round(disagreement(2 / 3, 0.9, out_of_sample=True), 2)  # 2-to-1, held out
        1.23
        >>> round(disagreement(None, 0.9, out_of_sample=False, doubt=0.8), 2)  # in sample
        0.8
    """
    crowd = 0.0 if agreement is None else 1.0 - agreement
    return crowd + evidence(contradiction, out_of_sample, doubt)


def evidence(contradiction: float, out_of_sample: bool, doubt: float) -> float:
    """The stronger of the two fair witnesses against a label: the out-of-fold doubt, and
    the stack's contradiction where the stack never saw the label."""
    return max(doubt, contradiction if out_of_sample else 0.0)


def contradiction(guess: Prediction, label: str, taxonomy: Taxonomy) -> float:
    """The stack's probability for the first class of its walk off ``label``'s path."""
    on_path = set(taxonomy.path(label))
    return next((p for c, p in zip(guess.path, guess.probs, strict=True) if c not in on_path),
                0.0)


def _walk_probability(guess: Prediction) -> float:
    """The stack's probability of where its walk ended: its choices' product."""
    return float(np.prod(guess.probs))


def guess_text(guess: Prediction) -> str:
    """``round/six``; ``round (stopped: six 0.41 < 0.50)`` for a walk that stopped."""
    walked = "/".join(guess.path)
    if guess.stop is None:
        return walked
    stop = guess.stop
    return (f"{walked or stop.node} (stopped: {stop.best} {stop.probability:.2f} < "
            f"{stop.threshold:.2f})")


def queue_rows(scope: pd.DataFrame, taxonomy: Taxonomy, crowd: Crowd,
               split_of: Mapping[str, str], guesses: list[Prediction] | None,
               out_of_fold: OutOfFold | None = None) -> pd.DataFrame:
    """The images of ``scope`` (:func:`in_scope`) that are queued, most disputed first.

    Args:
        split_of: each image's split (``train``, ``val``, ``test``); absent: not split.
        guesses: the live stack's walk for each row of ``scope``, in its order; None
            when no stack is live.
        out_of_fold: the out-of-fold model's verdict on each row of ``scope``, in its
            order; None when it was not computed.

    Returns:
        One row per image: ``id``, ``path``, ``stored``, ``label``, ``label_source``,
        ``split``, ``votes`` (``circle: 2, oval: 1``), ``crowd_label``,
        ``crowd_confidence``, ``agreement``, ``guess`` (:func:`guess_text`),
        ``guess_probability`` (the stack's probability of the class its walk ended at:
        the product of its choices), ``contradiction``, ``out_of_sample``,
        ``out_of_fold`` (the doubt; NaN: none), ``out_of_fold_guess``, ``evidence``
        (:func:`evidence`), ``likely_error``, ``suggestion`` (the class the evidence
        names for a likely error, else "") and ``score``.
    """
    table = scope[["id", "path", "stored", "label", "label_source"]].reset_index(drop=True)
    table["split"] = table["id"].map(split_of).fillna("")
    table["out_of_sample"] = table["split"] != TRAIN
    table = _with_crowd(table, crowd)
    table = _with_guesses(table, guesses or [None] * len(table), taxonomy)
    table = _with_out_of_fold(table, out_of_fold)
    doubt = table["out_of_fold"].fillna(0.0)
    table["evidence"] = [evidence(c, o, d) for c, o, d in
                         zip(table["contradiction"], table["out_of_sample"], doubt, strict=True)]
    table["likely_error"] = table["evidence"] >= LIKELY_ERROR
    table["suggestion"] = _suggestions(table, doubt)
    table["score"] = [disagreement(None if pd.isna(a) else a, c, o, d) for a, c, o, d in
                      zip(table["agreement"], table["contradiction"], table["out_of_sample"],
                          doubt, strict=True)]
    queued = table[table["votes"].ne("") | table["contradiction"].gt(0) | doubt.gt(0)]
    return queued.sort_values(["score", "id"], ascending=[False, True], kind="stable")


def in_scope(manifest: pd.DataFrame, node: str, taxonomy: Taxonomy, crowd: Crowd
             ) -> pd.DataFrame:
    """The images the queue considers: in use, labelled under ``node``, not decided by the
    expert; the live stack's guesses are for these, in this order."""
    rows = under_node(manifest, node, taxonomy)
    expert = rows["label_source"].eq(EXPERT) | rows["id"].isin(crowd.decided)
    return rows[~expert]


def read_splits(file: Path) -> dict[str, str]:
    """Each image's split from ``data/splits.parquet``; none before the first split."""
    if not file.is_file():
        return {}
    splits = pd.read_parquet(file, columns=["id", "split"])
    return dict(zip(splits["id"], splits["split"], strict=True))


def _with_crowd(table: pd.DataFrame, crowd: Crowd) -> pd.DataFrame:
    labels = crowd.labels.drop_duplicates("id", keep="last").set_index("id")
    table["votes"] = table["id"].map(_votes(crowd.answers)).fillna("")
    table["crowd_label"] = table["id"].map(labels["label"]).fillna("")
    table["crowd_confidence"] = table["id"].map(_numbers(labels["confidence"]))
    table["agreement"] = table["id"].map(_numbers(labels["label_agreement"]))
    return table


def _votes(answers: pd.DataFrame) -> pd.Series:
    """Per image, ``circle: 2, oval: 1``: its answers counted, most given first."""
    counts = answers.groupby(["id", "label"]).size().reset_index(name="n")
    counts = counts.sort_values(["id", "n", "label"], ascending=[True, False, True])
    said = counts["label"] + ": " + counts["n"].astype(str)
    return said.groupby(counts["id"]).agg(", ".join)


def _numbers(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column.replace("", np.nan), errors="coerce")


def _with_out_of_fold(table: pd.DataFrame, out_of_fold: OutOfFold | None) -> pd.DataFrame:
    if out_of_fold is None:
        table["out_of_fold"], table["out_of_fold_guess"] = np.nan, ""
    else:
        table["out_of_fold"], table["out_of_fold_guess"] = out_of_fold.doubt, out_of_fold.likeliest
    return table


def _suggestions(table: pd.DataFrame, doubt: pd.Series) -> list[str]:
    """For a likely error, the class named by the stronger witness (:func:`evidence`):
    the stack's walk's end when its out-of-sample contradiction wins, else the
    out-of-fold model's likeliest leaf; "" otherwise."""
    stack_wins = table["out_of_sample"] & (table["contradiction"] > doubt)
    return [("" if not likely else walk_end if by_stack else oof)
            for likely, by_stack, walk_end, oof in
            zip(table["likely_error"], stack_wins, table["guess_end"],
                table["out_of_fold_guess"], strict=True)]


def _with_guesses(table: pd.DataFrame, guesses: list[Prediction | None], taxonomy: Taxonomy
                  ) -> pd.DataFrame:
    walked = list(zip(guesses, table["label"], strict=True))
    table["guess"] = [guess_text(g) if g else "" for g, _ in walked]
    table["guess_probability"] = [_walk_probability(g) if g and g.probs else None
                                  for g, _ in walked]
    table["contradiction"] = [contradiction(g, label, taxonomy) if g else 0.0
                              for g, label in walked]
    table["guess_end"] = [(g.label or "") if g else "" for g, _ in walked]
    return table
