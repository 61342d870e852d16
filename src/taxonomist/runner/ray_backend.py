"""Stages as Ray tasks, on the cluster at ``address`` (or a Ray started here for the run).

Ray reuses its worker processes, so a worker imports taxonomist once for many stages.
The project folder must be one every node of the cluster sees at the same path (as on
SLURM); stages read and write it there, and the parent records their outputs.
"""

from __future__ import annotations

from concurrent.futures import Future

from taxonomist.runner.backends import Backend, run_prepared, shared_threads
from taxonomist.runner.job import Entry, StageJob, StageOutcome
from taxonomist.runner.settings import RunnerConfig

OBJECT_STORE_BYTES = 256 * 2**20  # a Ray started here passes only small records


class RayBackend(Backend):
    """``ray.init(address=...)``; each stage a task reserving ``cpus_per_job``/``gpus_per_job``."""

    def __init__(self, config: RunnerConfig, jobs: int) -> None:
        super().__init__(config, jobs)
        import ray

        self._ray = ray
        local = config.address is None
        ray.init(
            address=config.address,
            num_cpus=max(1, round(jobs * config.cpus_per_job)) if local else None,
            object_store_memory=OBJECT_STORE_BYTES if local else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        self._threads = shared_threads(config, jobs)
        # max_retries=0: a crashed worker is reported, never silently run twice
        self._task = ray.remote(
            num_cpus=config.cpus_per_job, num_gpus=config.gpus_per_job, max_retries=0
        )(run_prepared)

    def submit(self, job: StageJob, entry: Entry) -> Future[StageOutcome]:
        return self._task.remote(job, entry, self._threads).future()

    def describe(self) -> str:
        where = self.config.address or "a local Ray instance"
        return f"Ray at {where}, {self.jobs} stages at once"

    def close(self) -> None:
        self._ray.shutdown()
