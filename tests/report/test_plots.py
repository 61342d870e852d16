from __future__ import annotations

import io

import pytest
from PIL import Image

from taxonomist.report.comparison import SideBySide
from taxonomist.report.plots import comparison_chart, comparison_figure, png_data_uri


def rows(n: int, live: bool, margin: float | None = None) -> list[SideBySide]:
    return [SideBySide(f"c{i}", 0.9, 0.95 if live else None, margin,
                       "regression" if i == 0 else "ok") for i in range(n)]


@pytest.mark.parametrize("live", [False, True])
def test_comparison_chart_is_a_png_that_grows_with_the_rows(live: bool) -> None:
    small = Image.open(io.BytesIO(comparison_chart(rows(3, live, 0.05), "recall")))
    large = Image.open(io.BytesIO(comparison_chart(rows(12, live, 0.05), "recall")))
    assert small.format == large.format == "PNG"
    assert large.height > small.height


def test_a_side_without_a_number_draws_no_bar() -> None:
    png = comparison_chart([SideBySide("six", None, 0.8), SideBySide("zero", 0.9, None)], "x")
    assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize("row", [SideBySide("a", 0.97, 0.99, margin=0.05),
                                 SideBySide("a", 0.03, None), SideBySide("a", None, None)])
def test_the_value_axis_runs_from_0_to_1_whatever_the_values(row: SideBySide) -> None:
    assert comparison_figure([row], "recall").axes[0].get_xlim() == (0.0, 1.0)


def test_png_data_uri() -> None:
    assert png_data_uri(b"\x89PNG") == "data:image/png;base64,iVBORw=="
