"""Stages as submitit jobs: SLURM (``sbatch``), or one process each with ``cluster: local``.

Each job is a new process (on SLURM, an allocation), so it pays the imports once per
stage; on a cluster that is small next to a node's training. The project folder must be
on a filesystem the compute nodes share, as SLURM users have.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path

from taxonomist.runner.backends import Backend, run_prepared, shared_threads
from taxonomist.runner.job import Entry, StageJob, StageOutcome
from taxonomist.runner.settings import RunnerConfig

POLL_S = 0.5  # how often a job's state is read (sacct on SLURM is cached by submitit)


class SubmititBackend(Backend):
    """``submitit.AutoExecutor(folder, cluster)`` with ``parameters`` from the config."""

    def __init__(self, config: RunnerConfig, jobs: int, folder: Path) -> None:
        super().__init__(config, jobs)
        import submitit

        self._executor = submitit.AutoExecutor(folder=folder / "%j", cluster=config.cluster)
        # submitit ends a job after timeout_min (5 by default, too short for training):
        # the runner's own bound, unless the config's parameters say otherwise
        timeout = {"timeout_min": math.ceil(config.job_timeout_s / 60)}
        self._executor.update_parameters(**(timeout | config.parameters))
        self._threads = shared_threads(config, jobs)
        self._waiting = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="submitit")
        self._closed = threading.Event()
        self._jobs: list = []

    def submit(self, job: StageJob, entry: Entry) -> Future[StageOutcome]:
        submitted = self._executor.submit(run_prepared, job, entry, self._threads)
        self._jobs.append(submitted)
        return self._waiting.submit(self._result, submitted)

    def _result(self, submitted) -> StageOutcome:
        while not submitted.done():
            if self._closed.is_set():
                raise CancelledError(f"submitit job {submitted.job_id} cancelled")
            time.sleep(POLL_S)
        return submitted.result()  # raises UncompletedJobError when the job died

    def describe(self) -> str:
        return f"submitit ({self._executor.cluster}), {self.jobs} jobs at once"

    def close(self) -> None:
        self._closed.set()
        for submitted in self._jobs:
            if not submitted.done():
                submitted.cancel(check=False)
        self._waiting.shutdown(wait=False, cancel_futures=True)
