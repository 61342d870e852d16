"""The card's "Calibrated stopping" section: read from the stack stage's tables in
``plots/_stack/`` (calibration per node, both decodings, risk-coverage curves)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from taxonomist.config import Paths
from taxonomist.contracts.metrics import (
    CALIBRATION_FILE,
    DECODING_FILE,
    NODE_CURVES,
    RISK_COVERAGE_FILE,
    STACK_PLOTS,
    DecodingScores,
    NodeCalibration,
    StackMetrics,
    read_rows,
)
from taxonomist.report.plots import CHALLENGER_COLOUR, png_data_uri


@dataclass(frozen=True)
class StoppingSection:
    """What the card shows of the stack's stopping.

    Attributes:
        nodes: per node its temperature, ECE before and after, threshold and evidence.
        decodings: greedy and Bayes-risk decoding on test, with and without stopping.
        curves_png: the risk-coverage curves as a data URI, None when none were written.
    """

    nodes: list[NodeCalibration]
    decodings: list[DecodingScores]
    curves_png: str | None


def load_stopping(paths: Paths, stack: StackMetrics) -> StoppingSection | None:
    """The section, or None for a stack built before calibrated stopping."""
    folder = paths.node_plots(STACK_PLOTS)
    nodes = read_rows(folder / CALIBRATION_FILE, NodeCalibration)
    if not nodes:
        return None
    curves = {"stack": _curve(folder / RISK_COVERAGE_FILE)} | {
        row.node: _curve(folder / NODE_CURVES / f"{row.node}.csv") for row in nodes}
    drawn = {name: frame for name, frame in curves.items() if frame is not None}
    return StoppingSection(
        nodes, read_rows(folder / DECODING_FILE, DecodingScores),
        png_data_uri(risk_coverage_chart(drawn, stack)) if drawn else None,
    )


def risk_coverage_chart(curves: dict[str, pd.DataFrame], stack: StackMetrics) -> bytes:
    """Risk against coverage for the stack (bold, with its operating point) and each
    node alone, as PNG bytes."""
    figure = Figure(figsize=(7.0, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, curve in curves.items():
        ordered = curve.sort_values("coverage")
        is_stack = name == "stack"
        axes.plot(ordered["coverage"], ordered["risk"], drawstyle="steps-post",
                  linewidth=2.4 if is_stack else 1.2, color=CHALLENGER_COLOUR if is_stack
                  else None, label="stack (one threshold everywhere)" if is_stack else name)
    axes.scatter([stack.coverage], [1 - stack.precision_at_stop], color="#c53030", zorder=5,
                 label="the stack as built (its thresholds)")
    axes.set_xlabel("coverage (stack: walks that reach a leaf; node: images it lets through)")
    axes.set_ylabel("risk (share of wrong answers)")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _curve(path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None
