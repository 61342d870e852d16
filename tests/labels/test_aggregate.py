"""The default aggregation against the plain baseline, majority vote, on a simulated crowd
shaped like a labelling batch: 3 answers per image from a pool of workers of mixed care;
and the live stack heard as one more annotator, weighed by how often it is right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import OneCoinDawidSkene

from taxonomist.config import Aggregation
from taxonomist.config.schema import CrowdConfig
from taxonomist.labels.aggregate import Aggregate, ModelOpinion, aggregate

CLASSES, POOL, PER_IMAGE = 10, 60, 3
STACK = "digits.stack v3 (@live)"


def simulated_crowd(images: int, seed: int = 0, accuracy: tuple[float, float] = (0.45, 0.95)
                    ) -> tuple[pd.DataFrame, pd.Series]:
    """Answers (task, worker, label) and each task's true label; each worker's accuracy
    drawn from ``accuracy`` (low, high), a wrong answer any other class."""
    rng = np.random.default_rng(seed)
    skill = rng.uniform(*accuracy, POOL)
    truth = rng.integers(0, CLASSES, images)
    rows = []
    for task, true in enumerate(truth):
        for worker in rng.choice(POOL, PER_IMAGE, replace=False):
            wrong = rng.choice([c for c in range(CLASSES) if c != true])
            said = true if rng.random() < skill[worker] else wrong
            rows.append((f"t{task}", f"w{worker}", f"c{said}"))
    answers = pd.DataFrame(rows, columns=["task", "worker", "label"])
    return answers, pd.Series([f"c{t}" for t in truth], index=[f"t{i}" for i in range(images)])


def simulated_stack(truth: pd.Series, accuracy: float, seed: int = 0) -> ModelOpinion:
    """A stack that puts 0.9 on the true class of ``accuracy`` of the tasks and 0.9 on a
    wrong one of the others, the rest spread evenly: as sure when wrong as when right."""
    rng = np.random.default_rng(seed)
    codes = truth.str.removeprefix("c").astype(int).to_numpy()
    wrong = (codes + rng.integers(1, CLASSES, len(codes))) % CLASSES
    said = np.where(rng.random(len(codes)) < accuracy, codes, wrong)
    probabilities = np.full((len(codes), CLASSES), 0.1 / (CLASSES - 1))
    probabilities[np.arange(len(codes)), said] = 0.9
    return ModelOpinion(STACK, pd.DataFrame(probabilities, index=truth.index,
                                            columns=[f"c{c}" for c in range(CLASSES)]))


def right(result: Aggregate, truth: pd.Series) -> float:
    labels = result.images.set_index("task")["label"]
    return float((labels.reindex(truth.index) == truth).mean())


def model_quality(result: Aggregate) -> float:
    return float(result.workers.set_index("worker").loc[STACK, "quality"])


def test_the_default_aggregation_labels_at_least_as_many_images_right_as_majority_vote(
) -> None:
    answers, truth = simulated_crowd(1000)  # ~50 answers per worker
    default = CrowdConfig().aggregation
    assert (right(aggregate(answers, default), truth)
            >= right(aggregate(answers, Aggregation.majority_vote), truth))


def test_without_a_stack_the_default_labels_as_crowd_kit_s_one_coin_dawid_skene() -> None:
    answers, _ = simulated_crowd(500, seed=3)
    ours = aggregate(answers, Aggregation.one_coin_dawid_skene)
    theirs = OneCoinDawidSkene(n_iter=100).fit(answers)
    labels = ours.images.set_index("task")["label"]
    assert labels.reindex(theirs.labels_.index).equals(theirs.labels_.rename("label"))
    quality = ours.workers.set_index("worker")["quality"].reindex(theirs.skills_.index)
    assert np.allclose(quality, theirs.skills_, atol=0.01)
    assert ours.model is None and ours.images["model_label"].eq("").all()


def test_three_workers_at_0_7_with_a_good_stack_label_at_least_95_percent_right() -> None:
    answers, truth = simulated_crowd(600, seed=1, accuracy=(0.7, 0.7))
    crowd_alone = right(aggregate(answers, Aggregation.one_coin_dawid_skene), truth)
    with_stack = aggregate(answers, Aggregation.one_coin_dawid_skene,
                           simulated_stack(truth, 0.97))
    assert right(with_stack, truth) >= 0.95 > crowd_alone
    assert with_stack.model == STACK


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_poor_stack_weighs_less_and_never_labels_fewer_right_than_majority_vote(
    seed: int
) -> None:
    answers, truth = simulated_crowd(600, seed=seed, accuracy=(0.7, 0.7))
    good = aggregate(answers, Aggregation.one_coin_dawid_skene, simulated_stack(truth, 0.97))
    poor = aggregate(answers, Aggregation.one_coin_dawid_skene, simulated_stack(truth, 0.5))
    assert model_quality(poor) < 0.5 < 0.8 < model_quality(good)
    assert poor.images["model_weight"].mean() < good.images["model_weight"].mean()
    assert right(poor, truth) >= right(aggregate(answers, Aggregation.majority_vote), truth)


def test_the_stack_is_heard_only_on_the_tasks_it_spoke_about() -> None:
    answers, truth = simulated_crowd(200, seed=4)
    spoken = simulated_stack(truth, 0.97)
    held_out = truth.index[::2]
    result = aggregate(answers, Aggregation.one_coin_dawid_skene,
                       ModelOpinion(STACK, spoken.probabilities.loc[held_out]))
    images = result.images.set_index("task")
    heard = images["model_label"].ne("")
    assert set(images.index[heard]) == set(held_out)
    assert images.loc[~heard, "model_weight"].isna().all()
    assert images.loc[heard, "model_weight"].between(0, 1).all()
    assert result.workers.set_index("worker").loc[STACK, "answers"] == len(held_out)


def test_the_other_aggregations_do_not_hear_the_stack() -> None:
    answers, truth = simulated_crowd(100, seed=5)
    voted = aggregate(answers, Aggregation.majority_vote, simulated_stack(truth, 1.0))
    assert voted.model is None and STACK not in set(voted.workers["worker"])
