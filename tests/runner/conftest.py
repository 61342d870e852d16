"""A tiny DVC project whose data stages have run, copied for each test of the runner.

Four nodes on the sample digits, one epoch of ``test_resnet`` at 16 px; ``round`` starts
from ``digit``'s trained backbone (``init_from``), so the graph has an order to respect.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from taxonomist.cli import main
from taxonomist.config import Paths, compose_config
from taxonomist.pipeline import write
from taxonomist.runner import RunnerConfig, reproduce
from tests.conftest import REPO
from tests.integration.test_dvc_repro import TINY_CLASSIFIER

BIN = Path(sys.executable).parent
# torch threads of every stage, serial or parallel: CPU float sums split over a different
# number of threads differ in their last bits, and then so do the weights
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
NODES = ("digit", "round", "straight", "curved")


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """``cmd`` in ``cwd`` with the venv's tools first on PATH; its output on failure."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **ONE_THREAD}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    if check:
        assert result.returncode == 0, f"{cmd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def one_stage(cmd: str, out: str) -> dict:
    return {"cmd": cmd, "outs": [out]}


def shell_project(root: Path, monkeypatch: pytest.MonkeyPatch, stages: dict[str, dict]) -> Path:
    """A DVC project of shell ``stages`` (no taxonomist conf/), as cwd."""
    monkeypatch.chdir(root)
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    return root


def make_project(root: Path) -> Path:
    shutil.copytree(REPO / "conf", root / "conf")
    classifiers = root / "conf" / "classifiers"
    (classifiers / "_default.yaml").write_text(yaml.safe_dump(TINY_CLASSIFIER))
    (classifiers / "round.yaml").write_text(yaml.safe_dump(
        {"backbone": {**TINY_CLASSIFIER["backbone"], "init_from": "digit"}}))
    sample = root / "conf" / "data" / "sample.yaml"
    sample.write_text(sample.read_text().replace("per_class: null", "per_class: 10"))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "config", "core.analytics", "false"], root)
    write(compose_config(root / "conf"), Paths(root))
    return root


@pytest.fixture(scope="session")
def data_ready(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with sample, ingest, split, validate and cache run and recorded."""
    root = make_project(tmp_path_factory.mktemp("runner") / "project")
    cwd = Path.cwd()
    os.chdir(root)
    try:
        reproduce(root, ["cache"], RunnerConfig(jobs=1), None, main, say=lambda _: None)
    finally:
        os.chdir(cwd)
    return root


@pytest.fixture
def project(data_ready: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the data-ready project, as cwd."""
    root = tmp_path / "project"
    shutil.copytree(data_ready, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def serial_models(data_ready: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same project after a plain, serial ``dvc repro train``: the reference."""
    root = tmp_path_factory.mktemp("serial") / "project"
    shutil.copytree(data_ready, root, symlinks=True)
    run(["dvc", "repro", "train"], root)
    return root / "models"


def weights(models: Path, node: str) -> bytes:
    return (models / node / "model.safetensors").read_bytes()


def dvc_status(root: Path, *targets: str) -> str:
    return run(["dvc", "status", *targets], root).stdout
