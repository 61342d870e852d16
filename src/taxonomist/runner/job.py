"""One stage's command, as a worker runs it: in-process when it is a ``taxonomist`` verb.

A new ``taxonomist train NODE`` process pays 6-10 s of imports before it trains for a few
seconds. A worker that has imported taxonomist once runs the verb by calling the CLI's
entry point instead, so a node costs only its own work. Any other command runs in a
shell, as DVC runs it. Either way everything the stage prints, Python or C, goes to its
own log file (the worker's file descriptors 1 and 2 point there while it runs).
"""

from __future__ import annotations

import gc
import os
import shlex
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The CLI's ``main(argv) -> int``, handed down by the CLI (nothing imports the CLI).
Entry = Callable[[list[str]], int]
VERB = "taxonomist"
SHELL_SYNTAX = set("|;&<>$`(){}*?")  # a command with these needs a real shell


@dataclass(frozen=True)
class StageJob:
    """What a worker needs to run one stage: no DVC objects, so it pickles anywhere.

    Attributes:
        stage: DVC's name for it, e.g. ``train@round``.
        commands: the stage's ``cmd`` (one or more command lines).
        cwd: the stage's working directory (absolute; shared with remote workers).
        log: the file its output goes to (absolute).
        env: set while it runs (``DVC_ROOT``, ``DVC_STAGE``, as ``dvc repro`` sets them).
    """

    stage: str
    commands: tuple[str, ...]
    cwd: str
    log: str
    env: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StageOutcome:
    """How a stage ended: ``returncode`` 0 is success; where and how long it ran."""

    stage: str
    returncode: int
    seconds: float
    host: str
    pid: int


def run_job(job: StageJob, entry: Entry) -> StageOutcome:
    """Run ``job``'s commands one after the other, stopping at the first that fails."""
    start = time.monotonic()
    Path(job.log).parent.mkdir(parents=True, exist_ok=True)
    code = 0
    with _redirected(job.log) as log, _inside(job):
        print(f"# {job.stage} on {socket.gethostname()} pid {os.getpid()}", file=log, flush=True)
        for command in job.commands:
            print(f"> {command}", file=log, flush=True)
            code = _run_command(command, entry)
            if code != 0:
                break
    _free_cycles()
    return StageOutcome(job.stage, code, time.monotonic() - start,
                        socket.gethostname(), os.getpid())


def _free_cycles() -> None:
    """Free the stage's reference cycles before the worker runs the next stage.

    A Lightning Trainer and its module point at each other, so only the cyclic collector
    frees a node's model and optimiser state, and in a process holding torch's ~880k
    objects its full collections come too rarely: a worker grew by ~50 MiB per node
    trained. Collect now, then freeze the survivors (imports, caches), so that each later
    collection scans only one stage's objects: 2 ms instead of 0.45 s a stage.
    """
    gc.collect()
    gc.freeze()


def _run_command(command: str, entry: Entry) -> int:
    words = shlex.split(command)
    if words and words[0] == VERB and not SHELL_SYNTAX & set(command):
        return _call(entry, words[1:])
    return subprocess.run(command, shell=True, check=False).returncode


def _call(entry: Entry, argv: list[str]) -> int:
    try:
        return int(entry(argv) or 0)
    except SystemExit as ended:  # argparse, or a verb that exits
        return ended.code if isinstance(ended.code, int) else 1
    except Exception:  # noqa: BLE001 - the stage failed: its traceback goes to its log
        traceback.print_exc()
        return 1


@contextmanager
def _redirected(log_path: str) -> Iterator:
    """Point fds 1 and 2 (and sys.stdout/err) at ``log_path`` while the stage runs."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield log
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextmanager
def _inside(job: StageJob) -> Iterator[None]:
    """The stage's cwd and environment while it runs; the worker's own afterwards."""
    cwd, before = os.getcwd(), {key: os.environ.get(key) for key, _ in job.env}
    os.chdir(job.cwd)
    os.environ.update(dict(job.env))
    try:
        yield
    finally:
        os.chdir(cwd)
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
