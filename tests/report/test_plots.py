from __future__ import annotations

import io

import pytest
from PIL import Image

from taxonomist.report.plots import png_data_uri, recall_chart

CLASSES = ["zero", "six", "one"]


@pytest.mark.parametrize("live", [None, {"zero": 0.5, "six": 0.7, "one": 1.0}])
def test_recall_chart_is_a_png_that_grows_with_the_classes(live: dict | None) -> None:
    small = Image.open(io.BytesIO(recall_chart(CLASSES, {"zero": 0.9, "six": 0.8}, live)))
    large = Image.open(io.BytesIO(recall_chart([f"c{i}" for i in range(30)], {}, live)))
    assert small.format == large.format == "PNG"
    assert large.height > small.height


def test_png_data_uri() -> None:
    assert png_data_uri(b"\x89PNG") == "data:image/png;base64,iVBORw=="
