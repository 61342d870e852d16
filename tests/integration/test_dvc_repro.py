"""The real thing: `dvc repro` in a fresh git repo, then the served stack.

Tiny on purpose (a dozen digits per class, one epoch, timm's smallest test network),
so it checks the wiring of every stage, not the accuracy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from mlflow import MlflowClient

from tests.conftest import REPO

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
TINY_CLASSIFIER = {
    "backbone": {"name": "test_resnet", "pretrained": False, "unfreeze_last": -1},
    "image_size": 16,
    "epochs": 1,
    "batch_size": 32,
    # a dozen originals per digit leave some digit out of val or test, which validate
    # rightly fails per split; the gate itself is tested in tests/checks
    "min_images": 0,
    "max_imbalance": 20.0,
    "augment": [{"RandomAffine": {"degrees": 5, "p": 0.5}}],
    "threshold": 0.0,  # one epoch is unsure of everything; walk to the leaves anyway
}


# A third-party notice in a run's output: a warning's category line, a path into an
# installed library (how Lightning prints its warnings), a logger line of MLflow (dated)
# or of Lightning, torch, timm or urllib3, a tip, or a notice Lightning or MLflow prints.
THIRD_PARTY = re.compile(
    r"\b\w*Warning: |/site-packages/|^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d [A-Z]+ "
    r"|\b(?:pytorch_lightning|lightning_fabric|lightning|mlflow|torch|timm|urllib3)\.[\w.]+: "
    r"|\bTip:|GPU available|TPU available|Seed set to|`Trainer\.fit` stopped"
    r"|Successfully registered model|Created version|Downloading artifacts"
    r"|Experiment with name .* not found"
)
# ... unless it is one of ours: a warning raised in taxonomist, for the user to act on
OURS = re.compile(r"/taxonomist/[\w/]+\.py:\d+: \w+: ")


def third_party_notices(output: str) -> list[str]:
    return [line for line in output.splitlines()
            if THIRD_PARTY.search(line) and not OURS.search(line)]


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # TAXONOMIST_VERBOSE would show the notices the quiet run is checked for
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TAXONOMIST_VERBOSE", None)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    tail = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert result.returncode == 0, f"{cmd} failed:\n{tail}"
    return result


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def decision_heading(card: str) -> str:
    """The heading of the model card's decision section (the inlined CSS names every
    decision, so the decision must be read where the card shows it)."""
    match = re.search(r'<section id="decision"[^>]*>\s*<h2>(.*?)</h2>', card, re.S)
    assert match is not None, "the model card has no decision heading"
    return " ".join(match.group(1).split())


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "conf", root / "conf")
    (root / "conf" / "classifiers" / "_default.yaml").write_text(yaml.safe_dump(TINY_CLASSIFIER))
    (root / "conf" / "classifiers" / "round.yaml").write_text("epochs: 1\n")
    # every kind of head composes into the one served stack
    (root / "conf" / "classifiers" / "straight.yaml").write_text("head: knn\nneighbors: 3\n")
    (root / "conf" / "classifiers" / "curved.yaml").write_text("head: mlp\nmlp_hidden: 16\n")
    sample = root / "conf" / "data" / "sample.yaml"
    sample.write_text(sample.read_text().replace("per_class: null", "per_class: 12"))
    promotion = root / "conf" / "promotion" / "default.yaml"
    promotion.write_text(promotion.read_text().replace("min_metric: 0.5 ", "min_metric: 0.0 "))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["taxonomist", "pipeline"], root)
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"], root)
    return root


@pytest.fixture(scope="module")
def first_run(repo: Path) -> str:
    """What the first `dvc repro` printed, stdout then stderr."""
    result = run(["dvc", "repro"], repo)
    return result.stdout + result.stderr


def test_first_run_promotes_a_documented_stack(repo: Path, first_run: str) -> None:
    assert {"train@digit", "train@round", "evaluate@curved", "stack"} <= stages_run(first_run)
    promotion = json.loads((repo / "reports" / "promotion.json").read_text())
    assert promotion["decision"] == "promote"
    client = MlflowClient(f"sqlite:///{repo / 'mlflow' / 'mlflow.db'}")
    live = client.get_model_version_by_alias("digits.stack", "live")
    assert str(live.version) == promotion["challenger"]["version"]
    assert len(client.search_model_versions("name='digits.round'")) == 1
    card = (repo / "reports" / "model_card.html").read_text()
    assert decision_heading(card) == (
        '<span class="badge promote">PROMOTE</span> Decision: promoted to live'
    )
    assert (repo / "reports" / "live" / "model_card.html").exists()
    outbox = (repo / "reports" / "outbox.jsonl").read_text().splitlines()
    assert len(outbox) == 1 and json.loads(outbox[0])["decision"] == "promote"
    metrics = run(["dvc", "metrics", "show", "--json"], repo).stdout
    assert "leaf_accuracy" in metrics and "macro_f1" in metrics


def test_a_run_prints_ours_and_no_notice_of_the_libraries(first_run: str) -> None:
    assert "digits.stack v1: promote" in first_run  # our result lines are there
    assert third_party_notices(first_run) == []


def test_noop_repro_runs_nothing(repo: Path, first_run: str) -> None:
    output = run(["dvc", "repro"], repo).stdout
    assert stages_run(output) == set()


def test_editing_one_classifier_retrains_only_that_node(repo: Path, first_run: str) -> None:
    (repo / "conf" / "classifiers" / "round.yaml").write_text("epochs: 2\n")
    refused = subprocess.run(
        ["dvc", "repro"], cwd=repo, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    assert refused.returncode != 0
    assert "run `taxonomist pipeline`" in refused.stdout + refused.stderr
    run(["taxonomist", "pipeline"], repo)
    ran = stages_run(run(["dvc", "repro"], repo).stdout)
    assert {"train@round", "evaluate@round", "stack", "promote", "report", "notify"} <= ran
    assert not {"train@digit", "train@straight", "train@curved", "ingest", "cache"} & ran
    outbox = (repo / "reports" / "outbox.jsonl").read_text().splitlines()
    assert len(outbox) == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(300, func_only=True)  # the server only, not the repro it is charged
def test_mlflow_serves_the_live_stack(repo: Path, first_run: str) -> None:
    from taxonomist.stack.pyfunc import encode_image

    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow' / 'mlflow.db'}",
    }
    server = subprocess.Popen(
        ["mlflow", "models", "serve", "-m", "models:/digits.stack@live", "--env-manager",
         "local", "--host", "127.0.0.1", "--port", str(port)],
        cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        images = sorted((repo / "data" / "sample").rglob("*.png"))[:3]
        body = {"dataframe_records": [{"image": encode_image(p)} for p in images]}
        reply = requests.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        predictions = reply.json()["predictions"]
        assert len(predictions) == 3
        for prediction in predictions:
            assert len(prediction["path"]) == len(prediction["probabilities"])
            assert all(0.0 <= p <= 1.0 for p in prediction["probabilities"])
        bad = requests.post(
            f"http://127.0.0.1:{port}/invocations",
            json={"dataframe_records": [{"image": "bm90IGFuIGltYWdl"}]}, timeout=60,
        )
        assert bad.status_code >= 400 and "row 0: not a base64-encoded image" in bad.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "mlflow models serve exited"
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} not up after {timeout}s")
