"""Each MLflow tag is spelt once, in :mod:`taxonomist.tracking.names`.

A tag spelt by hand in a second module drifts from its reader sooner or later (a writer
renames it, the reader keeps reading the old name and finds nothing), so any string in
``src/`` that equals a tag name, or starts with a tag prefix, outside ``names.py`` is an
error.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import taxonomist
from taxonomist.tracking import names

PACKAGE = Path(taxonomist.__file__).parent
NAMES_FILE = Path(names.__file__)
# Words that are a tag name and also mean something else where they are spelt.
SAME_WORD_ELSEWHERE = {
    ("contracts/promotion.py", "decision"): "promotion.json's key, not the version tag",
    ("contracts/promotion.py", "needs_investigation"): "the decision's name before three outcomes",
}


def tag_names() -> dict[str, str]:
    """Every ``*_TAG`` constant of names.py: its value and its name."""
    return {value: key for key, value in vars(names).items()
            if key.endswith("_TAG") and isinstance(value, str)}


def tag_prefixes() -> dict[str, str]:
    """Every ``*_TAG_PREFIX`` constant of names.py: its value and its name."""
    return {value: key for key, value in vars(names).items()
            if key.endswith("_TAG_PREFIX") and isinstance(value, str)}


def strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string constant in ``tree`` with its line, docstrings left out (they may
    name a tag to explain it), the literal parts of f-strings included."""
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def hand_spelt_tags(source: str, where: str) -> list[str]:
    """What in ``source`` spells a tag of names.py, as ``"<where>:<line>: '<text>' (NAME)"``."""
    tags, prefixes = tag_names(), tag_prefixes()
    found = []
    for line, text in strings(ast.parse(source)):
        if (where, text) in SAME_WORD_ELSEWHERE:
            continue
        constant = tags.get(text) or next(
            (name for prefix, name in prefixes.items() if text.startswith(prefix)), None)
        if constant:
            found.append(f"{where}:{line}: {text!r} (names.{constant})")
    return found


def test_names_defines_the_tags_the_scan_looks_for() -> None:
    # A rename of the convention would leave the scan below looking for nothing.
    assert {"DECISION_TAG", "LIVE_SINCE_TAG", "LOCK_TOKEN_TAG"} <= set(tag_names().values())
    assert {"LIVE_EVENT_TAG_PREFIX", "IN_STACK_TAG_PREFIX"} <= set(tag_prefixes().values())


def test_no_module_but_names_spells_an_mlflow_tag() -> None:
    found = []
    for file in sorted(PACKAGE.rglob("*.py")):
        if file != NAMES_FILE:
            where = file.relative_to(PACKAGE).as_posix()
            found += hand_spelt_tags(file.read_text(encoding="utf-8"), where)
    assert not found, (
        "these strings spell an MLflow tag that taxonomist/tracking/names.py defines; "
        "import the constant instead:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(("where", "word"), sorted(SAME_WORD_ELSEWHERE))
def test_each_exception_is_still_spelt_there(where: str, word: str) -> None:
    # An exception whose word is gone would let the tag be spelt there again unnoticed.
    source = (PACKAGE / where).read_text(encoding="utf-8")
    assert word in {text for _, text in strings(ast.parse(source))}


@pytest.mark.parametrize("source", [
    'tags["compared_with_version"] = live',
    'client.set_model_version_tag(name, v, "live_since", at)',
    'key = f"live_event.{now}"',
    'tag = f"in_stack.v{version}"',
])
def test_the_scan_finds_a_tag_spelt_by_hand(source: str) -> None:
    assert hand_spelt_tags(source, "promote/stage.py")


def test_the_scan_leaves_docstrings_and_other_words_alone() -> None:
    source = 'def f():\n    """Tags ``live_since`` on the version."""\n    return "live"\n'
    assert hand_spelt_tags(source, "promote/stage.py") == []
