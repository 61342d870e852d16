"""The live stack as one more annotator in ``label import``: ``bench/label.py``'s table
``stack``.

On the digits sample (the repository's ``conf/``, its images as a folder source) trained
by ``taxonomist repro`` at the defaults, two batches of the root are exported: one of
images the stack never trained on (val and test), one at random from every image in
use (most of them train images, where the stack is left out). Each is answered by
:data:`WORKERS` simulated workers of accuracy :data:`ACCURACY` (uniform mistakes) and
imported four ways: majority vote (the baseline), one-coin Dawid-Skene hearing the
workers alone, hearing the live stack too, and hearing a *poor* stack: the live stack's
probabilities with those of half the images turned to another class (as sure, and
wrong). Reported: the share of images given their true label (the sample's own), the
stack's own share where it was heard, and its estimated accuracy (``workers.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.crowd import simulated_answers
from bench.record import Figure, Table
from bench.scale import make_project, sh
from taxonomist.config import Aggregation, Paths, compose_config
from taxonomist.data.manifest import read_manifest
from taxonomist.data.sources import create_source
from taxonomist.labels.aggregate import ModelOpinion
from taxonomist.labels.batch import Batch, Pick, export_batch
from taxonomist.labels.crowd import import_answers
from taxonomist.labels.evidence import Opinion, stack_opinion
from taxonomist.labels.live import require_live
from taxonomist.labels.queue import TRAIN, read_splits

WORKERS, ACCURACY = 3, 0.70
POOR_SHARE = 0.5  # of the images whose probabilities the poor stack turns to a wrong class
SEED = 0


@dataclass(frozen=True)
class Heard:
    """One import of one batch: how it labelled, and what the stack said."""

    right: float  # share of the batch's images given their true label
    stack_right: float | None  # the stack's own share, on the images it was heard on
    stack_quality: float | None  # its estimated accuracy (its row of workers.csv)
    heard: float  # share of the batch's images the stack was heard on


def trained_digits(folder: Path) -> Paths:
    """The digits project in ``folder``: made and trained there when ``folder`` holds no
    project yet, else used as it is (its stack holding @live)."""
    if not (folder / "conf").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        make_project(folder, [], None)
        sh(["taxonomist", "repro"], folder)
    return Paths(folder)


def stack_figures(folder: Path, n: int) -> dict[str, dict[str, Heard]]:
    """Per batch (``held out``, ``at random``), per way of importing, what it gave.

    ``labels/crowd.csv`` is put back as it was afterwards: it is a dependency of the
    ingest stage, and the bench's simulated answers must not retrain the next run's stack.
    """
    paths = trained_digits(folder)
    crowd_file = paths.labels / "crowd.csv"
    before = crowd_file.read_bytes()
    try:
        return _imported_batches(paths, n)
    finally:
        crowd_file.write_bytes(before)


def _imported_batches(paths: Paths, n: int) -> dict[str, dict[str, Heard]]:
    config = compose_config(paths.conf)
    stack = require_live(config.project.mlflow, config.taxonomy.name, paths, "bench.label")
    live = stack_opinion(stack, paths)
    manifest = read_manifest(paths.manifest)
    trained_on = {i for i, split in read_splits(paths.splits).items() if split == TRAIN}
    batches = {"held out": manifest[~manifest["id"].isin(trained_on)], "at random": manifest}
    source = create_source(config.project.data, paths.root)
    figures = {}
    for name, rows in batches.items():
        batch = export_batch(rows, config.taxonomy.root, n, Pick.random, config.taxonomy,
                             source, paths.label_batches, 3600, SEED)
        figures[name] = imported_four_ways(batch, paths, live)
    return figures


def imported_four_ways(batch: Batch, paths: Paths, live: Opinion) -> dict[str, Heard]:
    file, truth = simulated_answers([batch], paths, np.full(WORKERS, ACCURACY), WORKERS, SEED)
    ways = {"majority vote": (Aggregation.majority_vote, None),
            "the workers alone": (Aggregation.one_coin_dawid_skene, None),
            "the workers and the live stack": (Aggregation.one_coin_dawid_skene, live),
            "the workers and a poor stack": (Aggregation.one_coin_dawid_skene, poor(live))}
    return {way: heard(import_answers(file, paths, method, opinion).model, paths, truth)
            for way, (method, opinion) in ways.items()}


def poor(opinion: Opinion) -> Opinion:
    """``opinion`` with the probabilities of :data:`POOR_SHARE` of the images rolled to
    other classes: the stack as sure as before, about a wrong class."""
    def said(batch: Batch, task_ids: pd.Series) -> ModelOpinion:
        heard = opinion(batch, task_ids)
        rng = np.random.default_rng(SEED)
        probabilities = heard.probabilities.to_numpy().copy()
        for row in np.flatnonzero(rng.random(len(probabilities)) < POOR_SHARE):
            probabilities[row] = np.roll(probabilities[row], rng.integers(1, len(batch.classes)))
        return ModelOpinion(f"{heard.name}, poor", pd.DataFrame(
            probabilities, index=heard.probabilities.index, columns=heard.probabilities.columns))

    return said


def heard(stack: str | None, paths: Paths, truth: pd.Series) -> Heard:
    crowd = pd.read_csv(paths.labels / "crowd.csv", dtype=str, keep_default_na=False)
    crowd = crowd.set_index("id").reindex(truth.index)
    spoke = crowd["model_label"].ne("")
    if stack is None or not spoke.any():
        return Heard(float((crowd["label"] == truth).mean()), None, None, 0.0)
    workers = pd.read_csv(paths.crowd_workers).set_index("worker")
    return Heard(float((crowd["label"] == truth).mean()),
                 float((crowd.loc[spoke, "model_label"] == truth[spoke]).mean()),
                 float(workers.loc[stack, "quality"]), float(spoke.mean()))


def stack_table(figures: dict[str, dict[str, Heard]], n: int) -> Table:
    rows = []
    for batch, ways in figures.items():
        baseline = ways["majority vote"].right
        for way, got in ways.items():
            rows.append((f"{n} images {batch}", way, Figure(100 * got.right, "%", digits=1),
                         Figure(100 * (got.right - baseline), "points", digits=1),
                         _percent(got.stack_right), _percent(got.heard or None),
                         None if got.stack_quality is None
                         else Figure(got.stack_quality, "", digits=3)))
    return Table("stack", ("batch", f"{WORKERS} workers at {ACCURACY:.2f}, heard with",
                           "true label", "against majority vote", "the stack alone",
                           "images the stack was heard on", "its estimated accuracy"), rows)


def report_stack(figures: dict[str, dict[str, Heard]], n: int) -> None:
    for row in stack_table(figures, n).rows:
        print(" | ".join(_shown(cell) for cell in row))


def _percent(share: float | None) -> Figure | None:
    return None if share is None else Figure(100 * share, "%", digits=1)


def _shown(cell: Figure | str | None) -> str:
    if cell is None:
        return "-"
    return cell if isinstance(cell, str) else f"{cell.value:.{cell.digits}f} {cell.unit}"
