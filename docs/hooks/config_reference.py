"""The configuration reference: every key of every ``conf/`` file, from the schema dataclasses.

A key's type and default are read from its dataclass field, its meaning from the comment
beside or above the field in the source (or from the ``Attributes:`` of the class
docstring), so the page says what the code says and cannot drift from it.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import inspect
import io
import json
import re
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import MISSING

from taxonomist.config.schema import ClassifierConfig, ProjectConfig
from taxonomist.runner.settings import RunnerConfig
from taxonomist.serve.settings import ServeConfig


@dataclass(frozen=True)
class Section:
    """One ``conf/`` file or folder and the dataclass its YAML is merged onto.

    Attributes:
        anchor: the heading's id, e.g. ``data`` for ``configuration.md#data``.
        where: the files, as a reader finds them under ``conf/``.
        schema: the dataclass whose fields are the keys.
        intro: one sentence on what the files are for and how to select or override them.
        keys: the names of the schema's fields these files hold; None: all of them
            (``conf/config.yaml`` holds only the project's own, not its groups').
    """

    anchor: str
    where: str
    schema: type
    intro: str
    keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Row:
    """One key of a section's table."""

    key: str
    type: str
    default: str
    meaning: str


# Read by their own loaders rather than composed into ProjectConfig.
OWN_FILES = (
    Section("classifiers", "conf/classifiers/_default.yaml + conf/classifiers/<node>.yaml",
            ClassifierConfig,
            "The folder is `classifier_dir`; a node without a file of its own takes "
            "`_default.yaml` as it is. Override one node with "
            "`taxonomist pipeline classifiers.<node>.<key>=<value>`."),
    Section("serve", "conf/serve.yaml", ServeConfig,
            "`taxonomist serve`. Any key also from the environment as "
            "`TAXONOMIST_SERVE_<KEY>`, which wins over the file; `--host`, `--port` and "
            "`--workers` win over both."),
    Section("runner", "conf/runner/<name>.yaml", RunnerConfig,
            "Where `taxonomist repro --runner <name>` runs its stages (`local` by default). "
            "It changes where stages run, never what they compute, so it is not in "
            "`params.yaml`."),
)


def sections(conf_dir: Path) -> list[Section]:
    """Every typed file of ``conf_dir``: ``config.yaml``, each group of its defaults list,
    then the files with loaders of their own (classifiers, serve, runner)."""
    groups = _default_groups(conf_dir / "config.yaml")
    project_fields = [f.name for f in dataclasses.fields(ProjectConfig)]
    own = tuple(name for name in project_fields if name not in groups)
    found = [Section("config", "conf/config.yaml", ProjectConfig,
                     "The project: its defaults list picks one file of each group below; "
                     "the keys here are its own.", keys=own)]
    for name in groups:
        schema = _field_type(ProjectConfig, name)
        found.append(Section(name, f"conf/{name}/<choice>.yaml", schema,
                             f"Chosen in `conf/config.yaml`'s defaults list or by "
                             f"`taxonomist pipeline {name}=<choice>`; a key is overridden "
                             f"as `{name}.<key>=<value>`.", keys=None))
    return found + list(OWN_FILES)


def config_reference(conf_dir: Path) -> str:
    """The Markdown of the reference: a heading and a table of keys per section."""
    return "\n\n".join(_section_markdown(section) for section in sections(conf_dir)) + "\n"


def rows(section: Section) -> list[Row]:
    """The section's keys, nested dataclasses flattened to dotted keys after their own row."""
    chosen = dataclasses.fields(section.schema)
    if section.keys is not None:
        chosen = [f for f in chosen if f.name in section.keys]
    return _rows(section.schema, chosen, prefix="")


def _section_markdown(section: Section) -> str:
    table = ["| key | type | default | meaning |", "|---|---|---|---|"]
    table += [f"| `{r.key}` | {_code(r.type)} | {_code(r.default)} | {_cell(r.meaning)} |"
              for r in rows(section)]
    # conf/config.yaml's keys are a part of ProjectConfig, whose summary speaks of the whole
    summary = _docstring_summary(section.schema) if section.keys is None else ""
    return "\n".join([f"### `{section.where}` {{#{section.anchor}}}", "",
                      f"{section.intro} {_cell(summary)}".strip(), "", *table])


def _rows(schema: type, chosen: typing.Iterable[dataclasses.Field], prefix: str) -> list[Row]:
    hints = typing.get_type_hints(schema)
    meanings = field_meanings(schema)
    found: list[Row] = []
    for f in chosen:
        key, hint = prefix + f.name, hints[f.name]
        if dataclasses.is_dataclass(hint):
            found.append(Row(key, "section", "", _docstring_summary(hint)))
            found += _rows(hint, dataclasses.fields(hint), prefix=f"{key}.")
            continue
        found.append(Row(key, type_text(hint), default_text(f), _meaning(meanings, f.name, hint)))
    return found


