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
from taxonomist.promote import INVESTIGATE, PROMOTE, REJECT, live_version, promote
from taxonomist.stack.build import build_stack

NAME = "digits.stack"


def client(root: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{(root / 'mlflow' / 'mlflow.db').resolve()}")


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
    return promote(compose_config(root / "conf"), Paths(root))


def test_first_promotion_goes_live_and_writes_the_evidence(project: Path) -> None:
    version = register_stack(project)
    record = run_promote(project)
    assert record["decision"] == PROMOTE and record["live_after"] == version
    assert live_version(client(project), NAME) == version
    outcomes = pd.read_parquet(project / "reports" / "outcomes.parquet")
    assert {"challenger_correct", "live_correct", "set_id"} <= set(outcomes.columns)


def test_identical_challenger_is_not_promoted(project: Path) -> None:
    live = register_stack(project)
    run_promote(project)
    twin = register_stack(project)
    record = run_promote(project)
    assert record["decision"] in (INVESTIGATE, REJECT)
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
    assert record["decision"] == REJECT, record["reason"]
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
    assert record["decision"] == PROMOTE, record["reason"]
    assert record["comparison"]["ci_low"] > 0
    assert live_version(client(project), NAME) == better


def promote_in_subprocess(root: Path) -> subprocess.Popen:
    code = (
        "import json,sys; from pathlib import Path; "
        "from taxonomist.config import Paths, compose_config; "
        "from taxonomist.promote import promote; r=Path(sys.argv[1]); "
        "print(json.dumps(promote(compose_config(r/'conf'), Paths(r))))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, text=True,
        cwd=root, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )


def twin_project(root: Path, name: str) -> Path:
    """A second checkout of the project that shares the first one's MLflow store."""
    twin = root.parent / name
    shutil.copytree(root, twin, ignore=shutil.ignore_patterns("mlflow"))
    config = twin / "conf" / "config.yaml"
    uri = f"sqlite:///{(root / 'mlflow' / 'mlflow.db').resolve()}"
    config.write_text(config.read_text().replace("tracking_uri: null", f"tracking_uri: {uri}"))
    return twin


def test_concurrent_promotions_have_exactly_one_winner(project: Path) -> None:
    other = twin_project(project, "other")
    first, second = register_stack(project), register_stack(other)
    procs = [promote_in_subprocess(project), promote_in_subprocess(other)]
    records = [json.loads(p.communicate(timeout=300)[0].splitlines()[-1]) for p in procs]
    winners = [r for r in records if r["decision"] == PROMOTE]
    assert len(winners) == 1, [r["reason"] for r in records]
    winner, loser = winners[0], next(r for r in records if r is not winners[0])
    live = live_version(client(project), NAME)
    assert live == winner["challenger"]["version"] and {first, second} >= {live}
    assert loser["live_before"]["version"] == live  # it compared with the winner
    assert client(project).search_registered_models(f"name='{NAME}.promotion-lock'") == []


def kill_when(proc: subprocess.Popen, moment: str, registry: MlflowClient) -> None:
    """SIGKILL the promotion early (while it loads and compares) or while it holds the
    lock that guards the alias move, the moment that matters most."""
    deadline = time.monotonic() + 120
    while moment == "holding_lock" and proc.poll() is None and time.monotonic() < deadline:
        if registry.search_registered_models(f"name='{NAME}.promotion-lock'"):
            break
        time.sleep(0.01)
    if moment == "early":
        time.sleep(4.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("moment", ["early", "holding_lock"])
def test_killed_promotion_leaves_live_on_a_complete_stack(project: Path, moment: str) -> None:
    old = register_stack(project)
    run_promote(project)
    damage(project, "round")  # a worse challenger: it must not go live half-way
    new = register_stack(project)
    kill_when(promote_in_subprocess(project), moment, client(project))
    live = live_version(client(project), NAME)
    assert live in (old, new)
    assert client(project).get_model_version(NAME, live).status == "READY"
    record = run_promote(project)  # a stale lock left by the kill does not block this one
    assert record["decision"] == REJECT and record["live_after"] == old
