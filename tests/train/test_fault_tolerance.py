"""train@NODE survives a kill, a damaged checkpoint and an MLflow outage."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from taxonomist.config import Paths, compose_config
from taxonomist.contracts.cache import images_file
from taxonomist.tracking.logger import RETRY_ENV, TrackingUnavailableError, TrackingWarning
from taxonomist.train.checkpointing import (
    SPOOL_FILE,
    AtomicCheckpointIO,
    CheckpointWarning,
    checkpoint_dir,
    resume_point,
    run_fingerprint,
)
from taxonomist.train.fit import train_node
from tests.mlflow_server import free_port, start_server, stop_server, wait_until_healthy
from tests.train.test_fit import fake_cache

TRAIN_SCRIPT = """
import sys
from pathlib import Path
from taxonomist.config import Paths, compose_config
from taxonomist.train.fit import train_node
train_node("round", compose_config(overrides=sys.argv[1:]), Paths(Path.cwd()))
"""


def overrides(epochs: int) -> list[str]:
    """Many small epochs of a tiny network; no early stop before the last one."""
    return [
        "classifiers.round.backbone.name=test_resnet",
        "classifiers.round.image_size=16",
        f"classifiers.round.epochs={epochs}",
        "classifiers.round.batch_size=32",
        "classifiers.round.patience=1000",
        "classifiers.round.augment=[]",
    ]


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite store, migrated once (a new store takes ~7 s)."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tiny(project: Path, migrated_db: Path) -> Paths:
    paths = Paths(project)
    fake_cache(paths, {"train": 64, "val": 16, "test": 16})
    (project / "mlflow").mkdir()
    shutil.copyfile(migrated_db, project / "mlflow" / "mlflow.db")
    return paths


def local_client(paths: Paths) -> MlflowClient:
    return MlflowClient(f"sqlite:///{(paths.root / 'mlflow' / 'mlflow.db').resolve()}")


def fake_checkpoint(path: Path, epoch: int, fingerprint: str, run_id: str | None = None) -> None:
    stamp = {"fingerprint": fingerprint, "mlflow_run_id": run_id}
    torch.save({"epoch": epoch, "state_dict": {}, "loops": {}, "taxonomist": stamp}, path)


# --- atomic writes and choosing where to resume --------------------------------------


def test_an_interrupted_write_leaves_the_previous_checkpoint_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1}, target)

    def dies_halfway(obj, file) -> None:
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(OSError, match="No space left"):
        AtomicCheckpointIO().save_checkpoint({"epoch": 2}, target)
    assert torch.load(target, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temp file left


def test_a_truncated_checkpoint_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    older, newer = tmp_path / "epoch=2-step=12.ckpt", tmp_path / "last.ckpt"
    fake_checkpoint(older, 2, "cfg", "run-1")
    fake_checkpoint(newer, 3, "cfg", "run-1")
    newer.write_bytes(newer.read_bytes()[:100])  # the tail lost, as by a full disk
    os.utime(older, ns=(1, 1))  # make sure "last" is the newest file
    with pytest.warns(CheckpointWarning, match=r"skipping checkpoint .*last\.ckpt: it cannot"):
        point = resume_point(tmp_path, "cfg")
    assert (point.checkpoint, point.epoch, point.run_id) == (older, 2, "run-1")
    assert (tmp_path / "last.ckpt.corrupt").exists() and not newer.exists()


@pytest.mark.parametrize(
    ("stamped", "warns"),
    [
        ("another-config", False),  # the definition or the data changed since
        (None, True),  # unreadable, and nothing older to fall back to
    ],
)
def test_nothing_to_resume_starts_fresh_and_removes_the_checkpoints(
    tmp_path: Path, stamped: str | None, warns: bool
) -> None:
    if stamped is None:
        (tmp_path / "last.ckpt").write_bytes(b"not a checkpoint")
    else:
        fake_checkpoint(tmp_path / "last.ckpt", 1, stamped)
    (tmp_path / SPOOL_FILE).write_text("{}")
    (tmp_path / "embeddings-0123.npy").write_bytes(b"kept")  # another cache in the folder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        point = resume_point(tmp_path, "cfg")
    assert any(w.category is CheckpointWarning for w in caught) == warns
    assert point.checkpoint is None and point.run_id is None
    assert not list(tmp_path.glob("*.ckpt")) and not (tmp_path / SPOOL_FILE).exists()
    assert (tmp_path / "embeddings-0123.npy").exists()


# --- a real kill -------------------------------------------------------------------------


def test_a_killed_run_resumes_from_its_last_checkpoint(tiny: Paths) -> None:
    epochs = 6
    script = tiny.root / "train_round.py"
    script.write_text(TRAIN_SCRIPT)
    child = subprocess.Popen(
        [sys.executable, str(script), *overrides(epochs)], cwd=tiny.root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    folder = checkpoint_dir(tiny, "round")
    try:
        _wait_for(lambda: any(folder.glob("*.ckpt")) or child.poll() is not None, 120)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL, "training ended before the first checkpoint"
    saved = resume_point(folder, _fingerprint(tiny, epochs))
    assert saved.checkpoint is not None and saved.epoch < epochs - 1 and saved.run_id

    restarted_ms = int(time.time() * 1000)
    result = train_node("round", compose_config(overrides=overrides(epochs)), tiny)

    assert result.run_id == saved.run_id and result.epochs == epochs  # one run, finished
    history = local_client(tiny).get_metric_history(result.run_id, "epoch")
    after_restart = sorted(int(m.value) for m in history if m.timestamp >= restarted_ms)
    assert after_restart[0] == saved.epoch + 1  # not from scratch, nothing skipped
    assert {int(m.value) for m in history} == set(range(epochs))
    assert local_client(tiny).get_run(result.run_id).info.status == "FINISHED"
    assert not list(folder.glob("*.ckpt"))  # a finished run leaves no checkpoint behind


def _fingerprint(paths: Paths, epochs: int) -> str:
    return run_fingerprint(compose_config(overrides=overrides(epochs)), "round", paths)


# --- MLflow outages ------------------------------------------------------------------------


def test_unreachable_mlflow_fails_at_the_end_and_a_rerun_sends_everything(
    tiny: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    epochs = 3
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv(RETRY_ENV, "1")
    config = compose_config(overrides=overrides(epochs))
    with (
        pytest.warns(TrackingWarning, match="cannot be reached .* training goes on"),
        pytest.raises(TrackingUnavailableError) as failure,
    ):
        train_node("round", config, tiny)
    message = str(failure.value)
    assert "cannot be reached after retrying for 1 s" in message
    assert "run (not created yet) were not logged" in message
    assert "rerun `taxonomist train round`: it resumes" in message
    assert (checkpoint_dir(tiny, "round") / SPOOL_FILE).exists()

    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the project's sqlite store is reachable
    rerun_ms = int(time.time() * 1000)
    result = train_node("round", config, tiny)
    client = local_client(tiny)
    history = client.get_metric_history(result.run_id, "val_loss")
    assert len(history) == epochs and all(m.timestamp < rerun_ms for m in history)  # no retrain
    assert client.get_run(result.run_id).data.params["n_train"] == "64"
    assert result.version == "1"


def _train_and_count_epochs(tiny: Paths, epochs: int) -> None:
    result = train_node("round", compose_config(overrides=overrides(epochs)), tiny)
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    assert len(client.get_metric_history(result.run_id, "val_loss")) == epochs
    assert len(client.get_metric_history(result.run_id, "train_loss")) == epochs
    assert client.get_run(result.run_id).data.params["n_train"] == "64"
    assert client.get_run(result.run_id).info.status == "FINISHED"


@pytest.mark.slow
@pytest.mark.timeout(600)  # it starts mlflow server twice: a hung one must not hang CI
def test_a_tracking_server_restarted_mid_training_gets_every_metric(
    tiny: Paths, monkeypatch: pytest.MonkeyPatch, migrated_db: Path
) -> None:
    port = free_port()
    store = tiny.root / "server"
    store.mkdir()
    shutil.copyfile(migrated_db, store / "mlflow.db")
    server = start_server(store, port)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", server, store)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
        monkeypatch.setenv(RETRY_ENV, "90")
        restarted: list[subprocess.Popen] = []

        def restart_after_first_checkpoint() -> None:
            folder = checkpoint_dir(tiny, "round")
            _wait_for(lambda: any(folder.glob("*.ckpt")), 120)
            stop_server(server)
            restarted.append(start_server(store, port))

        watcher = threading.Thread(target=restart_after_first_checkpoint, daemon=True)
        watcher.start()
        with pytest.warns(TrackingWarning, match="cannot be reached"):
            _train_and_count_epochs(tiny, epochs=8)
        watcher.join(5)
        assert restarted, "the server was never stopped"
    finally:
        stop_server(server)
        for process in restarted:
            stop_server(process)


def _wait_for(condition, timeout: float, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s")
        time.sleep(interval)


def test_the_fingerprint_follows_the_data_not_the_file_dates(tiny: Paths) -> None:
    """DVC may re-link cache files (new mtime): that must not throw a resume away."""
    before = _fingerprint(tiny, 3)
    for split in ("train", "val"):
        path = images_file(tiny, "round", split)
        shutil.copyfile(path, path.with_suffix(".copy"))
        os.replace(path.with_suffix(".copy"), path)
    assert _fingerprint(tiny, 3) == before
    assert _fingerprint(tiny, 4) != before  # another definition
    fake_cache(tiny, {"train": 60})  # other images
    assert _fingerprint(tiny, 3) != before
