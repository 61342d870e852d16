"""Charts for the model card, drawn off-screen and embedded as PNG data URIs.

Figures are built with :class:`matplotlib.figure.Figure` on an Agg canvas rather than
through ``pyplot``: no global backend is switched and no figure is left open, so the
report can run inside any process (a test, a notebook, a server) without side effects.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from taxonomist.contracts.comparison import Status
from taxonomist.report.comparison import SideBySide

CHALLENGER_COLOUR, LIVE_COLOUR, FLOOR_COLOUR = "#2b6cb0", "#a0aec0", "#c53030"
STATUS_COLOURS = {Status.REGRESSION: "#c53030", Status.INCONCLUSIVE: "#c05621"}


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for an ``<img src>`` that needs no other file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_data_uri(path: Path) -> str | None:
    """The PNG at ``path`` as a data URI, or None when the plot was not written."""
    return png_data_uri(path.read_bytes()) if path.is_file() else None


def comparison_chart(rows: Sequence[SideBySide], xlabel: str, **labels: str) -> bytes:
    """:func:`comparison_figure` as PNG bytes (``labels``: its legend texts)."""
    buffer = io.BytesIO()
    comparison_figure(rows, xlabel, **labels).savefig(buffer, format="png")
    return buffer.getvalue()


def comparison_figure(
    rows: Sequence[SideBySide],
    xlabel: str,
    challenger_label: str = "challenger",
    live_label: str = "live",
) -> Figure:
    """Grouped horizontal bars, challenger above live per row.

    Where a row carries a non-inferiority margin, a dashed red tick marks live minus the
    margin: the challenger's bar must reach past it. Names of rows whose check failed are
    coloured (red: regression, orange: inconclusive). The axis runs from 0 to 1, so bar
    lengths compare as the values do (the tables beside the chart give the differences);
    horizontal, so long names stay readable and the figure grows with the rows.

    Args:
        rows: top to bottom, e.g. the nodes in taxonomy order.
        xlabel: what the values are, e.g. ``"recall on the frozen test split"``.
        challenger_label: legend text for the challenger, e.g. ``"v3 (challenger)"``.
        live_label: legend text for live, e.g. ``"v2 (live)"``.
    """
    has_live = any(r.live is not None for r in rows)
    figure = Figure(figsize=(7.0, max(2.0, (0.5 if has_live else 0.35) * len(rows) + 1.2)),
                    dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    ys = list(range(len(rows)))[::-1]  # first row at the top
    height = 0.38 if has_live else 0.6
    offset = height / 2 if has_live else 0.0
    axes.barh([y + offset for y in ys], [_value(r.challenger) for r in rows], height=height,
              color=CHALLENGER_COLOUR, label=challenger_label)
    if has_live:
        axes.barh([y - offset for y in ys], [_value(r.live) for r in rows], height=height,
                  color=LIVE_COLOUR, label=live_label)
    _draw_floors(axes, rows, ys)
    axes.set_yticks(ys, [r.name for r in rows])
    for label, row in zip(axes.get_yticklabels(), rows, strict=True):
        label.set_color(STATUS_COLOURS.get(row.status or "", "black"))
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(-0.6, len(rows) - 0.4)
    axes.set_xlabel(xlabel)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False,
                fontsize="small")
    figure.tight_layout()
    return figure


def _draw_floors(axes, rows: Sequence[SideBySide], ys: Sequence[int]) -> None:
    labelled = False
    for row, y in zip(rows, ys, strict=True):
        if row.floor is None:
            continue
        axes.plot([row.floor, row.floor], [y - 0.45, y + 0.45], color=FLOOR_COLOUR,
                  linestyle="--", linewidth=1.5,
                  label=None if labelled else "live − margin (non-inferiority)")
        labelled = True


def _value(value: float | None) -> float:
    return math.nan if value is None else value  # no bar where a side has no number
