"""Several workers' answers -> one label per image, with crowd-kit.

One-coin Dawid-Skene (the default) fits one accuracy per worker by EM, so a careful
worker outvotes two careless ones; full Dawid-Skene fits a whole confusion matrix per
worker, which a worker's handful of answers at one node cannot pin down (on a simulated
crowd of 3 answers per image it labelled fewer images right than majority vote, see
``bench/label.py``); majority vote counts every answer the same; MACE models each worker
as knowing the answer or spamming. Each gives a probability per
class per image (the label is the likeliest) and an estimate of each worker's quality.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from crowdkit.aggregation import MACE, DawidSkene, MajorityVote, OneCoinDawidSkene

from taxonomist.config import Aggregation

# a fixed seed: the same answers give the same labels on every machine
_SEED = 0


@dataclass(frozen=True)
class Aggregate:
    """What crowd-kit made of a batch's answers.

    Attributes:
        images: one row per task: ``task``, ``label``, ``confidence`` (the aggregator's
            probability of that label), ``workers`` (how many answered) and ``agreement``
            (the share of them who gave that label).
        workers: one row per worker: ``worker``, ``quality`` (either Dawid-Skene: the
            chance the worker's answer is right, by the priors; majority vote: the share of
            answers that agree with the label; MACE: the chance the worker is not
            spamming) and ``answers``.
    """

    images: pd.DataFrame
    workers: pd.DataFrame


def aggregate(answers: pd.DataFrame, method: Aggregation) -> Aggregate:
    """Aggregate ``answers`` (columns task, worker, label) by ``method``."""
    data = answers[["task", "worker", "label"]].reset_index(drop=True)
    model, quality = _FITTERS[method](data)
    probas = model.probas_
    label = probas.idxmax(axis="columns")
    images = pd.DataFrame({"task": probas.index, "label": label.values,
                           "confidence": probas.max(axis="columns").values})
    counts = data.groupby("task")["worker"].count()
    agreeing = data[data["label"] == data["task"].map(label)].groupby("task")["worker"].count()
    images["workers"] = images["task"].map(counts).astype(int)
    images["agreement"] = images["task"].map(agreeing).fillna(0) / images["workers"]
    workers = pd.DataFrame({"worker": quality.index, "quality": quality.values})
    workers["answers"] = workers["worker"].map(data.groupby("worker")["task"].count())
    return Aggregate(images.reset_index(drop=True), workers)


def _dawid_skene(data: pd.DataFrame) -> tuple[DawidSkene, pd.Series]:
    model = DawidSkene(n_iter=100).fit(data)
    errors, priors = model.errors_, model.priors_  # errors.loc[(worker, said), truth]
    quality = {
        worker: sum(priors[truth] * errors.loc[(worker, truth), truth]
                    for truth in priors.index if (worker, truth) in errors.index)
        for worker in data["worker"].unique()
    }
    return model, pd.Series(quality, dtype=float)


def _one_coin_dawid_skene(data: pd.DataFrame) -> tuple[OneCoinDawidSkene, pd.Series]:
    model = OneCoinDawidSkene(n_iter=100).fit(data)
    return model, model.skills_


def _majority_vote(data: pd.DataFrame) -> tuple[MajorityVote, pd.Series]:
    model = MajorityVote().fit(data)
    return model, model.skills_


def _mace(data: pd.DataFrame) -> tuple[MACE, pd.Series]:
    model = MACE(random_state=_SEED).fit(data)
    workers = pd.factorize(data["worker"])[1]  # MACE's own order of the workers
    return model, pd.Series(model.spamming_[:, 1], index=workers, dtype=float)


_FITTERS = {
    Aggregation.one_coin_dawid_skene: _one_coin_dawid_skene,
    Aggregation.dawid_skene: _dawid_skene,
    Aggregation.majority_vote: _majority_vote,
    Aggregation.mace: _mace,
}
