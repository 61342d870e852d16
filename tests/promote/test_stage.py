"""The promote stage against a real registry, with real stacks trained on the sample."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from mlflow import MlflowClient
from safetensors.torch import load_file, save_file

from taxonomist.config import Paths, compose_config
from taxonomist.contracts.promotion import Outcome
from taxonomist.promote import promote
from taxonomist.stack.build import build_stack
from taxonomist.tracking.client import client_for
from taxonomist.tracking.live_alias import live_version
from tests.promote.promote_child import lock_events

NAME = "digits.stack"


def client(root: Path) -> MlflowClient:
    """A client for the registry the project at ``root`` is configured to use."""
    return client_for(compose_config(root / "conf").project.mlflow, Paths(root))


def register_stack(root: Path) -> str:
    return build_stack(compose_config(root / "conf"), Paths(root)).version


def damage(root: Path, node: str) -> None:
    """Shuffle a node's class order in its head: it now names the wrong class."""
    weights = root / "models" / node / "model.safetensors"
    state = load_file(weights)
    head = [k for k in state if k.startswith("fc.")]
    order = torch.roll(torch.arange(state[head[0]].shape[0]), 1)
    save_file({k: (v[order] if k in head else v) for k, v in state.items()}, weights)


def run_promote(root: Path) -> dict:
    return promote(compose_config(root / "conf"), Paths(root)).to_json()


def test_first_promotion_goes_live_and_writes_the_evidence(project: Path) -> None:
    version = register_stack(project)
    record = run_promote(project)
    assert record["decision"] == Outcome.PROMOTE and record["live_after"] == version
    assert live_version(client(project), NAME) == version
    outcomes = pd.read_parquet(project / "reports" / "outcomes.parquet")
    assert {"challenger_correct", "live_correct", "set_id"} <= set(outcomes.columns)


def test_identical_challenger_is_not_promoted(project: Path) -> None:
    live = register_stack(project)
    run_promote(project)
    twin = register_stack(project)
    record = run_promote(project)
    assert record["decision"] in (Outcome.INVESTIGATE, Outcome.REJECT)
    assert record["comparison"]["difference"] == 0.0
    assert live_version(client(project), NAME) == live
    tags = client(project).get_model_version(NAME, twin).tags
    assert tags["compared_with_version"] == live and tags["decision"] == record["decision"]


def test_damaged_node_is_rejected_with_the_node_named(project: Path) -> None:
    live = register_stack(project)
    run_promote(project)
    damage(project, "round")
    register_stack(project)
    record = run_promote(project)
    assert record["decision"] == Outcome.REJECT, record["reason"]
    assert "node 'round'" in record["reason"]
    assert "round" in {c["name"] for c in record["failing"]}
    assert live_version(client(project), NAME) == live


def test_clearly_better_challenger_is_promoted(project: Path) -> None:
    healthy = project / "models" / "straight" / "model.safetensors"
    kept = healthy.read_bytes()
    damage(project, "straight")
    weak = register_stack(project)
    client(project).set_registered_model_alias(NAME, "live", weak)
    healthy.write_bytes(kept)
    better = register_stack(project)
    record = run_promote(project)
    assert record["decision"] == Outcome.PROMOTE, record["reason"]
    assert record["comparison"]["ci_low"] > 0
    assert live_version(client(project), NAME) == better


CHILD = Path(__file__).with_name("promote_child.py")
LOCK = f"{NAME}.promotion-lock"


def promote_in_subprocess(
    root: Path, log: Path | None = None, processes: int = 1, hold_s: float = 0.0
) -> subprocess.Popen:
    """``promote`` in a child process; with ``log``, its steps on the lock are recorded
    there and it can be made to wait for others or hold the lock (see promote_child)."""
    probe = [] if log is None else [
        "--log", str(log), "--processes", str(processes), "--hold", str(hold_s)
    ]
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(root), *probe], stdout=subprocess.PIPE, text=True,
        cwd=root, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )


