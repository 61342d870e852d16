"""The backend a runner config names: local worker processes, Ray, or submitit."""

from __future__ import annotations

from pathlib import Path

from taxonomist.runner.backends import Backend
from taxonomist.runner.settings import RunnerConfig, RunnerKind


def open_backend(config: RunnerConfig, jobs: int | None, log_dir: Path) -> Backend:
    """The backend ``config.kind`` names, for ``jobs`` stages at once (None: config's);
    submitit keeps its job folders under ``log_dir``."""
    count = jobs or config.jobs
    if config.kind is RunnerKind.ray:
        from taxonomist.runner.ray_backend import RayBackend

        return RayBackend(config, count or 1)
    if config.kind is RunnerKind.submitit:
        from taxonomist.runner.submitit_backend import SubmititBackend

        return SubmititBackend(config, count or 1, log_dir / "submitit")
    from taxonomist.runner.local import LocalBackend

    return LocalBackend(config, count or LocalBackend.default_jobs())
