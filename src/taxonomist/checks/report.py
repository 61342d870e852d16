"""What the validate stage found: the verdict, the messages and the tables behind them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from taxonomist.checks.coverage import ALL
from taxonomist.contracts.files import write_text_atomic

SHOWN_WARNINGS = 10  # summary() lists this many; the JSON has them all
SHOWN_ERRORS = 20
WIDTH = 100


@dataclass
class ValidationReport:
    """The data gate's verdict on a manifest and its splits.

    Attributes:
        success: True when there are no errors; warnings never fail validation.
        errors: what blocks training, each with the node/class or rows and a fix.
        warnings: what is worth fixing but does not block.
        counts: images per class of each inner node: columns ``node``, ``class``, ``count``.
        n_images: rows in the manifest in use (not excluded).
        corrections: ``excluded`` (images taken out of the splits) and
            ``test_labels_changed`` (test images whose label was corrected since the
            test split was frozen), for the model card.
        statistics: great-expectations' result statistics, per suite name.
        split_counts: ``counts`` per split: ``node``, ``class``, ``split``, ``count``
            (``split`` is ``all`` for the total).
        notes: what was not checked and why (e.g. no ``phash`` column).
        tables: the tables the checks ran on, by name (``imbalance``, ``divergence``,
            ``source_shares``, ``month_shares``, ``label_sources``), for the JSON.
        near_duplicates: the near-duplicate search's summary, None when it was skipped.
        data_docs: great-expectations' Data Docs index, relative to the JSON's folder
            (``docs/index.html``), so a page beside the JSON can link it.
        folder: the JSON's folder, to show where the Data Docs are; not in the JSON.
    """

    success: bool
    errors: list[str]
    warnings: list[str]
    counts: pd.DataFrame
    n_images: int = 0
    corrections: dict[str, int] = field(default_factory=dict)
    statistics: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_counts: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    near_duplicates: dict[str, Any] | None = None
    data_docs: str | None = None
    folder: Path | None = None

    def summary(self) -> str:
        """One screen of text: node x class counts per split, then warnings, then errors."""
        verdict = "passed" if self.success else "FAILED"
        lines = [
            f"validation {verdict}: {self.n_images} images{self._split_sizes()}, "
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)",
            "",
            f"images per class{self._cell_legend()}",
            *self._count_lines(),
            *self._facts(),
        ]
        lines += _listed("notes", self.notes, SHOWN_WARNINGS)
        lines += _listed("warnings", self.warnings, SHOWN_WARNINGS)
        lines += _listed("errors", self.errors, SHOWN_ERRORS)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; docs/data-gate.md lists every key."""
        table = self.counts[["node", "class", "count"]].itertuples(index=False)
        counts = [
            {"node": str(node), "class": str(cls), "count": int(count)}
            for node, cls, count in table
        ]
        return {
            "success": self.success,
            "n_images": self.n_images,
            "corrections": dict(self.corrections),
            "splits": self._split_totals(),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "counts": counts,
            "split_counts": _records(self._per_split()),
            **{name: _records(frame) for name, frame in self.tables.items()},
            "near_duplicates": _finite(self.near_duplicates),
            "statistics": _finite(self.statistics),
            "data_docs": self.data_docs,
        }

    def write(self, path: Path) -> None:
        """Write :meth:`to_json` to ``path``, creating its folder."""
        write_text_atomic(path, json.dumps(self.to_json(), indent=2) + "\n")

    def _per_split(self) -> pd.DataFrame:
        if self.split_counts is None:
            return pd.DataFrame(columns=["node", "class", "split", "count"])
        return self.split_counts[["node", "class", "split", "count"]]

    def _split_names(self) -> list[str]:
        names = self._per_split()["split"]
        return list(dict.fromkeys(n for n in names if n != ALL))

    def _split_totals(self) -> dict[str, int]:
        """Images per split: the counts at the root node, whose classes cover every image."""
        rows = self._per_split()
        if rows.empty:
            return {}
        root = rows[rows["node"] == rows["node"].iloc[0]]
        return {s: int(root.loc[root["split"] == s, "count"].sum()) for s in self._split_names()}

    def _split_sizes(self) -> str:
        totals = self._split_totals()
        return f" ({', '.join(f'{s} {n}' for s, n in totals.items())})" if totals else ""

    def _cell_legend(self) -> str:
        names = self._split_names()
        return f": all ({'/'.join(names)})" if names else ""

    def _count_lines(self) -> list[str]:
        if self.counts.empty:
            return ["  (no classes)"]
        per_split = self._per_split()
        wide = per_split.pivot_table(
            index=["node", "class"], columns="split", values="count", aggfunc="sum"
        )
        names = self._split_names()
        nodes = list(dict.fromkeys(self.counts["node"]))
        pad = max(len(str(node)) for node in nodes)
        lines = []
        for node in nodes:
            rows = self.counts[self.counts["node"] == node]
            cells = [
                f"{cls} {count}{_by_split(wide, node, cls, names)}"
                for cls, count in zip(rows["class"], rows["count"], strict=True)
            ]
            lines += _wrapped(f"  {node:<{pad}}  ", cells)
        return lines

    def _facts(self) -> list[str]:
        """One line each: near-duplicates, label sources, where the Data Docs are."""
        lines = []
        found = self.near_duplicates
        if found is not None:
            lines.append(
                f"near-duplicates: {found['pairs']} pair(s) in different sets within "
                f"{found['max_distance']} bits ({found['train_test']} across train and test)"
                f", {found['hashed']} images hashed"
            )
        sources = self.tables.get("label_sources")
        if sources is not None and not sources.empty:
            root = sources[sources["node"] == sources["node"].iloc[0]]
            overall = root.groupby("value")["count"].sum().sort_values(ascending=False)
            parts = [f"{v} {n / overall.sum():.0%}" for v, n in overall.items()]
            lines.append(f"label sources: {', '.join(parts)}")
        if self.data_docs:
            docs = (self.folder or Path()) / self.data_docs
            lines.append(f"Data Docs: {_shown(docs)}")
        return [""] + lines if lines else []


def _by_split(wide: pd.DataFrame, node: str, cls: str, names: list[str]) -> str:
    if not names or (node, cls) not in wide.index:
        return ""
    row = wide.loc[(node, cls)]
    return " (" + "/".join(str(int(row.get(s, 0))) for s in names) + ")"


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (numpy numbers as Python ones, NaN as None)."""
    return json.loads(frame.to_json(orient="records")) if len(frame) else []


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
