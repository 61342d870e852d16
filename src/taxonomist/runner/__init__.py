"""``taxonomist repro``: the DVC pipeline with independent stages at once; DVC records them.

- :mod:`~.dvc_project`: DVC's graph, staleness, run-cache and dvc.lock, through DVC's API.
- :mod:`~.repro`: hands out ready stages, records each in dvc.lock as it ends.
- :mod:`~.job`: one stage's command in a worker (``taxonomist`` verbs in-process).
- :mod:`~.backends`, :mod:`~.local`, :mod:`~.ray_backend`, :mod:`~.submitit_backend`:
  local worker processes, Ray, SLURM via submitit.
- :mod:`~.settings`: ``conf/runner/<name>.yaml``.
"""

from taxonomist.runner.repro import ReproResult, StageFailedError, reproduce
from taxonomist.runner.settings import RunnerConfig, load_runner_config

__all__ = ["ReproResult", "RunnerConfig", "StageFailedError", "load_runner_config", "reproduce"]
