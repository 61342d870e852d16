"""The card as a PDF: through LaTeX when a TeX engine is installed, else xhtml2pdf.

LaTeX typesets best, but a TeX distribution is a system install that a laptop, a CI
runner or a slim container may not have; xhtml2pdf is pure Python (reportlab underneath)
and comes with taxonomist, so a PDF can always be made. Its fonts are the DejaVu Sans
files matplotlib ships, which cover the arrows and dashes the card uses. A PDF that
cannot be made is never an error: the HTML card is already written, and the result says
why in a sentence a person can act on.
"""

from __future__ import annotations

import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxonomist.report.latex import TEX_ENGINES, LatexFailed, latex_pdf
from taxonomist.report.render import render_html, render_latex

HTML_ENGINE = "xhtml2pdf"
ENGINES = (*TEX_ENGINES, HTML_ENGINE)


class PdfWarning(UserWarning):
    """The model card's PDF could not be made (the HTML card was written)."""


class HtmlPdfFailed(Exception):
    """xhtml2pdf is missing or could not convert the card."""


@dataclass(frozen=True)
class PdfResult:
    """What :func:`write_pdf` made.

    Attributes:
        path: the PDF, or None when none could be made.
        engine: the engine that made it (``"pdflatex"``, ..., ``"xhtml2pdf"``).
        warning: why there is no PDF, or why it came from the fallback; else None.
        seconds: how long making it took, every engine tried included.
    """

    path: Path | None
    engine: str | None
    warning: str | None
    seconds: float


def write_pdf(card: Any, target: Path, engine: str | None = None) -> PdfResult:
    """Write the card for ``card`` (a card context) as a PDF at ``target``.

    Args:
        card: the context the templates render.
        target: where the PDF goes, e.g. ``reports/model_card.pdf``.
        engine: one of :data:`ENGINES`; None tries the first TeX engine on PATH, then
            xhtml2pdf.

    Raises:
        ValueError: ``engine`` is not one of :data:`ENGINES`.
    """
    start, problems = time.perf_counter(), []
    for name in engines_to_try(engine):
        try:
            pdf = _latex_pdf(card, name) if name in TEX_ENGINES else html_pdf(card)
        except (LatexFailed, HtmlPdfFailed) as err:
            problems.append(f"{name}: {err}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pdf)
        warning = None if not problems else (
            f"model card PDF made with {name} after {'; '.join(problems)}"
        )
        return PdfResult(target, name, warning, time.perf_counter() - start)
    target.unlink(missing_ok=True)
    return PdfResult(None, None, _no_pdf_warning(target, problems), time.perf_counter() - start)


def engines_to_try(engine: str | None = None) -> list[str]:
    """``[engine]`` if one was asked for, else the first TeX engine on PATH and xhtml2pdf."""
    if engine is not None:
        if engine not in ENGINES:
            raise ValueError(f"pdf engine must be one of {', '.join(ENGINES)}, got '{engine}'")
        return [engine]
    installed = [name for name in TEX_ENGINES if shutil.which(name)]
    return [*installed[:1], HTML_ENGINE]


def html_pdf(card: Any) -> bytes:
    """The card's print layout converted by xhtml2pdf.

    Raises:
        HtmlPdfFailed: xhtml2pdf is not installed or reported errors.
    """
    try:
        from xhtml2pdf import pisa
        from xhtml2pdf.config.resources import ResourceAccessPolicy
    except ImportError:
        raise HtmlPdfFailed(
            "xhtml2pdf is not installed (pip install xhtml2pdf, or reinstall taxonomist)"
        ) from None
    fonts = dejavu_folder()
    html = render_html(card, for_print=True, font_dir=fonts)
    buffer = io.BytesIO()
    # xhtml2pdf reads local files under the working directory only; the fonts are
    # matplotlib's, outside it (refused, the card fell back to Helvetica, arrows lost)
    policy = ResourceAccessPolicy(allow_remote=False, extra_roots=(Path(fonts),))
    result = pisa.CreatePDF(html, dest=buffer, encoding="utf-8", resource_policy=policy)
    if result.err or not buffer.getvalue().startswith(b"%PDF"):
        raise HtmlPdfFailed(f"xhtml2pdf reported {result.err} error(s) converting the card")
    return buffer.getvalue()


def _latex_pdf(card: Any, engine: str) -> bytes:
    return latex_pdf(lambda images, unicode: render_latex(card, images, unicode), engine)


def dejavu_folder() -> str:
    """The folder of the DejaVu Sans TTF files matplotlib ships, as a POSIX path."""
    import matplotlib

    return (Path(matplotlib.get_data_path()) / "fonts" / "ttf").as_posix()


def _no_pdf_warning(target: Path, problems: list[str]) -> str:
    html = target.with_suffix(".html")
    return (
        f"model card PDF not written ({'; '.join(problems)}); the HTML card {html} is "
        "complete\n  hint: pip install xhtml2pdf, or put pdflatex, xelatex or tectonic on PATH"
    )
