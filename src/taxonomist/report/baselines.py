"""The card's "against the baselines": the stack next to a flat network and an SVC, image
by image.

All three answered the same frozen test images (the leaf-labelled ones). Whether the
stack beats, ties or loses to a baseline is decided the way the promotion gate decides
between two stacks (:func:`taxonomist.promote.stats.paired_comparison`): the stack's
per-image correctness, as the card's headline leaf accuracy counts it
(``reports/outcomes.parquet``, ``challenger_correct``: a walk that stopped early is a
miss), paired with the baseline's (``plots/_baselines/<name>.csv``). The p-value is the
exact McNemar test on the images only one of the two got right; the interval a bootstrap
of the difference over whole ``set_id`` groups. Below :data:`ALPHA` the sign of the
difference says beats or loses; otherwise it is a tie, so a one-image difference never
decides anything. Nothing is trained or predicted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomist.config import Paths
from taxonomist.contracts.baselines import (
    FLAT,
    PREDICTIONS_DIR,
    SVC_PIXELS,
    BaselineScore,
    predictions_file,
    read_baselines,
    read_predictions,
)
from taxonomist.contracts.comparison import PairedComparison
from taxonomist.errors import DataError
from taxonomist.promote.stats import paired_comparison
from taxonomist.report.mistakes import OUTCOMES_FILE
from taxonomist.report.render import fmt, p_value, percent, signed

ALPHA = 0.05  # the verdict's level: p below it and the sign decides, else a tie
DOCS = 'docs/evaluation.md, "Against the baselines"'
DESCRIPTIONS = {
    FLAT: "flat network: one classifier over every leaf, trained like the root node",
    SVC_PIXELS: "SVC on downscaled grey pixels (scikit-learn)",
}
SHORT_NAMES = {FLAT: "the flat network", SVC_PIXELS: "the SVC on grey pixels"}


class Standing(StrEnum):
    """Where the stack stands against one baseline, by the paired test."""

    BEATS = "beats"
    TIES = "ties with"
    LOSES = "loses to"


@dataclass(frozen=True)
class AgainstBaseline:
    """The stack against one baseline on the test images both answered.

    Attributes:
        name: the baseline, e.g. :data:`~taxonomist.contracts.baselines.FLAT`.
        stack_accuracy, baseline_accuracy: leaf accuracy of each on those images.
        comparison: stack minus baseline, paired; None when there is nothing to pair,
            and ``unpaired`` says which file is missing and what to run.
    """

    name: str
    stack_accuracy: float
    baseline_accuracy: float
    comparison: PairedComparison | None
    unpaired: str | None = None

    @property
    def standing(self) -> Standing | None:
        """Beats or loses only when McNemar's p is below :data:`ALPHA`; None: not tested."""
        c = self.comparison
        if c is None:
            return None
        if c.p_value >= ALPHA or c.difference == 0:
            return Standing.TIES
        return Standing.BEATS if c.difference > 0 else Standing.LOSES

    @property
    def who(self) -> str:
        return SHORT_NAMES.get(self.name, self.name)

    @property
    def numbers(self) -> str:
        """E.g. ``"stack 0.9660 vs 0.9780, difference -0.0120 (95% CI -0.0200 to -0.0040),
        McNemar exact p = 0.0031, on 700 paired test images"``."""
        both = f"stack {fmt(self.stack_accuracy)} vs {fmt(self.baseline_accuracy)}"
        c = self.comparison
        if c is None:
            return f"{both}; not tested image by image: {self.unpaired}"
        return (f"{both}, difference {signed(c.difference)} ({percent(c.confidence)} CI "
                f"{signed(c.ci_low)} to {signed(c.ci_high)}), McNemar exact p = "
                f"{p_value(c.p_value)}, on {c.n_images} paired test images")


@dataclass(frozen=True)
class BaselineComparison:
    """What the card says about the baselines: a line per baseline and the table's rows.

    Attributes:
        stack_leaf_accuracy: the stack's headline leaf accuracy on the test split.
        baselines: each baseline's scores, with a description per name in ``DESCRIPTIONS``.
        against: the stack against each baseline, paired, in the same order.
        advice: what to try when the stack loses to a baseline; None when it does not.
    """

    stack_leaf_accuracy: float
    baselines: list[BaselineScore]
    against: list[AgainstBaseline]
    advice: str | None

    alpha = ALPHA  # shown beside the standings: what "beats" and "loses" mean

    @staticmethod
    def describe(name: str) -> str:
        return DESCRIPTIONS.get(name, name)

    @property
    def loses_to(self) -> list[str]:
        return [a.name for a in self.against if a.standing == Standing.LOSES]

    @property
    def verdict(self) -> str:
        """One sentence over all baselines, from the paired tests' standings."""
        if self.loses_to:
            which = " and the ".join(self.loses_to)
            return (f"The stack loses to the {which} baseline by a paired test: a hierarchy "
                    "that a simpler model beats is a bug to fix, not a result.")
        untested = [a.name for a in self.against if a.standing is None]
        if untested:
            return (f"The stack is not tested image by image against the "
                    f"{' and the '.join(untested)} baseline: the decision above names the "
                    "file that is missing.")
        if all(a.standing == Standing.BEATS for a in self.against):
            return "The stack beats every baseline by a paired test."
        return ("The stack is not shown better than every baseline: a tie means these test "
                "images cannot tell the two apart.")


