"""The default aggregation against the plain baseline, majority vote, on a simulated crowd
shaped like a labelling batch: 3 answers per image from a pool of workers of mixed care."""

from __future__ import annotations

import numpy as np
import pandas as pd

from taxonomist.config import Aggregation
from taxonomist.config.schema import CrowdConfig
from taxonomist.labels.aggregate import aggregate

CLASSES, POOL, PER_IMAGE = 10, 60, 3


def simulated_crowd(images: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Answers (task, worker, label) and each task's true label; worker accuracy from
    0.45 to 0.95, a wrong answer any other class."""
    rng = np.random.default_rng(seed)
    accuracy = rng.uniform(0.45, 0.95, POOL)
    truth = rng.integers(0, CLASSES, images)
    rows = []
    for task, true in enumerate(truth):
        for worker in rng.choice(POOL, PER_IMAGE, replace=False):
            wrong = rng.choice([c for c in range(CLASSES) if c != true])
            said = true if rng.random() < accuracy[worker] else wrong
            rows.append((f"t{task}", f"w{worker}", f"c{said}"))
    answers = pd.DataFrame(rows, columns=["task", "worker", "label"])
    return answers, pd.Series([f"c{t}" for t in truth], index=[f"t{i}" for i in range(images)])


def right(method: Aggregation, answers: pd.DataFrame, truth: pd.Series) -> float:
    labels = aggregate(answers, method).images.set_index("task")["label"]
    return float((labels.reindex(truth.index) == truth).mean())


def test_the_default_aggregation_labels_at_least_as_many_images_right_as_majority_vote(
) -> None:
    answers, truth = simulated_crowd(1000)  # ~50 answers per worker
    default = CrowdConfig().aggregation
    assert right(default, answers, truth) >= right(Aggregation.majority_vote, answers, truth)
