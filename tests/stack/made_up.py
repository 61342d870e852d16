"""A made-up :class:`StoppingReport`: the stack stage's calibration tables, for the tests
of what reads them (DVC's plots, the model card)."""

from __future__ import annotations

import pandas as pd

from taxonomist.contracts.metrics import DecodingScores, NodeCalibration
from taxonomist.stack.tuning import StoppingReport


def stopping_report(nodes: list[str], risk: float = 0.05) -> StoppingReport:
    """Every node at temperature 1.5, ECE 0.03 -> 0.01, threshold 0.5 by hand; the stack's
    risk at full coverage is ``risk``; Bayes risk a little better than greedy."""
    curve = pd.DataFrame({"threshold": [0.0, 0.5, 0.9], "coverage": [1.0, 0.8, 0.5],
                          "risk": [risk, 0.02, 0.0]})
    rows = [NodeCalibration(n, 1.5, 0.03, 0.01, 0.5, None, 10, 0.9, 10, 0.9, 1.0)
            for n in nodes]
    scores = [DecodingScores("greedy", "none", 0.9, 0.2, 2.0, 1.0, 0.9),
              DecodingScores("bayes_risk", "none", 0.9, 0.18, 1.8, 1.0, 0.9)]
    return StoppingReport(rows, dict.fromkeys(nodes, curve), curve, scores)