def _meaning(meanings: dict[str, str], name: str, hint: object) -> str:
    """The field's own words; for a choice, each choice's words after them."""
    own = meanings.get(name, "")
    choices = _enum_of(hint)
    if choices is None:
        return own
    described = field_meanings(choices)
    listed = "; ".join(f"`{m.value}`: {described[m.name]}" for m in choices
                       if described.get(m.name))
    head = (own or _docstring_summary(choices)).rstrip(".")
    return f"{head}. {listed}" if listed and head else head or listed


def field_meanings(cls: type) -> dict[str, str]:
    """What the source says about each name assigned in ``cls``'s body: the comment lines
    right above it and the comment at the end of its line, or its ``Attributes:`` entry."""
    source, definition = _class_source(cls)
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    text = source.splitlines()
    found = _docstring_attributes(ast.get_docstring(definition) or "")
    for node in definition.body:
        name = _assigned_name(node)
        if name is None:
            continue
        above, line = [], node.lineno - 1
        while line in comments and text[line - 1].lstrip().startswith("#"):
            above.insert(0, comments[line])
            line -= 1
        beside = [comments[node.end_lineno]] if node.end_lineno in comments else []
        said = " ".join(above + beside)
        if said:
            found[name] = said
    return found


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


_ATTRIBUTE = re.compile(r"^(?P<names>\w+(?:, \w+)*): (?P<text>.*)$")


def _docstring_attributes(doc: str) -> dict[str, str]:
    """The Google-style ``Attributes:`` section: ``name: text`` (or ``a, b: text``) per
    entry, with its indented continuation lines."""
    found: dict[str, str] = {}
    _, _, rest = doc.partition("Attributes:\n")
    names: list[str] = []
    for line in textwrap.dedent(rest).splitlines():
        entry = _ATTRIBUTE.match(line)
        if entry:
            names = entry["names"].split(", ")
            for name in names:
                found[name] = entry["text"]
        elif line.startswith(" ") and names:
            for name in names:
                found[name] += " " + line.strip()
        else:
            break
    return found


def type_text(hint: object) -> str:
    """A type as YAML users read it: ``int``, ``str | null``, ``greedy | bayes_risk``."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return " | ".join(type_text(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if hint is typing.Any:
        return "any"
    choices = _enum_of(hint)
    if choices is not None:
        return " | ".join(m.value for m in choices)
    if typing.get_origin(hint) is not None:
        args = ", ".join(type_text(arg) for arg in typing.get_args(hint))
        return f"{typing.get_origin(hint).__name__}[{args}]"
    return getattr(hint, "__name__", str(hint))


def default_text(f: dataclasses.Field) -> str:
    """A field's default as it would be written in YAML; ``required`` for ``???``."""
    if f.default is not dataclasses.MISSING:
        value = f.default
    else:
        value = f.default_factory()
    if value == MISSING:
        return "required"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str):
        return value or '""'
    return json.dumps(value) if isinstance(value, list | dict) else yaml.safe_dump(value).split(
        "\n", 1)[0]


def _enum_of(hint: object) -> type[enum.Enum] | None:
    candidates = typing.get_args(hint) or (hint,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return candidate
    return None


def _field_type(schema: type, name: str) -> type:
    return typing.get_type_hints(schema)[name]


def _default_groups(config_file: Path) -> list[str]:
    """The config groups ``config.yaml``'s Hydra defaults list chooses from, in order."""
    defaults = yaml.safe_load(config_file.read_text())["defaults"]
    return [next(iter(entry)) for entry in defaults if isinstance(entry, dict)]


def _docstring_summary(cls: type) -> str:
    """The first paragraph of the class's own docstring (not the one dataclass writes)."""
    doc = ast.get_docstring(_class_source(cls)[1]) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


@functools.cache
def _class_source(cls: type) -> tuple[str, ast.ClassDef]:
    source = textwrap.dedent("".join(inspect.getsourcelines(cls)[0]))
    return source, ast.parse(source).body[0]


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
# Outside code spans a comment's words are text, not Markdown or HTML: `<node>`, `lr * k`
# and `{min_size: 320}` must show as written.
_LITERAL = str.maketrans({"<": "&lt;", ">": "&gt;", "|": "\\|", "*": "\\*", "_": "\\_",
                          "{": "\\{", "}": "\\}", "[": "\\[", "]": "\\]"})


def _cell(text: str) -> str:
    """``text`` for a table cell: its code spans kept, everything else shown literally."""
    parts, end = [], 0
    for span in _CODE_SPAN.finditer(text):
        parts += [text[end:span.start()].translate(_LITERAL), span[0].replace("|", "\\|")]
        end = span.end()
    return "".join([*parts, text[end:].translate(_LITERAL)])
