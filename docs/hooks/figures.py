"""MkDocs hook: a marker line becomes the table a benchmark wrote, with where it came from.

In a page, a line of its own::

    <!-- figures: label import -->

is replaced by table ``import`` of ``bench/results/label.json`` (what ``python -m
bench.label`` writes, see ``bench/record.py``) as a Markdown table, followed by one line
saying when, at which commit and on which machine it was measured, and the command that
measures it again. A marker naming a file or a table that does not exist stops the build
(``mkdocs build`` and ``mkdocs build --strict`` alike), so no page shows a figure that
no result file holds. Markers inside fenced code blocks are left as they are.

Enabled in ``mkdocs.yml`` with ``hooks: [docs/hooks/figures.py]``.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

RESULTS_DIR = Path(__file__).resolve().parents[2] / "bench" / "results"
MARKER = re.compile(r"^<!-- figures: (?P<bench>[\w.-]+) (?P<table>[\w.-]+) -->\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
SIGNIFICANT = 3  # digits shown of a figure that does not say how many decimals it has
NO_SPACE_UNITS = {"×"}  # "4.20×", but "8.8 s"


class FiguresError(PluginError):
    """A marker that no result file answers; the message names the page and what to run."""


def on_page_markdown(markdown: str, *, page: Any, **_: Any) -> str:
    """MkDocs' hook: every marker of the page replaced by its table."""
    return render_markers(markdown, RESULTS_DIR, page.file.src_path)


def render_markers(markdown: str, results_dir: Path, where: str = "the page") -> str:
    """``markdown`` with every marker line (outside fenced code) replaced by its table.

    Raises:
        FiguresError: a marker names a result file or a table that does not exist.
    """
    out = []
    for number, line, in_code in lines_with_fences(markdown):
        found = None if in_code else MARKER.match(line)
        if found is None:
            out.append(line)
            continue
        at = f"{where} line {number}"
        out.append(render_marker(found["bench"], found["table"], results_dir, at))
    return "".join(out)


def lines_with_fences(markdown: str) -> Iterator[tuple[int, str, bool]]:
    """(line number, line with its end, inside a fenced code block) for every line."""
    fence = None
    for number, line in enumerate(markdown.splitlines(keepends=True), 1):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
            yield number, line, True
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            yield number, line, True
        else:
            yield number, line, False


def render_marker(bench: str, table: str, results_dir: Path, at: str = "a marker") -> str:
    """Table ``table`` of ``<results_dir>/<bench>.json`` and its provenance line."""
    result = load_result(results_dir, bench, at)
    tables = result.get("tables", {})
    if table not in tables:
        raise FiguresError(
            f"{at}: {results_dir / (bench + '.json')} has no table {table!r} (it has "
            f"{', '.join(sorted(tables)) or 'none'}); name one of those in the marker, or "
            f"run `{shlex.join(result['command'])}` with a version of the bench that writes it")
    return f"\n{markdown_table(tables[table])}\n\n{provenance(result)}\n"


def load_result(results_dir: Path, bench: str, at: str = "a marker") -> dict[str, Any]:
    """The result file of ``bench``, read."""
    path = results_dir / f"{bench}.json"
    if not path.is_file():
        known = sorted(p.stem for p in results_dir.glob("*.json"))
        raise FiguresError(
            f"{at}: no result file {path} (results: {', '.join(known) or 'none'}); run "
            f"`python -m bench.{bench}` from the repository root and commit "
            f"bench/results/{bench}.json, or remove the marker")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise FiguresError(f"{at}: {path} is not JSON ({err}); run the bench again") from err


def markdown_table(table: dict[str, Any]) -> str:
    """A result file's table as Markdown: a header row, then one row per result row."""
    columns = table["columns"]
    lines = [_row([_escape(column) for column in columns]), _row(["---"] * len(columns))]
    lines += [_row([format_cell(cell) for cell in row]) for row in table["rows"]]
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def format_cell(cell: Any) -> str:
    """Text as it is, nothing as an empty cell, a figure as its number and unit (and, for
    a ratio, what it is against; for an interval, its bounds)."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return _escape(cell)
    digits = cell.get("digits")
    text = format_number(cell["value"], digits)
    if "interval" in cell:
        low, high = (format_number(bound, digits) for bound in cell["interval"])
        text += f" [{low}, {high}]"
    unit = cell["unit"]
    if unit:
        text += unit if unit in NO_SPACE_UNITS else f" {unit}"
    if cell.get("against"):
        text += f" {cell['against']}"
    return _escape(text)


def format_number(value: float, digits: int | None = None) -> str:
    """``value`` with ``digits`` decimals, or three significant digits; thousands
    separated by commas."""
    if digits is None:
        magnitude = math.floor(math.log10(abs(value))) if value else 0
        digits = max(0, SIGNIFICANT - 1 - magnitude)
    return f"{value:,.{digits}f}"


def provenance(result: dict[str, Any]) -> str:
    """One line: when, at which commit, on which machine, and the command to re-measure."""
    machine = result["machine"]
    commit = (result.get("commit") or "no commit")[:10]
    state = ", with uncommitted changes" if result.get("dirty") else ""
    threads = machine.get("torch_threads")
    threads_text = f"{threads} torch threads, " if threads else ""
    load = machine["load_average"][0]
    date = datetime.fromisoformat(result["date"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<small>Measured {date} at `{commit}`{state}, "
            f"on {machine['cpu']} ({machine['cores']} cores, {threads_text}load average "
            f"{load:.2f} at start), in {result['duration_s']:.0f} s. Re-measure: "
            f"`{shlex.join(result['command'])}`</small>")
