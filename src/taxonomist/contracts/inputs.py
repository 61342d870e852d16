"""A stage's inputs must be the same when it ends as when it began.

DVC hashes a stage's dependencies after the command has run and records those hashes in
``dvc.lock`` (iterative/dvc#11058): a ``data/manifest.parquet`` rewritten while
``train@NODE`` was reading would be recorded as what the model was trained on. So every
stage stamps the files of its declared dependencies (from the generated ``dvc.yaml``) as
it starts and again as it ends, and fails, naming the file, when a stamp differs.

The stamp is size, ``mtime_ns`` and inode: the key DVC's own state database trusts, and a
``stat`` per file (100,000 images stat in well under a second), so nothing is hashed.

Example:
    >>> deps = stage_deps(dvc_yaml(config), "train@round")  # doctest: +SKIP
    >>> with unchanged_inputs(paths.root, "train@round", deps):  # doctest: +SKIP
    ...     train_node(config, "round", paths)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from taxonomist.errors import DataError

PARAMS_FILE = "params.yaml"  # DVC records a stage's params from it after the stage ends
_PLACEHOLDER = re.compile(r"\$\{(key|item)(?:\.(\w+))?\}")
_SHOWN = 5  # changed files named in the message

Stamp = tuple[int, int, int] | None  # size, mtime_ns, inode; None: the path is missing


class InputChanged(DataError):
    """A file a stage depends on changed while the stage ran."""


def stage_deps(dvc_yaml: Mapping[str, Any], stage: str) -> list[str]:
    """The paths ``stage`` depends on, as DVC resolves them, and the files of its params.

    Args:
        dvc_yaml: the generated ``dvc.yaml`` as a mapping (``pipeline.dvc_yaml(config)``).
        stage: a stage name as DVC writes it: ``split``, ``train@round``.

    Returns:
        Paths relative to the project root; empty for a stage not in ``dvc_yaml``.
    """
    name, _, key = stage.partition("@")
    definition = dvc_yaml.get("stages", {}).get(name)
    if definition is None:
        return []
    if "foreach" in definition:
        items = definition["foreach"]
        item = items[key] if isinstance(items, Mapping) else key
        definition = {k: _resolve(v, key, item) for k, v in definition["do"].items()}
    return [*definition.get("deps", []), *_params_files(definition.get("params", []))]


def _params_files(params: list[str | Mapping[str, Any]]) -> list[str]:
    """The files DVC reads a stage's params from: a bare key is params.yaml's, a mapping
    names its file (``{params/round.json: [classes]}``)."""
    files = [PARAMS_FILE] if any(isinstance(p, str) for p in params) else []
    return files + [name for p in params if isinstance(p, Mapping) for name in p]


@contextmanager
def unchanged_inputs(root: Path, stage: str, deps: Iterable[str]) -> Iterator[None]:
    """Run the block; then raise :class:`InputChanged` if a file under ``deps`` changed.

    A block that raises is not checked: it failed anyway.
    """
    deps = list(deps)
    before = stamp_files(root, deps)
    yield
    after = stamp_files(root, deps)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if changed:
        raise InputChanged(_changed_message(stage, changed, before, after))


def stamp_files(root: Path, deps: Iterable[str]) -> dict[str, Stamp]:
    """The stamp of every file under each of ``deps`` (a file or a folder), by path."""
    stamps: dict[str, Stamp] = {}
    for dep in deps:
        top = root / dep
        if top.is_dir():
            for folder, _, names in os.walk(top):
                for name in names:
                    file = Path(folder, name)  # named from the dep: it may lie outside root
                    stamps[str(Path(dep) / file.relative_to(top))] = _stamp(file)
        else:
            stamps[dep] = _stamp(top)
    return stamps


def _stamp(file: Path) -> Stamp:
    try:
        st = file.stat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _resolve(value: Any, key: str, item: Any) -> Any:
    """``${key}``, ``${item}`` and ``${item.field}`` filled in, as DVC's foreach does."""
    if isinstance(value, list):
        return [_resolve(v, key, item) for v in value]
    if isinstance(value, Mapping):
        return {_resolve(k, key, item): _resolve(v, key, item) for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def fill(match: re.Match[str]) -> str:
        if match[1] == "key":
            return key
        return str(item[match[2]] if match[2] else item)

    return _PLACEHOLDER.sub(fill, value)


def _changed_message(stage: str, changed: list[str], before: dict, after: dict) -> str:
    lines = [f"  {path}: {_describe(before.get(path), after.get(path))}"
             for path in changed[:_SHOWN]]
    if len(changed) > _SHOWN:
        lines.append(f"  ... and {len(changed) - _SHOWN} more")
    return (
        f"{stage}: {len(changed)} input file(s) changed while the stage ran, so what it "
        "read is not what is there now and its result is not recorded:\n"
        + "\n".join(lines)
        + f"\n  hint: let whatever rewrote them finish, then rerun `dvc repro {stage}`"
    )


def _describe(before: Stamp, after: Stamp) -> str:
    if before is None:
        return "appeared"
    if after is None:
        return "removed"
    if before[0] != after[0]:
        return f"rewritten ({before[0]} -> {after[0]} bytes)"
    return "rewritten (same size, new modification time or inode)"
