"""`taxonomist repro`: the nodes trained at once equal a serial `dvc repro`'s, and DVC agrees.

Bit-equal weights are expected, not just close ones: every node is seeded, Lightning runs
``deterministic=True``, and a stage run in-process by a warm worker computes exactly what
a new ``taxonomist train`` process computes. What does change the last bits is the number
of torch threads (CPU reductions are split differently; measured: best val_loss equal to
1e-7 relative, 1e-4 for one node), so both sides here run one thread per stage, which is
what ``--jobs 2`` gives each stage on 2 cores anyway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taxonomist.cli import main
from taxonomist.runner import RunnerConfig, reproduce
from taxonomist.runner.settings import RunnerKind
from tests.runner.conftest import NODES, dvc_status, one_stage, run, shell_project, weights

TRAIN = [f"train@{node}" for node in NODES]


def assert_same_as_serial(project: Path, serial_models: Path) -> None:
    for node in NODES:
        assert weights(project / "models", node) == weights(serial_models, node), node


def assert_dvc_sees_nothing_to_do(project: Path) -> None:
    assert "Data and pipelines are up to date." in dvc_status(project, "train")
    out = run(["dvc", "repro", "train"], project).stdout
    assert "Running stage" not in out, out


@pytest.mark.slow
def test_parallel_local_run_equals_serial_dvc_repro(project: Path, serial_models: Path) -> None:
    lines: list[str] = []
    one_thread = RunnerConfig(threads_per_job=1)
    result = reproduce(project, ["train"], one_thread, 2, main, say=lines.append)
    assert sorted(result.ran) == sorted(TRAIN)
    # init_from: round starts only after digit is done
    started = [line for line in lines if line.startswith(("Running stage", "Stage 'train"))]
    assert started.index(next(x for x in started if "'train@digit' done" in x)) < started.index(
        next(x for x in started if "Running stage 'train@round'" in x))
    assert_same_as_serial(project, serial_models)
    assert_dvc_sees_nothing_to_do(project)


@pytest.mark.slow
@pytest.mark.parametrize("engine", [
    RunnerConfig(kind=RunnerKind.ray, threads_per_job=1),  # a real Ray instance, started here
    RunnerConfig(kind=RunnerKind.submitit, cluster="local", threads_per_job=1),
], ids=["ray", "submitit-local"])
def test_ray_and_submitit_runs_equal_serial_dvc_repro(
    engine: RunnerConfig, project: Path, serial_models: Path
) -> None:
    result = reproduce(project, ["train"], engine, 2, main, say=lambda _: None)
    assert sorted(result.ran) == sorted(TRAIN)
    assert_same_as_serial(project, serial_models)
    assert_dvc_sees_nothing_to_do(project)


REPRO_FIT_SERIALLY = (
    "from pathlib import Path; from taxonomist.cli import main; "
    "from taxonomist.runner import RunnerConfig, reproduce; "
    "reproduce(Path.cwd(), ['fit'], RunnerConfig(jobs=1), 1, main, say=print)"
)


@pytest.mark.parametrize("hash_seed", ["2", "3"])  # each orders the group differently
def test_stages_ready_together_start_in_dvc_yaml_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_seed: str
) -> None:
    # a foreach group, as train@NODE is, named as a target among many more stages: DVC
    # (networkx) then lists the target's stages in the order of their hashes
    names = ["zeta", "alpha", "mu", "beta", "kappa"]
    fit = {"foreach": names, "do": one_stage("echo ${item} > ${item}", "${item}")}
    rest = {"foreach": list(range(12)), "do": one_stage("echo ${item} > r${item}", "r${item}")}
    project = shell_project(tmp_path, monkeypatch, {"fit": fit, "rest": rest})
    child = subprocess.run([sys.executable, "-c", REPRO_FIT_SERIALLY], cwd=project,
                           text=True, capture_output=True,
                           env={**os.environ, "PYTHONHASHSEED": hash_seed})
    assert child.returncode == 0, child.stderr[-3000:]
    started = [line.split("'")[1] for line in child.stdout.splitlines()
               if line.startswith("Running stage")]
    assert started == [f"fit@{name}" for name in names]
