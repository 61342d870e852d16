"""The generated reference pages list every key of conf/ and every verb, as the code has them.

``mkdocs build --strict`` checks links and anchors; these check what it cannot: that
nothing of the schema or the parser is missing from the pages.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import typing
from collections.abc import Iterator

import pytest
from cli_reference import WIDTH, cli_reference
from config_reference import config_reference
from reference import on_page_markdown

from taxonomist.cli import build_parser
from taxonomist.config import schema
from taxonomist.runner.settings import RunnerConfig
from taxonomist.serve.settings import ServeConfig
from tests.conftest import REPO

CONF = REPO / "conf"
SECTION = re.compile(r"^### `(?P<where>[^`]+)` \{#(?P<id>[\w-]+)\}$", re.M)
# type and default are code spans (a type may hold `|`), or empty
ROW = re.compile(r"^\| `(?P<key>[^`]+)` \| (?P<type>`[^`]*`|) \| (?P<default>`[^`]*`|) "
                 r"\| (?P<meaning>.*) \|$", re.M)


def dotted_keys(cls: type, prefix: str = "") -> Iterator[str]:
    """Every key a YAML file of ``cls`` may hold, nested sections as dotted keys."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        yield prefix + field.name
        if dataclasses.is_dataclass(hints[field.name]):
            yield from dotted_keys(hints[field.name], f"{prefix}{field.name}.")


def expected_sections() -> dict[str, set[str]]:
    """Per heading id, the keys of its files: a ProjectConfig field with a folder of its
    own under conf/ is a config group, the rest is written in conf/config.yaml."""
    hints = typing.get_type_hints(schema.ProjectConfig)
    groups = {f.name for f in dataclasses.fields(schema.ProjectConfig) if (CONF / f.name).is_dir()}
    expected = {name: set(dotted_keys(hints[name])) for name in groups}
    expected["config"] = {key for key in dotted_keys(schema.ProjectConfig)
                          if key.split(".")[0] not in groups}
    expected["classifiers"] = set(dotted_keys(schema.ClassifierConfig))
    expected["serve"] = set(dotted_keys(ServeConfig))
    expected["runner"] = set(dotted_keys(RunnerConfig))
    return expected


def rendered_sections(page: str) -> dict[str, dict[str, re.Match[str]]]:
    """Per heading id of the generated page, its table's rows by key."""
    starts = list(SECTION.finditer(page))
    ends = [m.start() for m in starts[1:]] + [len(page)]
    return {m["id"]: {row["key"]: row for row in ROW.finditer(page, m.end(), end)}
            for m, end in zip(starts, ends, strict=True)}


@pytest.fixture(scope="module")
def config_page() -> str:
    return config_reference(CONF)


def test_every_key_of_every_conf_file_is_in_the_reference(config_page: str) -> None:
    rendered = rendered_sections(config_page)
    expected = expected_sections()
    assert set(rendered) == set(expected)
    for section, keys in expected.items():
        assert set(rendered[section]) == keys, section


def nested_schemas(cls: type) -> Iterator[type]:
    yield cls
    for hint in typing.get_type_hints(cls).values():
        if dataclasses.is_dataclass(hint):
            yield from nested_schemas(hint)


def test_every_dataclass_of_the_schema_is_a_file_or_a_section_of_one() -> None:
    """A new dataclass in schema.py must be reached from a conf/ file the reference shows."""
    shown = {*nested_schemas(schema.ProjectConfig), *nested_schemas(schema.ClassifierConfig)}
    defined = {cls for _, cls in inspect.getmembers(schema, dataclasses.is_dataclass)
               if cls.__module__ == schema.__name__}
    assert defined <= shown, defined - shown


def test_every_key_has_a_type_a_default_and_says_what_it_is_for(config_page: str) -> None:
    undocumented = [f"{section}: {key}" for section, rows in rendered_sections(config_page).items()
                    for key, row in rows.items()
                    if not (row["type"].strip() and row["meaning"].strip())
                    or row["type"] != "`section`" and not row["default"].strip()]
    assert not undocumented, ("write a comment beside or above each field in the schema "
                              f"(src/taxonomist/config/schema.py and friends): {undocumented}")


@pytest.mark.parametrize("key, type_, default, meaning", [
    ("seed", "`int`", "`42`", "seeds the sample"),
    ("stopping.decoding", "`greedy | bayes_risk | best_path`", "`best_path`",
     "`best_path`: the leaf whose path"),
    ("backbone.layer_decay", "`float`", "`0.75`", r"lr \* decay\*\*k"),
    ("torch_threads", "`int | null`", "`null`", "torch's threads per worker"),
])
def test_a_row_shows_the_fields_type_default_and_comment(
    config_page: str, key: str, type_: str, default: str, meaning: str
) -> None:
    row = next(row for rows in rendered_sections(config_page).values() for k, row in rows.items()
               if k == key)
    assert (row["type"], row["default"]) == (type_, default)
    assert meaning in row["meaning"]


def test_the_configuration_page_names_every_file_and_folder_of_conf(config_page: str) -> None:
    page = (REPO / "docs" / "configuration.md").read_text() + config_page
    for entry in sorted(CONF.iterdir()):
        named = f"conf/{entry.name}/" if entry.is_dir() else f"conf/{entry.name}"
        assert named in page, f"docs/configuration.md says nothing of {named}"


def parsers(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
            ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*words, name))


def test_every_verb_has_its_help_in_the_cli_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    page = cli_reference()
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    verbs = list(parsers(build_parser()))
    assert ("label", "export") in [words for words, _ in verbs]
    for words, parser in verbs:
        assert f"`{' '.join(('taxonomist', *words))}`" in page
        assert parser.format_help() in page, words


class _Stub:
    """What the hook reads of MkDocs' page and config objects."""

    class file:  # noqa: N801
        src_uri = "reference.md"

    config_file_path = str(REPO / "mkdocs.yml")


def test_the_hook_fills_markers_and_refuses_an_unknown_one() -> None:
    filled = on_page_markdown("# CLI\n\n<!-- generated: cli -->\n", _Stub, _Stub, None)
    assert "<!-- generated" not in filled and "usage: taxonomist" in filled
    with pytest.raises(Exception, match="reference.md: unknown marker.*generated: config"):
        on_page_markdown("<!-- generated: clli -->", _Stub, _Stub, None)
