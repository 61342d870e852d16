from __future__ import annotations

import re

import pytest

from taxonomist.config import PromotionConfig
from taxonomist.errors import ConfigError
from taxonomist.promote import INVESTIGATE, PROMOTE, decide

RULE = PromotionConfig(
    metric="leaf_accuracy", min_improvement=0.01, max_class_recall_drop=0.05, min_metric=0.8
)


def stack(acc: float, **recalls: float) -> dict:
    return {"leaf_accuracy": acc, "per_class_recall": {"a": 0.9, "b": 0.9, **recalls}}


@pytest.mark.parametrize(
    ("challenger", "live", "decision", "reason"),
    [
        (stack(0.85), None, PROMOTE, "nothing is live"),
        (stack(0.75), None, INVESTIGATE, "below the floor"),
        (stack(0.93), stack(0.90), PROMOTE, r"improved by \+0.0300"),
        (stack(0.905), stack(0.90), INVESTIGATE, "not more than min_improvement"),
        (stack(0.90), stack(0.90), INVESTIGATE, r"changed by \+0.0000"),
        (stack(0.88), stack(0.90), INVESTIGATE, r"changed by -0.0200"),
        (stack(0.95, b=0.8), stack(0.90), INVESTIGATE, r"class recall fell .*b \(-0.100\)"),
        (stack(0.95, b=0.86), stack(0.90), PROMOTE, "improved"),  # a drop within margin
    ],
)
def test_decision_rule(challenger, live, decision: str, reason: str) -> None:
    result = decide(RULE, challenger, live)
    assert result.decision == decision
    assert re.search(reason, result.reason), result.reason


def test_recall_drops_are_recorded() -> None:
    result = decide(RULE, stack(0.95, a=0.7, b=0.8), stack(0.90))
    assert result.class_recall_drops == {"a": 0.2, "b": 0.1}


def test_unknown_metric_lists_valid_ones() -> None:
    rule = PromotionConfig(metric="leaf_acc")
    with pytest.raises(ConfigError, match="use one of: leaf_accuracy"):
        decide(rule, stack(0.9), None)
