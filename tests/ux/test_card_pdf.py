"""The model card as a person reads it on paper: tables that run on at their size instead
of shrinking, each number explained where it first appears, captions true to the chart."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from taxonomist.report import write_model_card
from taxonomist.report.glossary import GLOSSARY
from tests.report.make_inputs import check, taxonomy, write_inputs

MANY = 40  # class rows: more than the rest of the page after the chart holds
SMALLEST_PT = 6.0  # the print CSS's smallest type is 6.5 pt


def _sizes_of(pdf: Path, prefix: str) -> dict[str, float]:
    """Every word starting with ``prefix`` and the size it is drawn at on the page (the
    font size times the scale of the text and drawing matrices)."""
    sizes: dict[str, float] = {}

    def visit(text, cm, tm, font, size):
        a, b, c, d = (tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3],
                      tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        for word in text.split():  # engines group words into strings differently
            if word.startswith(prefix):
                sizes[word] = size * abs(a * d - b * c) ** 0.5

    for page in PdfReader(io.BytesIO(pdf.read_bytes())).pages:
        page.extract_text(visitor_text=visit)
    return sizes


def _text(pdf: Path) -> str:
    pages = PdfReader(io.BytesIO(pdf.read_bytes())).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


@pytest.mark.slow  # 25 s a PDF on the shared 2 cores
@pytest.mark.parametrize("engine", ["xhtml2pdf", "pdflatex"])  # .ci/run installs pdflatex
def test_a_long_class_table_runs_on_at_full_size(tmp_path: Path, engine: str):
    paths = write_inputs(tmp_path, "promote", new_shape=True)
    record = json.loads(paths.promotion.read_text())
    record["checks"] += [check("class", f"class{i:02d}", 0.9, 0.9) for i in range(MANY)]
    paths.promotion.write_text(json.dumps(record))
    card = write_model_card(paths, taxonomy(), pdf=engine)
    assert card.pdf_engine == engine, card.pdf_warning
    sizes = _sizes_of(card.pdf_path, "class")
    assert {f"class{i:02d}" for i in range(MANY)} <= set(sizes)
    assert min(sizes.values()) >= SMALLEST_PT, f"shrunk to {min(sizes.values()):.1f} pt"


def test_each_number_is_explained_and_captions_draw_no_margin_on_a_first_promotion(
    tmp_path: Path,
):
    paths = write_inputs(tmp_path, "promote", live=False, new_shape=True)
    card = write_model_card(paths, taxonomy(), pdf="xhtml2pdf")
    text = _text(card.pdf_path)
    for metric in ("leaf_accuracy", "mistake_severity", "distance_at_1", "coverage", "ece"):
        assert " ".join(GLOSSARY[metric].split()) in text, metric
    html = card.path.read_text()
    assert "dashed" not in html and "axis from 0" in html
