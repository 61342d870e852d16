"""``trainer=ddp`` on the CPU: two gloo processes learn what one process learns.

DDP averages the gradients of the ranks' batches, so one DDP step on two batches of B
images is one single-process step on their union of 2B images, *if* nothing couples the
images of a batch other than the mean of the loss. The test removes the three things
that would: BatchNorm (its statistics are per rank; test_efficientnet_gn uses GroupNorm),
class-weighted cross-entropy (its mean is normalised by each batch's weights; balance=none)
and augmentation (random per rank). With one batch per rank per epoch and SGD (Adam's
first step is lr * sign(grad), which would magnify float noise), the two runs must end
with the same weights up to float summation order: a real parity check, not a loose one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from safetensors.torch import load_file

from taxonomist.config import Paths, compose_config
from taxonomist.train.fit import train_node
from tests.registry_store import template_db
from tests.train.test_fit import fake_cache

SCRIPT = Path(__file__).with_name("ddp_train.py")
PER_RANK = 32  # 64 training images of round: one batch per rank, two ranks
COMMON = [
    f"classifiers.round.{key}"
    for key in (
        "backbone.name=test_efficientnet_gn", "image_size=16", "epochs=2", "augment=[]",
        "balance=none", "optim.name=sgd", "optim.lr=0.05", "optim.weight_decay=0",
    )
]


@pytest.fixture
def parity_project(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fake_cache(Paths(project), {"train": 64, "val": 64, "test": 16})  # val: a batch per rank
    (project / "mlflow").mkdir()
    shutil.copyfile(template_db(tmp_path_factory), project / "mlflow" / "mlflow.db")
    return project


def test_ddp_on_two_cpu_processes_matches_one_process(parity_project: Path) -> None:
    paths = Paths(parity_project)
    single_overrides = [*COMMON, f"classifiers.round.batch_size={2 * PER_RANK}"]
    single = train_node("round", compose_config(overrides=single_overrides), paths)
    single_weights = load_file(paths.model_dir("round") / "model.safetensors")

    ddp = _run_ddp(parity_project, [*COMMON, f"classifiers.round.batch_size={PER_RANK}"])
    ddp_weights = load_file(paths.model_dir("round") / "model.safetensors")

    assert ddp["best_val_loss"] == pytest.approx(single.best_val_loss, rel=1e-5)
    assert ddp["epochs"] == single.epochs == 2
    assert ddp_weights.keys() == single_weights.keys()
    for name, weight in single_weights.items():
        assert (ddp_weights[name] - weight).abs().max() < 1e-4, name
    versions = MlflowClient(f"sqlite:///{paths.root / 'mlflow' / 'mlflow.db'}")
    registered = versions.search_model_versions("name = 'digits.round'")
    assert sorted(str(v.version) for v in registered) == ["1", "2"]  # rank 1 published nothing


def _run_ddp(project: Path, overrides: list[str]) -> dict:
    """Rank 0 in a subprocess: Lightning's `ddp` starts rank 1 by running the script again."""
    result = project / "ddp.json"
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]  # gloo, any host
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(project), str(result), *overrides, *ddp],
        cwd=project, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text())
