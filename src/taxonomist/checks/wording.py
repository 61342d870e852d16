"""The words several checks' messages share: counts of images, a few examples, the fixes.

Works on plain values and the result dicts of great-expectations, never on its classes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

EXAMPLES = 5  # rows or values named in one message
# A classifier file as the checks' hints name it: a node's own, or ``_default.yaml``.
CLASSIFIER_FILE = re.compile(r"conf/classifiers/(?P<node>[^/\s]+?)\.yaml")
DEFAULTS = "_default"
REINGEST = "re-run `taxonomist ingest` (`dvc repro ingest`)"
RESPLIT = (
    "delete data/splits.parquet and run `dvc repro split` to split afresh (this unfreezes "
    "the test split: the next model is compared with live on new test images)"
)


def images(count: int) -> str:
    """``"no images (0)"``, ``"1 image"``, ``"12 images"``."""
    return "no images (0)" if count == 0 else f"{count} image{'' if count == 1 else 's'}"


def quoted(names: Iterable[Any]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def more(total: int, shown: int = EXAMPLES) -> str:
    """``" and 7 more"`` when ``total`` is above what was shown."""
    return f" and {total - shown} more" if total > shown else ""


def share(value: Any) -> str:
    """A fraction as a whole percentage: ``0.934`` -> ``"93%"``."""
    return f"{float(value):.0%}"


def failing_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The failing rows great-expectations kept: all of them, or the first few."""
    rows = result.get("unexpected_index_list")
    if rows is None:
        rows = result.get("partial_unexpected_index_list") or []
    return [dict(row) for row in rows]


def failing_count(result: Mapping[str, Any]) -> int:
    """How many rows failed, including those not kept as examples."""
    return int(result.get("unexpected_count") or len(failing_rows(result)))


def paths(result: Mapping[str, Any], column: str = "", value: Any = None) -> str:
    """Paths of a few failing rows (of those whose ``column`` is ``value``, if given)."""
    rows = [row for row in failing_rows(result) if not column or row.get(column) == value]
    found = [str(row["path"]) for row in rows if "path" in row]
    if not found:
        return "no path column"
    total = failing_count(result) if not column else len(found)
    return ", ".join(found[:EXAMPLES]) + more(total, min(len(found), EXAMPLES))


def existing_files(text: str, conf: Path, classifier_dir: str = "classifiers") -> str:
    """``text`` with every ``conf/classifiers/NODE.yaml`` it names made true of the
    project's classifier folder, ``conf/<classifier_dir>``.

    A node without a file of its own reads ``_default.yaml``; a hint that names the file
    it lacks would send a person looking for nothing, so it says to create it, or where
    the key is set now. A project whose ``classifier_dir`` is not ``classifiers`` gets
    its own folder named.

    Example:
        ``"lower min_images in conf/classifiers/curved.yaml"`` where there is no such file
        becomes ``"lower min_images in conf/classifiers/curved.yaml (no such file yet:
        create it for this node alone, or edit conf/classifiers/_default.yaml for every
        node)"``.
    """

    shown = f"conf/{classifier_dir}"

    def fix(match: re.Match[str]) -> str:
        named = f"{shown}/{match['node']}.yaml"
        if match["node"] == DEFAULTS or (conf / classifier_dir / f"{match['node']}.yaml").is_file():
            return named
        return (f"{named} (no such file yet: create it for this node alone, or edit "
                f"{shown}/{DEFAULTS}.yaml for every node)")

    return CLASSIFIER_FILE.sub(fix, text)
