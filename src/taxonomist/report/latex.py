"""The card typeset by LaTeX, for machines with a TeX engine on PATH.

The LaTeX template (``templates/model_card.tex.j2``) reads the same context as the HTML
card. Every value goes through :func:`escape_latex`, so a class name with an underscore
or a reason with a percent sign cannot break the document; the charts and thumbnails,
data URIs in the context, are written out as PNG files beside the ``.tex`` file. The
document is compiled once, in a temporary folder, with shell escape off.
"""

from __future__ import annotations

import base64
import re
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, pass_context
from jinja2.runtime import Context

TEX_ENGINES = ("pdflatex", "xelatex", "tectonic")
TIMEOUT_S = 120
LOG_LINES = 6

_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": "$<$", ">": "$>$", "|": "$|$",
}
_SYMBOLS = {
    "→": r"$\rightarrow$", "←": r"$\leftarrow$", "—": "---", "–": "--", "−": "$-$",
    "·": r"$\cdot$", "≥": r"$\geq$", "≤": r"$\leq$", "…": r"\ldots{}", "×": r"$\times$",
    "±": r"$\pm$", "“": "``", "”": "''", "‘": "`", "’": "'",
}
_ESCAPE = re.compile("|".join(re.escape(c) for c in [*_SPECIAL, *_SYMBOLS]))


class LatexFailed(Exception):
    """The TeX engine is missing, failed or ran past :data:`TIMEOUT_S`."""


def latex_pdf(render: Callable[[ImageFiles, bool], str], engine: str) -> bytes:
    """Typeset a document with ``engine`` and return the PDF's bytes.

    Args:
        render: makes the LaTeX source, given where to write images and whether the
            engine reads UTF-8 (xelatex, tectonic) or not (pdflatex).
        engine: one of :data:`TEX_ENGINES`.

    Raises:
        LatexFailed: with the engine's first error lines.
    """
    with tempfile.TemporaryDirectory(prefix="model-card-") as folder:
        work = Path(folder)
        try:
            source = render(ImageFiles(work), engine != "pdflatex")
        except TemplateError as err:  # a bug here must not cost the card its PDF
            raise LatexFailed(f"the LaTeX template failed: {err}") from err
        (work / "card.tex").write_text(source, encoding="utf-8")
        try:
            done = subprocess.run(
                _command(engine), cwd=work, capture_output=True, text=True,
                timeout=TIMEOUT_S, stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise LatexFailed(f"{engine} is not on PATH") from None
        except subprocess.TimeoutExpired:
            raise LatexFailed(f"{engine} ran for more than {TIMEOUT_S} s") from None
        pdf = work / "card.pdf"
        if done.returncode != 0 or not pdf.is_file():
            raise LatexFailed(f"{engine} exited {done.returncode}: {_errors(work, done)}")
        return pdf.read_bytes()


class ImageFiles:
    """Writes each data URI it is called with as ``imgN.png`` and returns that name."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.count = folder, 0

    def __call__(self, data_uri: str) -> str:
        self.count += 1
        name = f"img{self.count}.png"
        payload = data_uri.split(",", 1)[1]
        (self.folder / name).write_bytes(base64.b64decode(payload))
        return name


@pass_context
def escape_latex(context: Context, value: Any) -> str:
    """``value`` as LaTeX text: special characters escaped, symbols as LaTeX commands.

    For pdflatex (``unicode_engine`` false in the template), any other non-ASCII
    character is folded to its ASCII base letter (``ë`` -> ``e``) or ``?``, since its
    fonts cannot draw them and an unknown character would stop the run.
    """
    text = _ESCAPE.sub(lambda m: _SPECIAL.get(m.group(), _SYMBOLS.get(m.group(), "")), str(value))
    return text if context.get("unicode_engine") else ascii_fold(text)


def ascii_fold(text: str) -> str:
    """``text`` in ASCII: accents dropped, anything else a ``?``.

    Example:
        >>> ascii_fold("citroën → ✓")
        'citroen ? ?'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.encode("ascii", "replace").decode("ascii")


def verbatim(text: str) -> str:
    """``text`` safe inside a ``verbatim`` environment (ASCII, no early end)."""
    return ascii_fold(text).replace(r"\end{verbatim}", r"\end {verbatim}")


def _command(engine: str) -> list[str]:
    if engine == "tectonic":
        return ["tectonic", "--chatter", "minimal", "card.tex"]
    return [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "card.tex"]


def _errors(work: Path, done: subprocess.CompletedProcess) -> str:
    log = work / "card.log"
    text = log.read_text(errors="replace") if log.is_file() else done.stdout + done.stderr
    errors = [line for line in text.splitlines() if line.startswith("!")]
    lines = errors or text.strip().splitlines()[-LOG_LINES:]
    return " | ".join(line.strip() for line in lines[:LOG_LINES]) or "no log"
