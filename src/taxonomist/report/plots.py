"""Charts for the model card, drawn off-screen and embedded as PNG data URIs.

Figures are built with :class:`matplotlib.figure.Figure` on an Agg canvas rather than
through ``pyplot``: no global backend is switched and no figure is left open, so the
report can run inside any process (a test, a notebook, a server) without side effects.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CHALLENGER_COLOUR, LIVE_COLOUR = "#2b6cb0", "#a0aec0"


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for an ``<img src>`` that needs no other file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_data_uri(path: Path) -> str | None:
    """The PNG at ``path`` as a data URI, or None when the plot was not written."""
    return png_data_uri(path.read_bytes()) if path.is_file() else None


def recall_chart(
    classes: Sequence[str],
    challenger: Mapping[str, float],
    live: Mapping[str, float] | None,
    challenger_label: str = "challenger",
    live_label: str = "live",
) -> bytes:
    """Horizontal bars of per-class recall, challenger beside live, as PNG bytes.

    Horizontal so that long class names stay readable and the figure grows with the
    number of classes instead of squeezing the labels.

    Args:
        classes: the classes to show, top to bottom (e.g. the taxonomy's leaves).
        challenger: recall per class of the new stack; a missing class counts as 0.
        live: recall per class of the stack that was live, or None when nothing was.
        challenger_label: legend text for the challenger, e.g. ``"v3 (challenger)"``.
        live_label: legend text for live, e.g. ``"v2 (live)"``.
    """
    figure = Figure(figsize=(7.0, max(2.0, 0.45 * len(classes) + 1.0)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rows = list(range(len(classes)))[::-1]  # first class at the top
    height = 0.4 if live is not None else 0.7
    offset = height / 2 if live is not None else 0.0
    axes.barh(
        [r + offset for r in rows], [challenger.get(c, 0.0) for c in classes],
        height=height, color=CHALLENGER_COLOUR, label=challenger_label,
    )
    if live is not None:
        axes.barh(
            [r - offset for r in rows], [live.get(c, 0.0) for c in classes],
            height=height, color=LIVE_COLOUR, label=live_label,
        )
    axes.set_yticks(rows, list(classes))
    axes.set_xlim(0.0, 1.0)
    axes.set_xlabel("recall on the frozen test split")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
