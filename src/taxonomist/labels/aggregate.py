"""Several workers' answers (and the live stack's probabilities) -> one label per image.

One-coin Dawid-Skene (the default) fits one accuracy per worker by EM, so a careful
worker outvotes two careless ones; with a live stack, the stack is one more annotator in
that EM, its accuracy estimated with the workers' (:mod:`taxonomist.labels.one_coin`).
Full Dawid-Skene fits a whole confusion matrix per worker, which a worker's handful of
answers at one node cannot pin down (on a simulated crowd of 3 answers per image it
labelled fewer images right than majority vote, see ``bench/label.py``); majority vote
counts every answer the same; MACE models each worker as knowing the answer or spamming
(these three are crowd-kit's, and hear the workers only). Each gives a probability per
class per image (the label is the likeliest) and an estimate of each worker's quality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from crowdkit.aggregation import MACE, DawidSkene, MajorityVote

from taxonomist.config import Aggregation
from taxonomist.labels.one_coin import Answers, Fit, fit_one_coin

# a fixed seed: the same answers give the same labels on every machine
_SEED = 0
# what a row of ``Aggregate.images`` says about the stack when it was not heard
_UNHEARD = {"model_label": "", "model_probability": np.nan, "model_weight": np.nan}


@dataclass(frozen=True)
class ModelOpinion:
    """The live stack's calibrated probabilities of a batch's classes.

    Attributes:
        name: which stack, e.g. ``digits.stack v3 (@live)``: its row in the workers' table.
        probabilities: one row per task it may speak about (index: the task), one column
            per class; the tasks it may not (it trained on their label) are absent.
    """

    name: str
    probabilities: pd.DataFrame


@dataclass(frozen=True)
class Aggregate:
    """What the aggregation made of a batch's answers.

    Attributes:
        images: one row per task: ``task``, ``label``, ``confidence`` (the aggregator's
            probability of that label), ``workers`` (how many answered), ``agreement``
            (the share of them who gave that label), and what the stack said:
            ``model_label`` (its likeliest class; blank where it was not heard),
            ``model_probability`` (its probability of that class) and ``model_weight``
            (its share of the task's evidence: its vote weight over the sum of its own
            and the task's workers', each the log-odds of its estimated accuracy).
        workers: one row per worker: ``worker``, ``quality`` (either Dawid-Skene: the
            chance the worker's answer is right, by the priors; majority vote: the share of
            answers that agree with the label; MACE: the chance the worker is not
            spamming) and ``answers``; the stack is a row too when it was heard.
        model: the stack's name when it was heard (on at least one task); else None.
    """

    images: pd.DataFrame
    workers: pd.DataFrame
    model: str | None = None


def aggregate(answers: pd.DataFrame, method: Aggregation,
              model: ModelOpinion | None = None) -> Aggregate:
    """Aggregate ``answers`` (columns task, worker, label) by ``method``.

    Args:
        model: the live stack's probabilities, heard by one-coin Dawid-Skene only (the
            other methods take one answer per annotator).
    """
    data = answers[["task", "worker", "label"]].reset_index(drop=True)
    if method is Aggregation.one_coin_dawid_skene:
        return _one_coin_dawid_skene(data, model)
    probas, quality = _FITTERS[method](data)
    images = _image_rows(data, probas)
    return Aggregate(images.assign(**_UNHEARD), _worker_rows(data, quality))


def _image_rows(data: pd.DataFrame, probas: pd.DataFrame) -> pd.DataFrame:
    label = probas.idxmax(axis="columns")
    images = pd.DataFrame({"task": probas.index, "label": label.values,
                           "confidence": probas.max(axis="columns").values})
    counts = data.groupby("task")["worker"].count()
    agreeing = data[data["label"] == data["task"].map(label)].groupby("task")["worker"].count()
    images["workers"] = images["task"].map(counts).astype(int)
    images["agreement"] = images["task"].map(agreeing).fillna(0) / images["workers"]
    return images.reset_index(drop=True)


def _worker_rows(data: pd.DataFrame, quality: pd.Series) -> pd.DataFrame:
    workers = pd.DataFrame({"worker": quality.index, "quality": quality.values})
    workers["answers"] = workers["worker"].map(data.groupby("worker")["task"].count())
    return workers


def _one_coin_dawid_skene(data: pd.DataFrame, model: ModelOpinion | None) -> Aggregate:
    task_codes, tasks = pd.factorize(data["task"])
    worker_codes, workers = pd.factorize(data["worker"])
    said = None if model is None else model.probabilities
    classes = sorted(set(data["label"]) | set([] if said is None else said.columns))
    coded = Answers(task_codes, worker_codes,
                    pd.Index(classes).get_indexer(data["label"]), len(tasks), len(workers),
                    len(classes), None if said is None else
                    said.reindex(columns=classes, fill_value=0.0).reindex(tasks).to_numpy())
    fit = fit_one_coin(coded)
    images = _image_rows(data, pd.DataFrame(fit.probas, index=tasks, columns=classes))
    quality = pd.Series(fit.skills, index=workers, dtype=float)
    if model is None or fit.model_skill is None:
        return Aggregate(images.assign(**_UNHEARD), _worker_rows(data, quality))
    return Aggregate(_with_model(images, coded, fit, classes),
                     _with_model_row(_worker_rows(data, quality), model, fit, coded),
                     model.name)


def _with_model(images: pd.DataFrame, coded: Answers, fit: Fit, classes: list[str]
                ) -> pd.DataFrame:
    """The stack's likeliest class, its probability and its share of each task's evidence
    (``images`` is in the order of the task codes)."""
    spoken, said = coded.spoken, coded.model
    worker_weights, model_weight = fit.weights(coded.n_classes)
    crowd_weight = np.bincount(coded.tasks, weights=worker_weights[coded.workers],
                               minlength=coded.n_tasks)
    best = np.nan_to_num(said).argmax(axis=1)
    share = model_weight / np.maximum(model_weight + crowd_weight, np.finfo(float).tiny)
    return images.assign(
        model_label=np.where(spoken, np.array(classes, dtype=object)[best], ""),
        model_probability=np.where(spoken, said[np.arange(len(best)), best], np.nan),
        model_weight=np.where(spoken, share, np.nan))


def _with_model_row(workers: pd.DataFrame, model: ModelOpinion, fit: Fit, coded: Answers
                    ) -> pd.DataFrame:
    row = pd.DataFrame({"worker": [model.name], "quality": [fit.model_skill],
                        "answers": [int(coded.spoken.sum())]})
    return pd.concat([workers, row], ignore_index=True)


def _dawid_skene(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    model = DawidSkene(n_iter=100).fit(data)
    errors, priors = model.errors_, model.priors_  # errors.loc[(worker, said), truth]
    quality = {
        worker: sum(priors[truth] * errors.loc[(worker, truth), truth]
                    for truth in priors.index if (worker, truth) in errors.index)
        for worker in data["worker"].unique()
    }
    return model.probas_, pd.Series(quality, dtype=float)


def _majority_vote(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    model = MajorityVote().fit(data)
    return model.probas_, model.skills_


def _mace(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    model = MACE(random_state=_SEED).fit(data)
    workers = pd.factorize(data["worker"])[1]  # MACE's own order of the workers
    return model.probas_, pd.Series(model.spamming_[:, 1], index=workers, dtype=float)


_FITTERS = {
    Aggregation.dawid_skene: _dawid_skene,
    Aggregation.majority_vote: _majority_vote,
    Aggregation.mace: _mace,
}
