"""``taxonomist sweep --apply``: the winning values into the node's ``NODE.yaml``.

The file is edited in place with ruamel.yaml's round trip, so comments, key order and
layout survive and ``git diff`` shows just the changed values. Only values that differ
from the node's current definition are written; the next ``taxonomist pipeline`` +
``dvc repro`` then retrains that node alone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from taxonomist.config import ClassifierConfig
from taxonomist.contracts.files import write_text_atomic
from taxonomist.sweep.trial import swept_values


@dataclass(frozen=True)
class Change:
    """One key of the node's definition that the winner changes."""

    key: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.key}: {self.old!r} -> {self.new!r}"


def apply_values(
    path: Path, node: str, values: dict[str, Any], current: ClassifierConfig
) -> list[Change]:
    """Write ``values`` (dotted keys) that differ from ``current`` into the node's own file.

    Args:
        path: the node's ``NODE.yaml`` in the project's ``classifier_dir`` (created if it
            does not exist).
        node: the node whose file it is.
        values: the winning trial's values, e.g. ``{"optim.lr": 0.0003}``.
        current: the node's definition now, as composed from the YAML.

    Returns:
        What changed; empty when the current definition already has the winning values
        (the file is then left untouched).
    """
    now = swept_values(current, list(values))
    changes = [Change(k, now[k], v) for k, v in values.items() if now[k] != v]
    if not changes:
        return []
    yaml = _round_trip()
    data = _load(yaml, path, node)
    for change in changes:
        _set(data, change.key, change.new)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    write_text_atomic(path, buffer.getvalue())
    return changes


def _round_trip() -> YAML:
    yaml = YAML()  # round trip: comments and order are kept
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # the layout of conf/classifiers/*.yaml
    yaml.width = 4096  # never re-wrap a long line
    return yaml


def _load(yaml: YAML, path: Path, node: str) -> CommentedMap:
    loaded = yaml.load(path) if path.is_file() else None
    if loaded is None:
        loaded = CommentedMap()
        loaded.yaml_set_start_comment(f"{node}'s classifier: overrides of _default.yaml.")
    return loaded


def _set(data: CommentedMap, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        if not isinstance(data.get(part), dict):
            data[part] = CommentedMap()
        data = data[part]
    data[leaf] = value
