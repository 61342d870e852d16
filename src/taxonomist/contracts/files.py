"""The files stages hand each other: written all or nothing, read with errors that say
which stage rewrites them."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from taxonomist.errors import DataError, TaxonomistError

TEMP_GLOB = ".*.tmp-*"  # what write_atomic's temporary files look like, to clean them up
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class WriteFailed(TaxonomistError, OSError):
    """A file could not be written (disk full, no permission); the previous one is kept.

    An OSError still, so code that handles I/O errors handles it; a TaxonomistError, so
    the CLI prints its message (which names the file) without a traceback.
    """


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, rename it into place.

    A reader (or the next run) sees the previous complete file or the new complete one,
    never a half-written or empty one: not after a kill, a power cut or a full disk (the
    zero-length ``last.ckpt`` of Lightning#21800). A temporary file left by a killed
    writer of the same ``path`` is removed first.

    Example:
        >>> write_atomic(Path("m.parquet"), lambda tmp: frame.to_parquet(tmp, index=False))

    Raises:
        WriteFailed: an OSError while writing (ENOSPC, EACCES, ...), naming ``path``;
            ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        if not _writer_alive(stale):
            stale.unlink(missing_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(temp)
        _fsync(temp)
        os.replace(temp, path)
        _fsync(path.parent)  # make the rename itself durable
    except OSError as err:
        raise write_failed(path, err) from err
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """``path.write_text(text)`` (UTF-8), all or nothing: see :func:`write_atomic`."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_failed(path: Path, err: OSError) -> WriteFailed:
    """The error to raise for ``err`` while writing ``path`` (streaming writers too)."""
    message = f"could not write {path}: {err.strerror or err}; the previous {path.name} is kept"
    if err.errno in _DISK_FULL:
        message += (
            f"\n  hint: the disk holding {path.parent} is full: free space there, "
            "then rerun the same command (or `dvc repro`)"
        )
    return WriteFailed(message)


def _writer_alive(temp: Path) -> bool:
    pid = temp.name.rsplit("-", 1)[-1]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _fsync(path: Path) -> None:
    if os.name != "posix" and path.is_dir():
        return  # only POSIX can fsync a folder
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json_object(path: Path, stage: str) -> dict[str, Any]:
    """The JSON object in ``path``, written by the DVC stage ``stage``.

    Raises:
        DataError: the file is missing (run the stage), is not JSON, or holds something
            other than an object (rerun the stage to rewrite it).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{path} not found\n"
            f"  hint: run `dvc repro {stage}` first, which runs every stage it needs"
        ) from None
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path} is not valid JSON ({err}); rerun `dvc repro {stage}` to rewrite it"
        ) from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def required(data: Mapping[str, Any], key: str, source: str, stage: str, prefix: str = "") -> Any:
    """``data[key]``; a missing key names the file, the dotted key and the stage to rerun.

    Args:
        data: one JSON object (or a block of one) as read.
        key: the key the record needs.
        source: the file it came from, e.g. ``"reports/promotion.json"``.
        stage: the DVC stage that writes the file, e.g. ``"promote"``.
        prefix: the dotted path of the block, e.g. ``"comparison."``.

    Raises:
        DataError: ``key`` is not in ``data``.
    """
    if key not in data:
        found = ", ".join(sorted(data)) or "nothing"
        raise DataError(
            f"{source}: expected key '{prefix}{key}', found only: {found}; "
            f"rerun `dvc repro {stage}` to rewrite it"
        )
    return data[key]


def typed(value: Any, kind: type, key: str, source: str, stage: str) -> Any:
    """``value`` converted with ``kind`` (``float``, ``int``, ``str``), or a DataError.

    Booleans are refused as numbers: ``true`` in a JSON file is never a count or a rate.
    """
    bad_number = kind in (int, float) and (
        isinstance(value, bool) or not isinstance(value, int | float)
    )
    if bad_number or (kind is str and not isinstance(value, str)):
        raise DataError(
            f"{source}: '{key}' must be {kind.__name__}, got {value!r}; "
            f"rerun `dvc repro {stage}` to rewrite it"
        )
    return kind(value)


def number_or_none(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number, else None (a side without a value)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None
