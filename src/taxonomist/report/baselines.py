"""The card's "against the baselines" table: the stack next to a flat network and an SVC.

All three are scored on the same frozen test images (leaf-labelled ones); the numbers come
from ``metrics/stack.json`` and the baseline stage's files, nothing is recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from taxonomist.contracts.baselines import FLAT, SVC_PIXELS, BaselineScore

DESCRIPTIONS = {
    FLAT: "flat network: one classifier over every leaf, trained like the root node",
    SVC_PIXELS: "SVC on downscaled grey pixels (scikit-learn)",
}


@dataclass(frozen=True)
class BaselineComparison:
    """The rows of the table and what they say.

    Attributes:
        stack_leaf_accuracy: the stack's leaf accuracy on the test split.
        baselines: each baseline's scores, with a description per name in ``DESCRIPTIONS``.
        beaten_by: the baselines whose leaf accuracy is at least the stack's.
    """

    stack_leaf_accuracy: float
    baselines: list[BaselineScore]
    beaten_by: list[str]

    @staticmethod
    def describe(name: str) -> str:
        return DESCRIPTIONS.get(name, name)

    @property
    def verdict(self) -> str:
        if not self.beaten_by:
            return "The stack beats every baseline on leaf accuracy."
        which = " and the ".join(self.beaten_by)
        plural = "s" if len(self.beaten_by) > 1 else ""
        return (f"The stack does not beat the {which} baseline{plural} on leaf accuracy: a "
                "hierarchy that a simpler model matches is a bug to fix, not a result.")


def compare_with_baselines(
    stack_leaf_accuracy: float, baselines: list[BaselineScore]
) -> BaselineComparison | None:
    """None when the baseline stage has not written anything (nothing to show)."""
    if not baselines:
        return None
    beaten_by = [b.name for b in baselines if b.leaf_accuracy >= stack_leaf_accuracy]
    return BaselineComparison(stack_leaf_accuracy, baselines, beaten_by)
