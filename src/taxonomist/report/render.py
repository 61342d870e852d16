"""The Jinja2 environments of the card: HTML (screen and print) and LaTeX.

Both read the same context (:class:`taxonomist.report.card.CardContext`) and share the
number formats below, so the HTML card, its PDF and the LaTeX PDF show the same digits.
The LaTeX environment uses ``((* ... *))`` blocks and ``((( ... )))`` variables, since
LaTeX itself is full of braces and percent signs.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from taxonomist.report.latex import escape_latex, verbatim

HTML_TEMPLATE = "model_card.html.j2"
LATEX_TEMPLATE = "model_card.tex.j2"


def render_html(
    card: Any, for_print: bool = False, font_dir: str = "", page_dir: Path | None = None
) -> str:
    """The card as one HTML page.

    Args:
        card: the card's context.
        for_print: lay out for an HTML-to-PDF converter (tables instead of flexbox,
            fixed image widths, fonts from ``font_dir``) instead of for a browser.
        font_dir: a folder with DejaVu Sans TTF files, for ``for_print``.
        page_dir: where the page will be written; links to local files (the Data Docs)
            are made relative to it. None: no such links (a PDF).
    """
    docs = getattr(card.validation, "docs", None)
    docs_href = os.path.relpath(docs, page_dir) if docs and page_dir else None
    template = html_environment().get_template(HTML_TEMPLATE)
    return template.render(card=card, for_print=for_print, font_dir=font_dir,
                           docs_href=docs_href)


def render_latex(card: Any, image: Any, unicode_engine: bool) -> str:
    """The card as a LaTeX document.

    Args:
        card: the card's context.
        image: called with a data URI, returns the file name LaTeX should include.
        unicode_engine: True for xelatex/tectonic (UTF-8 fonts), False for pdflatex.
    """
    template = latex_environment().get_template(LATEX_TEMPLATE)
    return template.render(card=card, image=image, unicode_engine=unicode_engine)


@cache
def html_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("taxonomist.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("j2",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    _add_filters(env)
    return env


@cache
def latex_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("taxonomist.report", "templates"),
        autoescape=False,  # LaTeX: values go through the `tex` filter instead
        undefined=StrictUndefined,
        block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))",
        comment_start_string="((=", comment_end_string="=))",
        trim_blocks=True,
        lstrip_blocks=True,
    )
    _add_filters(env)
    env.filters["tex"] = escape_latex
    env.filters["verbatim"] = verbatim
    return env


def fmt(value: float | None, digits: int = 4) -> str:
    """``0.9620``; an em dash where there is no number."""
    return "—" if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 4) -> str:
    """``+0.0120`` or ``-0.0500``; an em dash where there is no number."""
    return "—" if value is None else f"{value:+.{digits}f}"


def p_value(value: float | None) -> str:
    """Three significant digits (``0.0031``, ``1.2e-07``); an em dash for none."""
    return "—" if value is None else f"{value:.3g}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _add_filters(env: Environment) -> None:
    env.filters["num"] = fmt
    env.filters["signed"] = signed
    env.filters["pvalue"] = p_value
    env.filters["percent"] = percent
