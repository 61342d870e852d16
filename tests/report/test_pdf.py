from __future__ import annotations

import io
import re
import shutil
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from taxonomist.contracts.baselines import FLAT, SVC_PIXELS, BaselineScore
from taxonomist.report import PdfWarning, write_model_card
from taxonomist.report.pdf import engines_to_try
from taxonomist.report.render import latex_environment
from taxonomist.stack.build import write_stopping_views
from tests.report.make_inputs import taxonomy, write_inputs
from tests.stack.made_up import stopping_report


def pdf_text(path: Path) -> str:
    """The PDF's text with whitespace collapsed (extraction breaks lines anywhere)."""
    pages = PdfReader(io.BytesIO(path.read_bytes())).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def embedded_fonts(path: Path) -> set[str]:
    """The base names of the fonts the PDF's pages use, subset prefixes dropped."""
    return {str(font.get_object()["/BaseFont"]).split("+")[-1].lstrip("/")
            for page in PdfReader(path).pages
            for font in page["/Resources"]["/Font"].values()}


def test_html_to_pdf_beside_every_copy_of_the_card(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, "promote", new_shape=True)
    card = write_model_card(paths, taxonomy(), pdf="xhtml2pdf")
    assert (card.pdf_path, card.pdf_engine, card.pdf_warning) == (
        tmp_path / "reports" / "model_card.pdf", "xhtml2pdf", None
    )
    reports = tmp_path / "reports"
    assert card.pdf_paths == [reports / d / "model_card.pdf" for d in ("", "3", "live")]
    for pdf in card.pdf_paths:
        assert pdf.read_bytes().startswith(b"%PDF")
    text = pdf_text(card.pdf_path)
    assert "PROMOTE" in text and "McNemar" in text and "0.0031" in text
    assert "+0.0040 to +0.0205" in text
    assert "straight/four → round/six" in text  # the gallery, arrows and all
    # matplotlib's DejaVu files lie outside the folder xhtml2pdf may read by default
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= embedded_fonts(card.pdf_path)


def test_latex_typesets_the_card_whatever_the_text(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, "investigate", new_shape=True)
    nasty = r"50% of {six}_1 & $x^2 ~ #3 \ <b> | “citroën” → 0.9 ≥ 0.8 ✓"
    paths.promotion.write_text(paths.promotion.read_text().replace(
        "regression beyond", nasty.replace("\\", "\\\\").replace('"', '\\"') + " regression beyond"
    ))
    card = write_model_card(paths, taxonomy(), pdf="pdflatex")
    assert (card.pdf_engine, card.pdf_warning) == ("pdflatex", None)
    assert card.pdf_path.read_bytes().startswith(b"%PDF")
    text = pdf_text(card.pdf_path)
    assert "50% of {six}" in text and "& $" in text and "#3" in text and "“citroen”" in text
    assert "McNemar" in text and "regression" in text


def test_a_failing_tex_engine_falls_back_to_html_to_pdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "pdflatex"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf '! Undefined control sequence.\\n' > card.log\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    paths = write_inputs(tmp_path / "project")
    with pytest.warns(PdfWarning, match="made with xhtml2pdf after pdflatex: pdflatex exited 1: "
                                        "! Undefined control sequence"):
        card = write_model_card(paths, taxonomy())
    assert card.pdf_engine == "xhtml2pdf"
    assert card.pdf_path.read_bytes().startswith(b"%PDF")


def test_without_any_engine_the_html_stays_and_stale_pdfs_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "xhtml2pdf", None)  # as if not installed
    paths = write_inputs(tmp_path, "promote")
    stale = [tmp_path / "reports" / d / "model_card.pdf" for d in ("", "3", "live")]
    for pdf in stale:
        pdf.parent.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(b"%PDF an older version")
    with pytest.warns(PdfWarning, match=r"(?s)model card PDF not written \(xhtml2pdf: "
                                        r"xhtml2pdf is not installed.*hint: pip install"):
        card = write_model_card(paths, taxonomy(), pdf="xhtml2pdf")
    assert card.pdf_path is None and card.pdf_warning.startswith("model card PDF not written")
    assert all(html.is_file() for html in card.html_paths)
    assert not any(pdf.exists() for pdf in stale)


@pytest.mark.parametrize(("on_path", "expected"), [
    ((), ["xhtml2pdf"]),
    (("xelatex", "tectonic"), ["xelatex", "xhtml2pdf"]),
    (("pdflatex", "xelatex"), ["pdflatex", "xhtml2pdf"]),
])
def test_auto_prefers_an_installed_tex_engine(
    monkeypatch: pytest.MonkeyPatch, on_path: tuple[str, ...], expected: list[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/x/{name}" if name in on_path else None)
    assert engines_to_try() == expected


def test_an_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="must be one of pdflatex, xelatex, tectonic, "
                                         "xhtml2pdf, got 'word'"):
        engines_to_try("word")


@pytest.mark.parametrize(("text", "unicode_engine", "latex"), [
    ("a_b & 50%", False, r"a\_b \& 50\%"),
    ("{x} $y$ #1", False, r"\{x\} \$y\$ \#1"),
    ("~^\\", False, r"\textasciitilde{}\textasciicircum{}\textbackslash{}"),
    ("<b>|", False, "$<$b$>$$|$"),
    ("six → zero — 0.9 ≥ 0.8", False, r"six $\rightarrow$ zero --- 0.9 $\geq$ 0.8"),
    ("citroën ✓", False, "citroen ?"),
    ("citroën ✓", True, "citroën ✓"),
])
def test_latex_escaping(text: str, unicode_engine: bool, latex: str) -> None:
    template = latex_environment().from_string("((( x | tex )))")
    assert template.render(x=text, unicode_engine=unicode_engine) == latex


def test_the_latex_card_has_the_baselines_and_the_stopping_sections(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, "promote", new_shape=True)
    write_stopping_views(paths, stopping_report(taxonomy().inner_nodes))
    for score in (BaselineScore(FLAT, 0.9311, 0.9302), BaselineScore(SVC_PIXELS, 0.9422, 0.9419)):
        score.write(paths.stack_metrics.parent)
    card = write_model_card(paths, taxonomy(), pdf="pdflatex")
    assert (card.pdf_engine, card.pdf_warning) == ("pdflatex", None)
    text = pdf_text(card.pdf_path)
    assert "Against the baselines, on the same test images" in text
    assert "0.9311" in text and "0.9422 0.9419" in text
    assert "Calibrated stopping" in text and "hand-set" in text
    assert re.search(r"bayes.risk none 0\.9000 0\.1800 1\.8000", text)  # the extracted _ varies
