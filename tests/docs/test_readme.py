"""The README stays a short front door, and every link in it leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
import pytest

from tests.conftest import REPO

README = REPO / "README.md"
MAX_LINES = 200
# [text](target) or [text](target#anchor); external links are someone else's to keep
LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#(?P<anchor>[^)\s]+))?\)")


def heading_ids(page: Path) -> set[str]:
    """The ids MkDocs gives the page's headings (the toc extension, as in mkdocs.yml)."""
    converter = markdown.Markdown(extensions=["toc", "attr_list"])
    converter.convert(page.read_text())
    found: set[str] = set()
    tokens = list(converter.toc_tokens)
    while tokens:
        token = tokens.pop()
        found.add(token["id"])
        tokens += token["children"]
    return found


def local_links(text: str) -> list[tuple[str, str | None]]:
    return [(m["target"], m["anchor"]) for m in LINK.finditer(text) if "://" not in m["target"]]


def test_the_readme_is_short_and_keeps_the_two_commands() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_LINES, "README.md: move the detail into docs/"
    assert "make run" in text and "make test" in text


def test_the_readme_links_into_the_manual() -> None:
    pages = {target for target, _ in local_links(README.read_text())
             if target.startswith("docs/")}
    assert {"docs/getting-started.md", "docs/configuration.md", "docs/cli.md"} <= pages


@pytest.mark.parametrize("target, anchor", local_links(README.read_text()))
def test_every_link_in_the_readme_leads_to_a_file_and_its_heading(
    target: str, anchor: str | None
) -> None:
    page = REPO / target
    assert page.is_file(), f"README.md links to {target}, which does not exist"
    if anchor:
        assert anchor in heading_ids(page), f"README.md links to {target}#{anchor}: no such heading"


def test_heading_ids_are_those_mkdocs_gives() -> None:
    assert heading_ids(REPO / "docs" / "scaling.md") >= {"many-stages-at-once",
                                                          "the-caches-memory"}
