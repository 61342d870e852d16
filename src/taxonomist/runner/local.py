"""Stages on this machine: a pool of worker processes that each import taxonomist once.

On a GPU box there is one worker per CUDA device and each sees only its own
(``CUDA_VISIBLE_DEVICES``), so ``trainer=gpu`` with ``devices: 1`` puts one node on each.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

from taxonomist.runner.backends import Backend, exit_with_parent, prepare_worker, shared_threads
from taxonomist.runner.job import Entry, StageJob, StageOutcome, run_job
from taxonomist.runner.settings import RunnerConfig

JOIN_S = 30.0


class LocalBackend(Backend):
    """``jobs`` spawned worker processes (``concurrent.futures.ProcessPoolExecutor``)."""

    def __init__(self, config: RunnerConfig, jobs: int) -> None:
        super().__init__(config, jobs)
        context = multiprocessing.get_context("spawn")  # no fork of a parent holding DVC state
        devices = cuda_devices()
        self._devices = context.SimpleQueue() if devices else None
        for worker in range(jobs if devices else 0):  # more workers than devices share them
            self._devices.put(devices[worker % len(devices)])
        self._threads = shared_threads(config, jobs)
        self._pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_start_worker,
            initargs=(self._devices, self._threads, os.getpid()),
        )

    @staticmethod
    def default_jobs() -> int:
        """One worker per CUDA device; without one, one per two CPU cores."""
        return len(cuda_devices()) or max(1, (os.cpu_count() or 1) // 2)

    def submit(self, job: StageJob, entry: Entry) -> Future[StageOutcome]:
        return self._pool.submit(run_job, job, entry)

    def describe(self) -> str:
        return f"{self.jobs} local worker{'s' if self.jobs > 1 else ''}"

    def close(self) -> None:
        """Stop the workers now, even one still running a stage given up as lost
        (``shutdown(wait=True)`` would wait for it for ever)."""
        processes = list(self._pool._processes.values())  # no public terminate before 3.14
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
            process.join(JOIN_S)


def cuda_devices() -> list[str]:
    """The CUDA devices this process may use (none without torch's CUDA)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d for d in visible.split(",") if d.strip()]
    if not glob.glob("/dev/nvidia[0-9]*"):  # no NVIDIA device: no need to import torch
        return []
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _start_worker(devices, threads: int | None, parent: int) -> None:
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices.get()
    exit_with_parent(parent)
    prepare_worker(threads)
