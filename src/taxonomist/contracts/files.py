"""Reading a JSON record a stage wrote, with errors that say which stage rewrites it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taxonomist.errors import DataError


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
