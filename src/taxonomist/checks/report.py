"""What the validate stage found: the verdict, the messages and the images per class."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

SHOWN_WARNINGS = 10  # summary() lists this many; the JSON has them all
SHOWN_ERRORS = 20
WIDTH = 100


@dataclass
class ValidationReport:
    """The data gate's verdict on a manifest.

    Attributes:
        success: True when there are no errors; warnings never fail validation.
        errors: what blocks training, each with the node/class or rows and a fix.
        warnings: what is worth fixing but does not block.
        counts: images per class of each inner node: columns ``node``, ``class``, ``count``.
        n_images: rows in the manifest.
        statistics: great-expectations' result statistics, per suite name.
    """

    success: bool
    errors: list[str]
    warnings: list[str]
    counts: pd.DataFrame
    n_images: int = 0
    statistics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> str:
        """One screen of text: a node x class table of counts, then warnings, then errors."""
        verdict = "passed" if self.success else "FAILED"
        lines = [
            f"validation {verdict}: {self.n_images} images, "
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)",
            "",
            "images per class",
            *self._count_lines(),
        ]
        lines += _listed("warnings", self.warnings, SHOWN_WARNINGS)
        lines += _listed("errors", self.errors, SHOWN_ERRORS)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: success, errors, warnings, n_images, counts, statistics."""
        table = self.counts[["node", "class", "count"]].itertuples(index=False)
        counts = [
            {"node": str(node), "class": str(cls), "count": int(count)}
            for node, cls, count in table
        ]
        return {
            "success": self.success,
            "n_images": self.n_images,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "counts": counts,
            "statistics": _finite(self.statistics),
        }

    def write(self, path: Path) -> None:
        """Write :meth:`to_json` to ``path``, creating its folder."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def _count_lines(self) -> list[str]:
        if self.counts.empty:
            return ["  (no classes)"]
        nodes = list(dict.fromkeys(self.counts["node"]))
        pad = max(len(str(node)) for node in nodes)
        lines = []
        for node in nodes:
            rows = self.counts[self.counts["node"] == node]
            pairs = zip(rows["class"], rows["count"], strict=True)
            lines += _wrapped(f"  {node:<{pad}}  ", [f"{cls} {count}" for cls, count in pairs])
        return lines


def _wrapped(lead: str, cells: list[str]) -> list[str]:
    """``lead`` then the cells two spaces apart, continued under the first cell."""
    lines, line, empty = [], lead, True
    for cell in cells:
        if not empty and len(line) + len(cell) > WIDTH:
            lines.append(line.rstrip())
            line, empty = " " * len(lead), True
        line, empty = line + cell + "  ", False
    return [*lines, line.rstrip()]


def _listed(title: str, messages: list[str], shown: int) -> list[str]:
    if not messages:
        return []
    lines = ["", f"{title} ({len(messages)})"]
    lines += [f"  - {message}" for message in messages[:shown]]
    if len(messages) > shown:
        lines.append(f"  ... and {len(messages) - shown} more in the JSON report")
    return lines


def _finite(value: Any) -> Any:
    """Replace NaN and infinity (not valid JSON) with None, anywhere in ``value``."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
