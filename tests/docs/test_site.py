"""The built manual reads offline: nothing it shows is fetched from the network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mkdocs.commands.build import build
from mkdocs.config import load_config

from tests.conftest import REPO

# what a browser fetches by itself: scripts, stylesheets, fonts, images, frames
FETCHED = re.compile(r"<(?:script|img|iframe)\b[^>]*\bsrc=\"(?P<src>[^\"]+)\""
                     r"|<link\b[^>]*\bhref=\"(?P<href>[^\"]+)\""
                     r"|@import\s+url\((?P<import>[^)]+)\)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build(load_config(str(REPO / "mkdocs.yml"), site_dir=str(out)))
    return out


def test_the_built_manual_fetches_nothing_from_the_network(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert pages
    remote = [f"{page.relative_to(site)}: {url}" for page in pages
              for match in FETCHED.finditer(page.read_text())
              for url in filter(None, match.groups()) if re.match(r"(https?:)?//", url)]
    assert not remote, remote


def test_search_works_from_a_file_url(site: Path) -> None:
    """The offline plugin inlines the index; its worker shim is ours, not a CDN's."""
    assert (site / "search" / "search_index.js").read_text().startswith("var __index")
    assert "assets/javascripts/iframe-worker-shim.js" in (site / "index.html").read_text()
