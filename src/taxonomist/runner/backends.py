"""Where stage jobs run: a backend turns a :class:`StageJob` into a standard ``Future``.

Each backend is a thin adapter over an existing engine (``concurrent.futures`` worker
processes, Ray tasks, submitit jobs); the parent only waits on futures. A worker that
dies makes its future fail (``BrokenProcessPool``, Ray's ``WorkerCrashedError``,
submitit's ``UncompletedJobError``), so it is reported, not waited on.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import Future

from taxonomist.runner.job import Entry, StageJob, StageOutcome, run_job
from taxonomist.runner.settings import RunnerConfig

# What a stage verb imports, loaded once per worker instead of once per stage.
PRELOAD = ("taxonomist.cli.stages", "taxonomist.train.fit", "taxonomist.evaluate.node")
PARENT_POLL_S = 1.0


class Backend(ABC):
    """Runs stage jobs somewhere; ``jobs`` of them at once at most."""

    def __init__(self, config: RunnerConfig, jobs: int) -> None:
        self.config, self.jobs = config, jobs

    @abstractmethod
    def submit(self, job: StageJob, entry: Entry) -> Future[StageOutcome]:
        """Start ``job``; the future ends with its outcome, or the worker's failure."""

    @abstractmethod
    def describe(self) -> str:
        """Where the jobs run, in a few words, for the progress lines."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers (jobs still running are cancelled)."""


def prepare_worker(threads: int | None, preload: tuple[str, ...] = PRELOAD) -> None:
    """In a fresh worker: cap its torch threads, then import what stages need, once."""
    if threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[key] = str(threads)
    for module in preload:
        importlib.import_module(module)


def run_prepared(job: StageJob, entry: Entry, threads: int | None) -> StageOutcome:
    """A job on a worker the runner did not start (Ray, submitit): prepare, then run."""
    prepare_worker(threads)
    return run_job(job, entry)


def exit_with_parent(parent: int) -> None:
    """End this worker when the process that started it is gone (``kill -9`` of
    ``taxonomist repro``), so no orphan writes outputs the rerun is about to redo."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def shared_threads(config: RunnerConfig, jobs: int) -> int:
    """torch threads per stage: the configured number, else the CPU cores shared out."""
    return config.threads_per_job or max(1, (os.cpu_count() or 1) // jobs)
