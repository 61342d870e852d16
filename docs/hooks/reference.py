"""MkDocs hook: the reference pages, generated from the code at build time.

A page holds a marker, ``<!-- generated: config -->`` (every ``conf/`` key, from the schema
dataclasses) or ``<!-- generated: cli -->`` (every verb's ``--help``, from the parser), and
the hook puts the rendered Markdown in its place, so the pages cannot drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path

from cli_reference import cli_reference
from config_reference import config_reference
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

MARKER = re.compile(r"<!-- generated: (?P<name>[\w-]+) -->")
GENERATORS = {
    "config": lambda root: config_reference(root / "conf"),
    "cli": lambda root: cli_reference(),
}


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Fill the page's markers; an unknown marker fails the build, naming page and marker."""
    root = Path(config.config_file_path).parent

    def filled(marker: re.Match[str]) -> str:
        if marker["name"] not in GENERATORS:
            known = ", ".join(f"<!-- generated: {name} -->" for name in GENERATORS)
            raise PluginError(f"{page.file.src_uri}: unknown marker {marker[0]!r}; "
                              f"expected one of {known}")
        return GENERATORS[marker["name"]](root)

    return MARKER.sub(filled, markdown)
