"""``conf/runner/<name>.yaml``: where ``taxonomist repro`` runs its stages, typed once.

Three kinds, each an existing engine: ``local`` (worker processes on this machine),
``ray`` (a Ray cluster, by address) and ``submitit`` (SLURM, or submitit's local
executor). The file is read by ``taxonomist repro --runner NAME`` only: it changes where
stages run, never what they compute, so it is not part of params.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from taxonomist.errors import ConfigError

RUNNER_DIR = "runner"
DEFAULT_RUNNER = "local"


class RunnerKind(StrEnum):
    local = "local"
    ray = "ray"
    submitit = "submitit"


@dataclass(frozen=True)
class RunnerConfig:
    """How and where the stages of one ``taxonomist repro`` run.

    Attributes:
        kind: ``local``, ``ray`` or ``submitit``.
        jobs: stages at once; null: one per CUDA device, else one per two CPU cores.
        threads_per_job: torch threads of one stage; null: the cores shared out evenly.
        job_timeout_s: a stage with no answer after this long is reported as lost (its
            worker died or hangs) and the run stops, instead of waiting for ever.
        address: ray: the cluster (``auto``, ``ray://host:10001``); null starts a local one.
        cpus_per_job: ray: CPUs a stage reserves.
        gpus_per_job: ray: GPUs a stage reserves.
        cluster: submitit: ``slurm``, ``local`` (a process per stage here), or null (SLURM
            when ``sbatch`` exists, else local).
        parameters: submitit: ``executor.update_parameters(**parameters)``, e.g.
            ``slurm_partition``, ``timeout_min``, ``cpus_per_task``, ``gpus_per_node``.
        log_dir: per-stage logs, and submitit's job folders, relative to the project.
    """

    kind: RunnerKind = RunnerKind.local
    jobs: int | None = None
    threads_per_job: int | None = None
    job_timeout_s: float = 6 * 3600.0
    address: str | None = None
    cpus_per_job: float = 1.0
    gpus_per_job: float = 0.0
    cluster: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    log_dir: str = ".dvc/tmp/repro"


def load_runner_config(config_dir: Path, name: str = DEFAULT_RUNNER) -> RunnerConfig:
    """``config_dir/runner/<name>.yaml`` over the defaults (the defaults if it is absent
    and ``name`` is the default).

    Raises:
        ConfigError: no such runner file, an unknown key (with the close ones) or a
            wrong type, naming the file and the key.
    """
    file = config_dir / RUNNER_DIR / f"{name}.yaml"
    shown = f"conf/{RUNNER_DIR}/{name}.yaml"
    if not file.is_file():
        if name == DEFAULT_RUNNER:
            return RunnerConfig()
        known = sorted(p.stem for p in (config_dir / RUNNER_DIR).glob("*.yaml"))
        raise ConfigError(shown, "", "no such runner file",
                          f"choose one of: {', '.join(known) or 'none found'}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RunnerConfig), OmegaConf.load(file))
    except ConfigKeyError as err:
        raise _unknown_key(shown, err.full_key or "") from None
    except OmegaConfBaseException as err:
        raise ConfigError(shown, err.full_key or "", err.msg.splitlines()[0]) from None
    config = OmegaConf.to_object(merged)
    if config.jobs is not None and config.jobs < 1:
        raise ConfigError(shown, "jobs", f"expected 1 or more, got {config.jobs}",
                          "null picks one per device")
    return config


def _unknown_key(shown: str, key: str) -> ConfigError:
    return ConfigError.unknown_key(shown, key, [f.name for f in fields(RunnerConfig)])