def lock_registered(root: Path) -> bool:
    return client(root).search_registered_models(f"name='{LOCK}'") != []


def twin_project(root: Path, name: str) -> Path:
    """A second checkout of the project that shares the first one's MLflow store."""
    twin = root.parent / name
    shutil.copytree(root, twin, ignore=shutil.ignore_patterns("mlflow"))
    config = twin / "conf" / "config.yaml"
    uri = client(root).tracking_uri
    config.write_text(config.read_text().replace("tracking_uri: null", f"tracking_uri: {uri}"))
    return twin


def test_concurrent_promotions_have_exactly_one_winner(any_store: Path, tmp_path: Path) -> None:
    project = any_store
    other = twin_project(project, "other")
    first, second = register_stack(project), register_stack(other)
    # Both reach the lock together and the first to take it keeps it until the other has
    # found it busy (2 s at most, under the 3 s after which a lock counts as stale).
    log = tmp_path / "lock.jsonl"
    procs = [promote_in_subprocess(r, log, processes=2, hold_s=2.0) for r in (project, other)]
    records = [json.loads(p.communicate(timeout=300)[0].splitlines()[-1]) for p in procs]
    winners = [r for r in records if r["decision"] == Outcome.PROMOTE]
    assert len(winners) == 1, [r["reason"] for r in records]
    winner, loser = winners[0], next(r for r in records if r is not winners[0])
    live = live_version(client(project), NAME)
    assert live == winner["challenger"]["version"] and {first, second} >= {live}
    assert loser["live_before"]["version"] == live  # it compared with the winner
    assert not lock_registered(project)
    at = records.index(winner)
    assert_waited_while_held(lock_events(log), procs[1 - at].pid, procs[at].pid)


def assert_waited_while_held(events: list[dict], waiter: int, holder: int) -> None:
    """``waiter`` was refused the lock by an attempt that overlapped ``holder``'s hold:
    the two promotions overlapped, they did not run one after the other."""
    steps = [e for e in events if e["pid"] == holder]
    got = next(i for i, e in enumerate(steps) if e["event"] == "acquired")
    taken = steps[got - 1]["t"]  # the attempt that took it: the lock exists from then on
    released = next(e["t"] for e in steps[got:] if e["event"] == "release")
    mine = [e for e in events if e["pid"] == waiter]
    refused = [(tried["t"], busy["t"]) for tried, busy in zip(mine, mine[1:], strict=False)
               if tried["event"] == "attempt" and busy["event"] == "busy"]
    assert any(tried <= released and taken <= busy for tried, busy in refused), events


def kill_when(proc: subprocess.Popen, moment: str, root: Path, log: Path) -> None:
    """SIGKILL the promotion early (while it loads and compares) or while it holds the
    lock that guards the alias move, the moment that matters most."""
    if moment == "early":
        time.sleep(4.0)
    else:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and not any(
            e["event"] == "acquired" for e in lock_events(log)
        ):
            time.sleep(0.01)
        assert lock_registered(root), lock_events(log)  # held at the moment of the kill
    assert proc.poll() is None, "it finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("moment", ["early", "holding_lock"])
def test_killed_promotion_leaves_live_on_a_complete_stack(
    any_store: Path, tmp_path: Path, moment: str
) -> None:
    project = any_store
    old = register_stack(project)
    run_promote(project)
    damage(project, "round")  # a worse challenger: it must not go live half-way
    new = register_stack(project)
    log = tmp_path / "lock.jsonl"
    proc = promote_in_subprocess(project, log, hold_s=600)  # takes the lock, keeps it
    kill_when(proc, moment, project, log)
    assert proc.returncode == -signal.SIGKILL
    if moment == "holding_lock":
        assert lock_registered(project)  # left behind: its owner died holding it
    live = live_version(client(project), NAME)
    assert live in (old, new)
    assert client(project).get_model_version(NAME, live).status == "READY"
    record = run_promote(project)  # a stale lock left by the kill does not block this one
    assert record["decision"] == Outcome.REJECT and record["live_after"] == old
