"""The command-line reference: every ``taxonomist`` verb's ``--help``, from the parser itself.

Each verb (and each verb under it, such as ``label export``) gets a heading and the help
argparse prints for it, laid out at a fixed width so the page does not depend on the
terminal that builds it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager

from taxonomist.cli import build_parser

WIDTH = 88  # columns argparse lays the help out in


def cli_reference() -> str:
    """The Markdown of the reference: ``taxonomist --help``, then one section per verb."""
    with _columns(WIDTH):
        return "\n\n".join(_section(words, parser) for words, parser in verbs()) + "\n"


def verbs(parser: argparse.ArgumentParser | None = None,
          words: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """``(words after taxonomist, parser)`` for the program and every verb, depth first:
    ``()``, ``("pipeline",)``, ..., ``("label", "export")``, ..."""
    parser = parser or build_parser()
    yield words, parser
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from verbs(sub, (*words, name))


def anchor(words: tuple[str, ...]) -> str:
    """The heading id of a verb's section: ``label-export`` for ``taxonomist label export``."""
    return "-".join(words) or "taxonomist"


def _section(words: tuple[str, ...], parser: argparse.ArgumentParser) -> str:
    level = "#" * min(2 + max(len(words) - 1, 0), 4)
    title = " ".join(("taxonomist", *words))
    return f"{level} `{title}` {{#{anchor(words)}}}\n\n```text\n{parser.format_help()}```"


@contextmanager
def _columns(width: int) -> Iterator[None]:
    """argparse wraps help at ``$COLUMNS`` (through ``shutil.get_terminal_size``)."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before
