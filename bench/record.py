"""Every benchmark's figures, written to ``bench/results/<name>.json`` with where they
came from: the docs' tables are rendered from these files (``docs/hooks/figures.py``).

A bench starts a :class:`BenchRun` before it measures (the commit, the date and the load
average are those of the start) and writes its tables at the end::

    run = BenchRun.start("label", args.results_dir)
    ...                                           # measure, print as before
    run.write([Table("import", ("aggregation", "time", "against the baseline"), rows)])

A file holds ``format`` (:data:`FORMAT`), ``bench``, ``command`` (what to type to measure
again, from the repository root), ``argv`` (the process's own, verbatim), ``commit``,
``dirty`` (tracked files differed from the commit; ``bench/results/`` aside),
``date`` (UTC, ISO 8601), ``duration_s``, ``machine`` (``cpu``, ``cores``,
``torch_threads`` — null where the bench never imported torch —, ``load_average`` at
start over 1, 5 and 15 minutes, ``python``, ``torch``), ``settings`` (the bench's options,
defaults included) and ``tables``: each ``{"columns": [...], "rows": [[cell, ...]]}``.
A cell is text, null, or a figure: ``{"value", "unit"}`` plus, for a ratio, ``against``
(the baseline, measured in the same run), and optionally ``digits`` (decimals to show)
and ``interval`` (``[low, high]``, e.g. 95 % over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from taxonomist.contracts.files import write_text_atomic

FORMAT = 1
REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
RATIO = "×"  # the unit of a ratio against a baseline


@dataclass(frozen=True)
class Figure:
    """One measured number and its unit.

    Args:
        value: the number, in ``unit`` (a percentage as 88.1 with unit ``%``).
        unit: ``s``, ``ms``, ``MiB``, ``img/s``, :data:`RATIO`, ``%``, ``""`` (a count
            or an accuracy), ...
        against: for a ratio, what it is against, worded to follow the number
            ("majority vote", "the same batches with `file://` URLs").
        digits: decimals to show; None: three significant digits.
        interval: ``(low, high)`` around ``value`` (e.g. a 95 % interval over seeds).
    """

    value: float
    unit: str
    against: str | None = None
    digits: int | None = None
    interval: tuple[float, float] | None = None

    def as_json(self) -> dict[str, object]:
        cell: dict[str, object] = {"value": float(self.value), "unit": self.unit}
        if self.against is not None:
            cell["against"] = self.against
        if self.digits is not None:
            cell["digits"] = self.digits
        if self.interval is not None:
            cell["interval"] = [float(bound) for bound in self.interval]
        return cell


def ratio(value: float, against: str, digits: int | None = None) -> Figure:
    """``value`` times the baseline named by ``against`` (three significant digits unless
    ``digits`` says how many decimals: a ratio far below 1 keeps its figures)."""
    return Figure(value, RATIO, against, digits)


Cell = Figure | str | None


@dataclass(frozen=True)
class Table:
    """A named table of rows; each row has one cell per column."""

    name: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]

    def as_json(self) -> dict[str, object]:
        for number, row in enumerate(self.rows, 1):
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.name!r} row {number}: {len(row)} cells for "
                                 f"{len(self.columns)} columns {list(self.columns)}")
        return {"columns": list(self.columns),
                "rows": [[_cell_json(cell) for cell in row] for row in self.rows]}


def _cell_json(cell: Cell) -> object:
    return cell.as_json() if isinstance(cell, Figure) else cell


def add_results_option(parser: argparse.ArgumentParser) -> None:
    """``--results-dir``: where the result file goes (default ``bench/results``)."""
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help="write the result file <name>.json here (default: bench/results)")


@dataclass
class BenchRun:
    """A benchmark run: what is known at its start, and the writing of its result."""

    name: str
    directory: Path
    command: list[str]
    argv: list[str]
    commit: str | None
    dirty: bool | None
    date: str
    load_average: list[float]
    settings: dict[str, object] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(cls, name: str, directory: Path = RESULTS_DIR,
              settings: argparse.Namespace | Mapping[str, object] | None = None) -> BenchRun:
        """Note the commit, the date and the load average before anything is measured.

        Args:
            name: the bench's name: the result file is ``<name>.json``.
            directory: where to write it (``--results-dir``).
            settings: the bench's options (an argparse namespace or a mapping).
        """
        commit, dirty = git_state()
        options = vars(settings) if isinstance(settings, argparse.Namespace) else settings
        return cls(name, directory, rerun_command(), list(sys.orig_argv), commit, dirty,
                   datetime.now(UTC).isoformat(timespec="seconds"),
                   [round(load, 2) for load in os.getloadavg()],
                   {key: _plain(value) for key, value in (options or {}).items()
                    if key != "results_dir"})  # where it was written says nothing of it

    def write(self, tables: Sequence[Table]) -> Path:
        """Write ``<directory>/<name>.json`` atomically; print and return its path."""
        names = [table.name for table in tables]
        if len(set(names)) != len(names):
            raise ValueError(f"bench {self.name}: two tables share a name in {names}")
        record = {
            "format": FORMAT, "bench": self.name, "command": self.command, "argv": self.argv,
            "commit": self.commit, "dirty": self.dirty, "date": self.date,
            "duration_s": round(time.perf_counter() - self.started, 1),
            "machine": machine(self.load_average), "settings": self.settings,
            "tables": {table.name: table.as_json() for table in tables},
        }
        path = self.directory / f"{self.name}.json"
        write_text_atomic(path, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        print(f"result: {path}")
        return path


def rerun_command() -> list[str]:
    """This process's command as one types it from the repository root: ``python -m
    bench.NAME ARGS`` (or ``python PATH ARGS`` for a script), less ``--results-dir``
    (measuring again should replace the published file)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    if spec is not None and spec.name:
        program = ["-m", spec.name]
    else:
        script = Path(sys.argv[0]).resolve()
        program = [(script.relative_to(REPO) if script.is_relative_to(REPO) else script)
                   .as_posix()]
    return ["python", *program, *_without_results_dir(sys.argv[1:])]


def _without_results_dir(args: list[str]) -> list[str]:
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--results-dir":
            skip = True
        elif not arg.startswith("--results-dir="):
            kept.append(arg)
    return kept


def git_state() -> tuple[str | None, bool | None]:
    """HEAD's commit, and whether tracked files differ from it (results aside); (None,
    None) outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout
    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                      ":(exclude)bench/results")
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, bool(changed.strip())


def machine(load_average: list[float]) -> dict[str, object]:
    """What the figures depend on: the CPU, its cores, torch's threads, the load."""
    torch = sys.modules.get("torch")  # not imported here: it would weigh on memory figures
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "load_average": load_average,
        "python": platform.python_version(),
        "torch": _version("torch"),
    }


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (the platform's word where there is none)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _plain(value: object) -> object:
    """An option's value as JSON holds it (paths as text)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
