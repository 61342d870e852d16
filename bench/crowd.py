"""A simulated crowd: the Mechanical Turk results CSV of workers of known accuracy.

Each image of each batch goes to ``per_image`` workers drawn from the pool, each of whom
gives the image's recorded label with their accuracy, else another class of the batch
at random (uniform mistakes: the one-coin model's own assumption).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomist.config import Paths
from taxonomist.labels.batch import Batch

HIT_COLUMNS = ("HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "Input.batch",
               "Input.task_id", "Input.node", "Answer.label")


def simulated_answers(batches: list[Batch], paths: Paths, accuracy: np.ndarray,
                      per_image: int, seed: int = 0) -> tuple[Path, pd.Series]:
    """A results CSV as Mechanical Turk writes it, and each task's true label.

    Args:
        accuracy: one per worker of the pool (worker ``W000`` is the first).
        per_image: how many of them answer each image.
    """
    rng = np.random.default_rng(seed)
    file, truth = paths.root / "mturk_results.csv", []
    with file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HIT_COLUMNS)
        for batch in batches:
            tasks, classes = batch.tasks(paths.label_batches), np.array(batch.classes)
            truth.append(tasks.set_index("task_id")["label"])
            for task in tasks.itertuples():
                for worker in rng.choice(len(accuracy), per_image, replace=False):
                    right = rng.random() < accuracy[worker]
                    answer = task.label if right else rng.choice(classes[classes != task.label])
                    writer.writerow([f"H{task.task_id[:12]}", f"A{task.Index}-{worker}",
                                     f"W{worker:03d}", "Submitted", batch.batch, task.task_id,
                                     batch.node, answer])
    return file, pd.concat(truth)
