"""The fault table of `taxonomist repro`: each row a real fault, made on purpose.

- ``kill -9`` of the run: finished nodes stay recorded, the rerun trains only the rest;
- a node that fails: the run stops naming it and its log, the others are recorded;
- a second run at once: refused with a clear message, dvc.lock untouched;
- a worker killed on Ray or submitit: reported as lost, not waited on.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from taxonomist.cli import main
from taxonomist.config import Paths, compose_config
from taxonomist.pipeline import write
from taxonomist.runner import RunnerConfig, StageFailedError, reproduce
from taxonomist.runner.dvc_project import ProjectBusyError
from taxonomist.runner.settings import RunnerKind
from tests.runner.conftest import (
    BIN,
    NODES,
    ONE_THREAD,
    dvc_status,
    one_stage,
    run,
    shell_project,
)

LOGS = Path(".dvc/tmp/repro")
WAIT_S = 900.0  # a 2-core machine loaded 10x over; every wait ends when its event happens


def wait_for(condition, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def recorded(project: Path) -> set[str]:
    """The stages dvc.lock holds (it must always parse)."""
    lock = project / "dvc.lock"
    return set(yaml.safe_load(lock.read_text())["stages"]) if lock.exists() else set()


def worker_pid(project: Path, stage: str) -> int | None:
    """The pid a stage's log says it runs in (its first line), once it has started."""
    log = project / LOGS / f"{stage}.log"
    match = re.search(r" pid (\d+)", log.read_text()) if log.exists() else None
    return int(match.group(1)) if match else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def start_repro(project: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **ONE_THREAD}
    return subprocess.Popen(["taxonomist", "repro", *args], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def write_classifier(project: Path, node: str, definition: dict | None) -> None:
    """Set (None: remove) ``node``'s own classifier file and regenerate the pipeline."""
    path = project / "conf" / "classifiers" / f"{node}.yaml"
    if definition is None:
        path.unlink()
    else:
        path.write_text(yaml.safe_dump(definition))
    write(compose_config(project / "conf"), Paths(project))


@pytest.mark.slow
def test_killed_run_keeps_finished_nodes_and_rerun_trains_only_the_rest(project: Path) -> None:
    # curved trains until it is killed, so the run is surely busy while the test acts;
    # the other worker trains the rest meanwhile
    write_classifier(project, "curved", {"epochs": 100_000, "patience": 100_000})
    first = start_repro(project, "--jobs", "2", "train")
    try:
        running = wait_for(lambda: worker_pid(project, "train@curved"), "train@curved to start")
        wait_for(lambda: "train@digit" in recorded(project), "train@digit to be recorded")
        busy = run(["taxonomist", "repro", "train"], project, check=False)
        assert busy.returncode == 2 and "another `taxonomist repro`" in busy.stderr, busy.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    wait_for(lambda: not alive(running), "the orphaned worker to exit", 30)
    finished = {stage for stage in recorded(project) if stage.startswith("train@")}
    assert "train@digit" in finished and "train@curved" not in finished
    write_classifier(project, "curved", None)
    result = reproduce(project, ["train"], RunnerConfig(threads_per_job=1), 2, main,
                       say=lambda _: None)
    assert set(result.ran) == {f"train@{n}" for n in NODES} - finished
    assert set(result.skipped) >= finished
    assert "Data and pipelines are up to date." in dvc_status(project, "train")


@pytest.mark.slow
def test_failed_node_stops_the_run_naming_it_and_its_log(project: Path) -> None:
    (project / "checkpoints").mkdir()
    (project / "checkpoints" / "curved").write_text("not a folder")  # curved cannot train
    with pytest.raises(StageFailedError) as failed:
        reproduce(project, ["train"], RunnerConfig(threads_per_job=1), 2, main,
                  say=lambda _: None)
    log = project / LOGS / "train@curved.log"
    assert f"stage 'train@curved' exited with 1; log: {log}" in str(failed.value)
    assert "Traceback" in log.read_text()
    # which other nodes got a worker before curved failed depends on scheduling: each
    # that did is finished and recorded
    started = {p.stem for p in (project / LOGS).glob("train@*.log")} - {"train@curved"}
    trained = {stage for stage in recorded(project) if stage.startswith("train@")}
    assert started and trained == started
    status = dvc_status(project, "train")
    assert "train@curved" in status
    assert not [stage for stage in trained if stage in status]


def test_second_run_at_once_is_refused_and_dvc_lock_is_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamp = one_stage("date +%s%N > stamp.txt", "stamp.txt")
    project = shell_project(tmp_path, monkeypatch, {"only": stamp})
    run(["dvc", "repro"], project)
    (project / "stamp.txt").write_text("edited: the stage is stale again\n")
    before = (project / "dvc.lock").read_bytes()
    holder = Repo(str(project))
    with holder.lock:  # what a running `taxonomist repro` (or dvc command) holds
        with pytest.raises(ProjectBusyError, match=r"another `taxonomist repro` or DVC "
                           r"command is running in this project \(it holds .*lock\)"):
            reproduce(project, [], RunnerConfig(), 1, main, say=lambda _: None)
    holder.close()
    assert (project / "dvc.lock").read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("engine", [
    RunnerConfig(kind=RunnerKind.ray, threads_per_job=1),
    RunnerConfig(kind=RunnerKind.submitit, cluster="local", threads_per_job=1),
], ids=["ray", "submitit-local"])
def test_dead_worker_is_reported_not_waited_on(engine: RunnerConfig, project: Path) -> None:
    def kill_the_worker() -> None:
        pid = wait_for(lambda: worker_pid(project, "train@digit"), "train@digit to start")
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker, daemon=True)
    killer.start()
    with pytest.raises(StageFailedError, match=r"stage 'train@digit' .*worker was lost"):
        reproduce(project, ["train@digit"], engine, 1, main, say=lambda _: None)
    killer.join(5)
    assert "train@digit" not in recorded(project)


@pytest.mark.timeout(300)  # far below the hung command's 600 s: the runner must give up
def test_a_stage_that_never_answers_is_given_up_after_job_timeout_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shell_project(tmp_path, monkeypatch, {"only": one_stage("sleep 600", "never.txt")})
    config = RunnerConfig(job_timeout_s=5.0, threads_per_job=1)
    with pytest.raises(StageFailedError, match=r"stage 'only' no answer after 5 s"):
        reproduce(project, [], config, 1, main, say=lambda _: None)
    assert "only" not in recorded(project)