def loss_advice(root: str) -> str:
    """What a user can try when the stack loses, naming the root's classifier file."""
    return (
        "What to try, one change at a time, on the same test images: train the root on "
        f"the leaves (targets: leaves in conf/classifiers/{root}.yaml) and let the nodes "
        "lean on it (ancestor_weight); more epochs for the deepest nodes, which learn from "
        "the fewest images (accuracy by depth below shows where the stack loses); a larger "
        f"image_size where the leaves differ in small details. See {DOCS}."
    )


def load_baseline_comparison(
    paths: Paths, leaves: list[str], root: str, stack_leaf_accuracy: float,
    outcomes: pd.DataFrame | None,
) -> BaselineComparison | None:
    """Each baseline's scores and answers, paired with the stack's ``outcomes``
    (``reports/outcomes.parquet``; None when the promote stage wrote none).

    Returns:
        None when the baseline stage has not written anything (nothing to show).

    Raises:
        DataError: a baseline's answers are not on the stack's leaf-labelled test images.
    """
    scores = read_baselines(paths.stack_metrics.parent)
    if not scores:
        return None
    against = [_against(paths, leaves, stack_leaf_accuracy, score, outcomes)
               for score in scores]
    return compare_with_baselines(stack_leaf_accuracy, scores, against, root)


def compare_with_baselines(
    stack_leaf_accuracy: float, baselines: list[BaselineScore],
    against: list[AgainstBaseline], root: str,
) -> BaselineComparison:
    """The card's section, with :func:`loss_advice` when the stack loses to any."""
    losing = any(a.standing == Standing.LOSES for a in against)
    return BaselineComparison(stack_leaf_accuracy, baselines, against,
                              loss_advice(root) if losing else None)


def pair_with_stack(
    name: str, outcomes: pd.DataFrame, predictions: pd.DataFrame, leaves: list[str],
    source: Path | str,
) -> AgainstBaseline:
    """The stack's and a baseline's correctness on the same images, matched by ``id``.

    Raises:
        DataError: ``source``'s images are not the leaf-labelled images of ``outcomes``.
    """
    stack = outcomes[outcomes["label"].isin(leaves)]
    both = stack.merge(predictions[["id", "correct"]], on="id", how="outer", indicator=True)
    unanswered = int((both["_merge"] == "left_only").sum())
    foreign = int((both["_merge"] == "right_only").sum())
    if unanswered or foreign or both["id"].duplicated().any():
        raise DataError(
            f"{source}: expected one answer per leaf-labelled test image of the stack "
            f"({len(stack)}), found {len(predictions)}: {unanswered} of the stack's images "
            f"unanswered, {foreign} answers for images it was not tested on; rerun "
            "`dvc repro baseline` so both answer the same frozen test images"
        )
    stack_correct = both["challenger_correct"].to_numpy(bool)
    baseline_correct = both["correct"].to_numpy(bool)
    groups = both["set_id"].to_numpy() if "set_id" in both else None
    return AgainstBaseline(
        name, _rate(stack_correct), _rate(baseline_correct),
        paired_comparison(stack_correct, baseline_correct, groups),
    )


def _against(paths: Paths, leaves: list[str], stack_leaf_accuracy: float,
             score: BaselineScore, outcomes: pd.DataFrame | None) -> AgainstBaseline:
    """Paired when both files are there; else the two rates and the file to make."""
    answers = predictions_file(paths.node_plots(PREDICTIONS_DIR), score.name)
    if outcomes is not None and answers.is_file():
        return pair_with_stack(score.name, outcomes, read_predictions(answers), leaves,
                               answers)
    missing = (f"{paths.reports / OUTCOMES_FILE} is missing (run `dvc repro promote`)"
               if outcomes is None else f"{answers} is missing (run `dvc repro baseline`)")
    return AgainstBaseline(score.name, stack_leaf_accuracy, score.leaf_accuracy, None,
                           missing)


def _rate(correct: np.ndarray) -> float:
    return round(float(correct.mean()), 4) if len(correct) else 0.0
