"""Every figure the docs publish comes from a result file in ``bench/results/``.

(a) a marker (``<!-- figures: BENCH TABLE -->``, rendered by ``docs/hooks/figures.py``)
that names a missing result file or table stops the build; (b) no measured number is
typed by hand in the docs' or the README's prose; (c) a rendered table says what its
result file says, number for number.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
PAGES = sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]
MARKER = re.compile(r"^<!-- figures: (\S+) (\S+) -->\s*$", re.M)

# A number followed by a unit of time, size, rate, share or speed-up: what a benchmark
# measures. "4.8×" is a speed-up; "8×8" and "10 × 10" are dimensions.
TYPED_FIGURE = re.compile(
    r"(?<![\w.,/-])\d+(?:[.,]\d+)*\s?"
    r"(?:(?:ms|s|sec|seconds?|min|minutes?|hours?|KiB|MiB|GiB|kB|KB|MB|GB|"
    r"img/s|images/s|req/s|requests/s)(?![\w/])|%|[×x](?!\s?\d)(?!\w))"
)
MARKDOWN = MarkdownIt("commonmark").enable("table")


def load_hook() -> ModuleType:
    """``docs/hooks/figures.py``, as MkDocs loads it: by its path."""
    spec = importlib.util.spec_from_file_location("figures_hook", REPO / "docs/hooks/figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = load_hook()


def markers() -> list[tuple[Path, str, str]]:
    """(page, bench, table) of every marker in the docs, outside fenced code."""
    found = []
    for page in PAGES:
        for _, line, in_code in hook.lines_with_fences(page.read_text(encoding="utf-8")):
            match = None if in_code else MARKER.match(line)
            if match:
                found.append((page.relative_to(REPO), match[1], match[2]))
    return found


# --- (a) a marker names an existing result file and table ----------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_marker_of_a_page_renders_from_a_result_file(page: Path) -> None:
    rendered = hook.render_markers(page.read_text(encoding="utf-8"), RESULTS, page.name)
    assert not [line for _, line, in_code in hook.lines_with_fences(rendered)
                if not in_code and MARKER.match(line)]


def test_the_benchmarks_page_shows_figures() -> None:
    assert any(page.name == "benchmarks.md" for page, _, _ in markers())


def result_dir_with(tmp_path: Path, bench: str, record: dict[str, Any]) -> Path:
    (tmp_path / f"{bench}.json").write_text(json.dumps(record))
    return tmp_path


def any_result() -> tuple[str, dict[str, Any]]:
    path = sorted(RESULTS.glob("*.json"))[0]
    return path.stem, json.loads(path.read_text())


def test_a_marker_naming_a_missing_result_file_stops_the_build(tmp_path: Path) -> None:
    page = "# Speed\n\n<!-- figures: nosuchbench import -->\n"
    with pytest.raises(hook.FiguresError, match=r"speed.md line 3: no result file .*"
                       r"nosuchbench.json .*python -m bench.nosuchbench"):
        hook.render_markers(page, tmp_path, "speed.md")


def test_a_marker_naming_a_missing_table_stops_the_build(tmp_path: Path) -> None:
    bench, record = any_result()
    results = result_dir_with(tmp_path, bench, record)
    with pytest.raises(hook.FiguresError, match=rf"line 1: .*{bench}.json has no table "
                       r"'nosuchtable' \(it has "):
        hook.render_markers(f"<!-- figures: {bench} nosuchtable -->\n", results)


def test_a_marker_in_fenced_code_is_shown_not_rendered(tmp_path: Path) -> None:
    page = "```markdown\n<!-- figures: nosuchbench import -->\n```\n"
    assert hook.render_markers(page, tmp_path) == page


@pytest.mark.parametrize("marker, fails", [("", False), ("nosuchbench import", True)])
def test_mkdocs_build_strict_fails_on_a_marker_without_figures(tmp_path: Path, marker: str,
                                                               fails: bool) -> None:
    bench, record = any_result()
    table = next(iter(record["tables"]))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(
        f"# Figures\n\n<!-- figures: {marker or f'{bench} {table}'} -->\n")
    (tmp_path / "mkdocs.yml").write_text(
        f"site_name: t\nhooks:\n  - {REPO / 'docs' / 'hooks' / 'figures.py'}\n")
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert (built.returncode != 0) == fails, built.stderr
    if not fails:
        html = (tmp_path / "site" / "index.html").read_text()
        assert "<table>" in html and record["commit"][:10] in html


# --- (b) no figure typed by hand -------------------------------------------------------------


def prose_lines(text: str, first_line: int = 1) -> Iterator[tuple[int, str]]:
    """(line number, prose) of ``text``: fenced code, inline code spans and HTML (marker
    lines among it) left out. Indented blocks are read as Markdown: on MkDocs pages they
    are admonitions' and tabs' content."""
    for token in MARKDOWN.parse(text):
        if token.type == "code_block":
            yield from prose_lines(textwrap.dedent(token.content), first_line + token.map[0])
        elif token.type == "inline" and token.map is not None:
            yield from _inline_lines(token, first_line + token.map[0])


def _inline_lines(token: Any, line: int) -> Iterator[tuple[int, str]]:
    text = ""
    for child in token.children:
        if child.type in ("softbreak", "hardbreak"):
            yield line, text
            line, text = line + 1, ""
        elif child.type == "text":
            text += child.content
        elif child.type in ("code_inline", "html_inline"):
            text += " `…` "  # a number in code and a word after it are not a figure
    yield line, text


def typed_figures(path: Path) -> list[str]:
    """``file:line: figure`` for every measured number typed in ``path``'s prose."""
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    return [f"{shown}:{line}: {found.group(0)!r} in {text.strip()!r}"
            for line, text in prose_lines(path.read_text(encoding="utf-8"))
            for found in TYPED_FIGURE.finditer(text)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_measured_number_is_typed_by_hand(page: Path) -> None:
    found = typed_figures(page)
    assert not found, (
        f"{len(found)} figure(s) typed by hand; put the measurement in a bench's result "
        "file and show it with a marker (<!-- figures: BENCH TABLE -->), or write a "
        "configuration value in a code span:\n" + "\n".join(found))


@pytest.mark.parametrize("line, typed", [
    ("It took 8.8 s, then 45 ms.", ["8.8 s", "45 ms"]),
    ("peak RSS **0.55 GiB**, 7.1 MiB of pages", ["0.55 GiB", "7.1 MiB"]),
    ("1,758 images/s and 330 req/s and 187 img/s", ["1,758 images/s", "330 req/s",
                                                    "187 img/s"]),
    ("true label on 88.1 % of images, 4.8× faster, 2.84x in-process", ["88.1 %", "4.8×",
                                                                         "2.84x"]),
    ("21 min in all", ["21 min"]),
    ("8x8 digits, a 10 × 10 matrix, resnet50 at 224 px, x86-64, p50 and 2026-12-06", []),
    ("`timeout: 300 s` in a code span, 3 classifiers", []),
])
def test_typed_figures_are_found_and_dimensions_are_not(tmp_path: Path, line: str,
                                                        typed: list[str]) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\n{line}\n\n```\ntook 9 s\n```\n\n    !!! also 9 s indented\n")
    found = [re.search(r"'([^']*)' in", hit)[1] for hit in typed_figures(page)]
    assert found == [*typed, "9 s"]
    assert all(hit.startswith(f"{page}:3: ") for hit in typed_figures(page)[:-1])


def test_a_marker_line_is_not_prose(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n<!-- figures: label import -->\n")
    assert typed_figures(page) == []


# --- (c) the rendered table says what the result file says -----------------------------------


NUMBER = re.compile(r"^-?[\d,]+(?:\.(\d+))?")


def table_cells(rendered: str) -> list[list[str]]:
    """The rows of the first Markdown table in ``rendered``, each a list of cells."""
    rows = [line for line in rendered.strip().splitlines() if line.startswith("|")]
    return [[cell.strip().replace("\\|", "|")
             for cell in re.split(r"(?<!\\)\|", row.strip())[1:-1]] for row in rows]


def cell_disagreement(shown: str, cell: Any) -> str | None:
    """Why ``shown`` does not say ``cell`` (a result file's cell); None when it does."""
    if cell is None or isinstance(cell, str):
        return None if shown == (cell or "") else f"{shown!r} is not {cell!r}"
    number = NUMBER.match(shown)
    if number is None:
        return f"{shown!r} starts with no number; the file holds {cell['value']}"
    decimals = len(number.group(1) or "")
    value = float(number.group(0).replace(",", ""))
    if abs(value - cell["value"]) > 0.5 * 10**-decimals * (1 + 1e-9):
        return f"{shown!r} shows {value}, the file holds {cell['value']}"
    rest = shown[number.end():]
    if not rest.lstrip().startswith(cell["unit"]) or (cell.get("against") or "") not in rest:
        return f"{shown!r} lacks the unit {cell['unit']!r} or {cell.get('against')!r}"
    return None


def disagreements(rendered: str, record: dict[str, Any], table: str) -> list[str]:
    """Every way the rendered table and its provenance line differ from ``record``."""
    expected = record["tables"][table]
    rows = table_cells(rendered)
    found = []
    if not rows or rows[0] != expected["columns"]:
        found.append(f"header {rows[:1]} is not {expected['columns']}")
    if len(rows) - 2 != len(expected["rows"]):
        found.append(f"{len(rows) - 2} rows shown, {len(expected['rows'])} in the file")
    for number, (shown, cells) in enumerate(zip(rows[2:], expected["rows"], strict=False), 1):
        found += [f"row {number}: {why}" for why in map(cell_disagreement, shown, cells) if why]
    command = " ".join(record["command"])
    for fact in (record["commit"][:10], record["machine"]["cpu"], command, record["date"][:10]):
        if fact not in rendered:
            found.append(f"the provenance line lacks {fact!r}")
    return found


@pytest.mark.parametrize("page, bench, table", markers(), ids=lambda v: str(v))
def test_a_rendered_table_says_what_its_result_file_says(page: Path, bench: str,
                                                         table: str) -> None:
    record = json.loads((RESULTS / f"{bench}.json").read_text())
    rendered = hook.render_marker(bench, table, RESULTS)
    assert disagreements(rendered, record, table) == []


def test_a_figure_changed_in_a_copy_of_the_result_file_is_a_disagreement(
        tmp_path: Path) -> None:
    bench, record = any_result()
    table, (row, column) = next(
        (name, (r, c)) for name, content in record["tables"].items()
        for r, cells in enumerate(content["rows"]) for c, cell in enumerate(cells)
        if isinstance(cell, dict))
    shutil.copy(RESULTS / f"{bench}.json", tmp_path / f"{bench}.json")
    changed = json.loads((tmp_path / f"{bench}.json").read_text())
    cell = changed["tables"][table]["rows"][row][column]
    cell["value"] = cell["value"] * 1.5 + 1
    (tmp_path / f"{bench}.json").write_text(json.dumps(changed))

    published = hook.render_marker(bench, table, RESULTS)
    assert disagreements(published, record, table) == []
    assert disagreements(published, changed, table) == [
        f"row {row + 1}: " + cell_disagreement(table_cells(published)[row + 2][column], cell)]
    assert disagreements(hook.render_marker(bench, table, tmp_path), record, table) != []
