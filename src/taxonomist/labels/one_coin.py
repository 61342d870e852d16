"""One-coin Dawid-Skene by EM on arrays, with the live stack as one more annotator.

The model is crowd-kit's :class:`~crowdkit.aggregation.OneCoinDawidSkene` (Zhang et al.,
2016): worker ``w`` gives the true class with probability ``s_w`` (its *skill*) and each
other class with ``(1 - s_w) / (K - 1)``; EM alternates the posterior of each task's
class (E) with each worker's skill, the mean posterior of the classes they gave (M). It
is fitted here on integer codes with numpy because crowd-kit's fit rebuilds a worker x
class matrix with pandas ``apply`` on every iteration: the same fit, 10 to 50 times
slower (``bench/label.py``).

The live stack answers with a probability per class rather than one class. It is scored
like a worker whose answer is uncertain: its log-likelihood for true class ``y`` is the
expectation of a one-coin worker's over its answer, ``p(y) log s + (1 - p(y))
log((1 - s) / (K - 1))``, and its skill ``s`` is fitted by the same M-step: the mean,
over the tasks it spoke about, of the posterior probability it gave the true class. A
stack that is often wrong earns a low skill, so its weight falls with its quality; a
calibrated stack that is unsure spreads its vote and weighs little on that task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-10  # crowd-kit's floor for probabilities: no log of 0
N_ITER, TOL = 100, 1e-5  # crowd-kit's defaults: at most 100 rounds, stop when the bound gains less


@dataclass(frozen=True)
class Answers:
    """Integer-coded answers: answer ``i`` is worker ``workers[i]`` saying class
    ``labels[i]`` about task ``tasks[i]``; ``model`` is the stack's (tasks, K)
    probabilities, NaN rows where it says nothing (None: no stack)."""

    tasks: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    n_tasks: int
    n_workers: int
    n_classes: int
    model: np.ndarray | None = None

    @property
    def spoken(self) -> np.ndarray:
        """The tasks the stack gave probabilities for (a boolean mask)."""
        if self.model is None:
            return np.zeros(self.n_tasks, bool)
        return ~np.isnan(self.model).any(axis=1)


@dataclass(frozen=True)
class Fit:
    """The fitted posterior and skills.

    Attributes:
        probas: (tasks, K) posterior probability of each class.
        skills: (workers,) each worker's estimated accuracy.
        model_skill: the stack's estimated accuracy; None when it spoke about no task.
    """

    probas: np.ndarray
    skills: np.ndarray
    model_skill: float | None

    def weights(self, n_classes: int) -> tuple[np.ndarray, float | None]:
        """Each worker's vote weight and the stack's: the log-odds ``log(s (K - 1) / (1 -
        s))`` of giving the true class against one given other class, at least 0 (a
        skill below chance is not counted as evidence against what it said)."""
        def log_odds(skill: np.ndarray) -> np.ndarray:
            right, wrong = _error_rates(skill, n_classes)
            return np.maximum(np.log(right) - np.log(wrong), 0.0)

        model = None if self.model_skill is None else float(log_odds(
            np.array([self.model_skill]))[0])
        return log_odds(self.skills), model


def fit_one_coin(answers: Answers, n_iter: int = N_ITER, tol: float = TOL) -> Fit:
    """Fit the one-coin model to ``answers`` by EM, starting from the vote shares (the
    stack's probabilities counting as one vote), as crowd-kit does."""
    spoken = answers.spoken
    probas = _vote_shares(answers, spoken)
    priors, skills, model_skill = _m_step(answers, probas, spoken)
    scores = _log_scores(answers, spoken, priors, skills, model_skill)
    bound = -np.inf
    for _ in range(n_iter):
        probas = _softmax(scores)
        priors, skills, model_skill = _m_step(answers, probas, spoken)
        scores = _log_scores(answers, spoken, priors, skills, model_skill)
        new_bound = _evidence_lower_bound(probas, scores) / len(answers.tasks)
        if new_bound - bound < tol:
            break
        bound = new_bound
    return Fit(probas, skills, model_skill if spoken.any() else None)


def _vote_shares(answers: Answers, spoken: np.ndarray) -> np.ndarray:
    votes = np.zeros((answers.n_tasks, answers.n_classes))
    np.add.at(votes, (answers.tasks, answers.labels), 1.0)
    if answers.model is not None:
        votes[spoken] += answers.model[spoken]
    return votes / votes.sum(axis=1, keepdims=True)


def _m_step(answers: Answers, probas: np.ndarray, spoken: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, float]:
    """Class priors, each worker's skill (the mean posterior of the classes they gave)
    and the stack's (the mean posterior it put on the true class)."""
    given = probas[answers.tasks, answers.labels]
    skills = (np.bincount(answers.workers, weights=given, minlength=answers.n_workers)
              / np.bincount(answers.workers, minlength=answers.n_workers))
    model_skill = 0.0
    if spoken.any():
        model_skill = float((probas[spoken] * answers.model[spoken]).sum(axis=1).mean())
    return probas.mean(axis=0), skills, model_skill


def _error_rates(skill: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A one-coin annotator's chance of the true class and of one given other class."""
    wrong = (1.0 - skill) / max(n_classes - 1, 1)
    return np.clip(skill, EPS, 1 - EPS), np.clip(wrong, EPS, 1 - EPS)


def _log_scores(answers: Answers, spoken: np.ndarray, priors: np.ndarray,
                skills: np.ndarray, model_skill: float) -> np.ndarray:
    """(tasks, K) log prior plus log-likelihood of every answer, for each true class."""
    right, wrong = np.log(_error_rates(skills, answers.n_classes))
    scores = np.tile(np.log(np.clip(priors, EPS, None)), (answers.n_tasks, 1))
    # every answer is "wrong" for each class but the one it gave, which gets the difference
    scores += np.bincount(answers.tasks, weights=wrong[answers.workers],
                          minlength=answers.n_tasks)[:, None]
    np.add.at(scores, (answers.tasks, answers.labels), (right - wrong)[answers.workers])
    if spoken.any():
        model_right, model_wrong = np.log(_error_rates(np.array([model_skill]),
                                                       answers.n_classes))
        said = answers.model[spoken]
        scores[spoken] += said * model_right + (1.0 - said) * model_wrong
    return scores


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _evidence_lower_bound(probas: np.ndarray, scores: np.ndarray) -> float:
    """The expected log joint under ``probas`` plus their entropy: EM's objective."""
    clipped = np.clip(probas, EPS, None)
    return float((probas * scores).sum() - (clipped * np.log(clipped)).sum())
