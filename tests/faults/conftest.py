"""One tiny project for the fault tests that run the real `dvc repro`, shared by them.

The taxonomy has one classifier (``digit``: zero or one), so a whole `dvc repro` runs
every stage once, quickly. Notify posts to a Slack stand-in and mails an SMTP server, both
on 127.0.0.1, and the DVC remote is moto's S3: every secret the project knows is in use,
set to a value a scan can recognise (:data:`SMTP_PASSWORD`, :data:`AWS_SECRET`,
:data:`WEBHOOK_PATH`).

Each stage process pays seconds of imports, so the kill and secret tests share one run of
the project (:func:`killed_thrice`) and each asserts on what it recorded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from mlflow import MlflowClient

from tests.conftest import REPO
from tests.data.s3_server import admin_client, start_moto
from tests.notify.conftest import Mailbox, Webhook, _handler, free_port

BIN = Path(sys.executable).parent
PAUSE_HOOK = Path(__file__).with_name("pause")  # sitecustomize.py: stop at an os.replace
WEBHOOK_PATH = "/services/T0FAULTS/B0FAULTS/slack-secret-4c1d9e7b"
SMTP_PASSWORD = "smtp-secret-9f3a51c2"
AWS_SECRET = "aws-secret-7e2b84d0c6a1"
TINY_CLASSIFIER = {
    "backbone": {"name": "test_resnet", "pretrained": False, "unfreeze_last": -1},
    "image_size": 16, "epochs": 1, "batch_size": 32, "min_images": 0,
    "max_imbalance": 20.0, "augment": [], "threshold": 0.0,
}
BUCKET = "faults-dvc-remote"


class LoginMailbox(Mailbox):
    """The SMTP stand-in, accepting only :data:`SMTP_PASSWORD`."""

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode(), handled=False)


@dataclass
class Project:
    """The project folder, the environment its commands get, and everything they printed."""

    root: Path
    env: dict[str, str]
    webhook: Webhook
    mailbox: LoginMailbox
    logs: list[str] = field(default_factory=list)

    def run(self, *cmd: str, ok: bool = True) -> str:
        done = subprocess.run(cmd, cwd=self.root, env=self.env, capture_output=True, text=True)
        output = done.stdout + done.stderr
        self.logs.append(output)
        if ok:
            assert done.returncode == 0, f"{cmd} failed:\n{output[-6000:]}"
        return output

    def repro(self) -> str:
        return self.run("dvc", "repro")

    def killed_repro(self, pause_at: str, timeout: float = 600) -> Killed:
        """`dvc repro`, SIGKILLed (with every process it started) once a stage command
        is about to put a file matching ``pause_at`` in place."""
        marker = self.root.parent / "paused"
        marker.unlink(missing_ok=True)
        env = self.env | {"FAULTS_PAUSE_AT": pause_at, "FAULTS_PAUSED": str(marker)}
        log = self.root.parent / "killed.log"
        with log.open("w") as out:
            repro = subprocess.Popen(["dvc", "repro"], cwd=self.root, env=env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
            try:
                _wait_for(marker, repro, timeout, log)
            finally:
                os.killpg(repro.pid, signal.SIGKILL)
                repro.wait()
        self.logs.append(log.read_text())
        pid, stage, _ = marker.read_text().split(" ", 2)
        return Killed(repro.pid, int(pid), stage, log.read_text())


@dataclass(frozen=True)
class Killed:
    """A `dvc repro` killed at a pause: its pid, the stage command's pid and name, its log."""

    dvc_pid: int
    stage_pid: int
    stage: str
    output: str


@dataclass(frozen=True)
class Aftermath:
    """A killed `dvc repro` and what it left, looked at before anything ran again."""

    killed: Killed
    half_written: bool  # the output the paused command was writing is in place
    lock_pids: set[int]  # the processes DVC's rwlock names


@dataclass(frozen=True)
class KilledThrice:
    """:func:`killed_thrice`: each kill's aftermath, and the run that finally got through."""

    project: Project
    in_split: Aftermath
    in_train: Aftermath
    in_stack: Aftermath
    stack_versions_at_kill: list  # digits.stack's model versions right after the stack kill
    rerun: str  # what the last `dvc repro`, the one run to the end, printed


# (the file whose os.replace the kill comes at, the output a non-atomic writer would leave)
KILL_POINTS = (
    ("data/splits.parquet", "data/splits.parquet"),
    ("checkpoints/digit/*.ckpt", "models/digit"),
    ("models/_stack/registered.json", "models/_stack/registered.json"),
)


def _wait_for(marker: Path, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"`dvc repro` ended without reaching the pause:\n{log.read_text()[-6000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no pause within {timeout} s:\n{log.read_text()[-6000:]}")
        time.sleep(0.1)


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[Webhook, LoginMailbox, str]]:
    """The Slack stand-in, the SMTP server and moto's S3, on 127.0.0.1."""
    hook = Webhook([])
    http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
    threading.Thread(target=http.serve_forever, args=(0.01,), daemon=True).start()
    hook.url = f"http://127.0.0.1:{http.server_address[1]}{WEBHOOK_PATH}"
    box = LoginMailbox(port=free_port())
    smtp = Controller(box, hostname=box.host, port=box.port, authenticator=box.authenticate,
                      auth_require_tls=False)
    smtp.start()
    moto, endpoint = start_moto()
    admin_client(endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield hook, box, endpoint
    finally:
        http.shutdown()
        smtp.stop()
        moto.stop()


@pytest.fixture(scope="session")
def repro_project(
    tmp_path_factory: pytest.TempPathFactory, servers: tuple[Webhook, LoginMailbox, str]
) -> Project:
    """The tiny project, committed, with its DVC remote on moto; nothing run yet."""
    hook, box, endpoint = servers
    root = tmp_path_factory.mktemp("faults") / "project"
    shutil.copytree(REPO / "conf", root / "conf")
    _tiny_conf(root / "conf", box)
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    env = _environment(hook.url, endpoint)
    project = Project(root, env, hook, box)
    project.run("git", "init", "-q")
    project.run("dvc", "init", "-q")
    project.run("dvc", "remote", "add", "-d", "s3remote", f"s3://{BUCKET}/dvc")
    project.run("dvc", "remote", "modify", "s3remote", "endpointurl", endpoint)
    project.run("taxonomist", "pipeline")
    project.run("git", "add", "-A")
    project.run("git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return project


@pytest.fixture(scope="session")
def killed_thrice(repro_project: Project) -> KilledThrice:
    """The project's first `dvc repro` killed in ``split``, the rerun killed in
    ``train@digit``, the next one killed in ``stack``, the last run to the end (notify
    included), with every secret set from the start: one pipeline's worth of stages, which
    every kill and secret test asserts on."""
    aftermaths = [_kill(repro_project, pause_at, output) for pause_at, output in KILL_POINTS]
    versions = stack_versions(repro_project)
    return KilledThrice(repro_project, *aftermaths, versions, repro_project.repro())


def _kill(project: Project, pause_at: str, output: str) -> Aftermath:
    killed = project.killed_repro(pause_at)
    return Aftermath(killed, (project.root / output).exists(), lock_pids(project.root))


def rwlock(root: Path) -> dict:
    """DVC's record of which process reads and writes which paths."""
    path = root / ".dvc" / "tmp" / "rwlock"
    return json.loads(path.read_text()) if path.exists() else {}


def lock_pids(root: Path, mode: str | None = None) -> set[int]:
    """The processes holding read or write locks (``mode`` None: either) in the rwlock."""
    lock = rwlock(root)
    readers = [info for infos in lock.get("read", {}).values() for info in infos]
    holders = {"read": readers, "write": list(lock.get("write", {}).values())}
    infos = holders[mode] if mode else [*holders["read"], *holders["write"]]
    return {info["pid"] for info in infos}


def stack_versions(project: Project) -> list:
    client = MlflowClient(f"sqlite:///{project.root / 'mlflow' / 'mlflow.db'}")
    return sorted(client.search_model_versions("name='digits.stack'"), key=lambda v: int(v.version))


def _tiny_conf(conf: Path, box: LoginMailbox) -> None:
    (conf / "taxonomy" / "digits.yaml").write_text(
        yaml.safe_dump({"name": "digits", "tree": {"digit": ["zero", "one"]}})
    )
    for extra in (conf / "classifiers").glob("*.yaml"):
        extra.unlink()
    (conf / "classifiers" / "_default.yaml").write_text(yaml.safe_dump(TINY_CLASSIFIER))
    sample = conf / "data" / "sample.yaml"
    sample.write_text(sample.read_text().replace("per_class: null", "per_class: 10"))
    promotion = conf / "promotion" / "default.yaml"
    promotion.write_text(promotion.read_text().replace("min_metric: 0.5 ", "min_metric: 0.0 "))
    (conf / "notify" / "outbox.yaml").write_text(yaml.safe_dump({
        "kind": "slack", "channels": ["email"], "outbox": "reports/outbox.jsonl",
        "slack": {"webhook_env": "TAXONOMIST_SLACK_WEBHOOK"},
        "email": {"host": box.host, "port": box.port, "sender": "taxonomist@example.com",
                  "to": ["ml@example.com"], "starttls": False},
        "retry": {"attempts": 2, "backoff": 0.01, "max_backoff": 0.05},
    }))


def _environment(webhook_url: str, endpoint: str) -> dict[str, str]:
    python_path = os.pathsep.join(filter(None, [str(PAUSE_HOOK), os.environ.get("PYTHONPATH")]))
    inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {
        **inherited,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": python_path,
        "TAXONOMIST_SLACK_WEBHOOK": webhook_url,
        "TAXONOMIST_SMTP_USER": "faults",
        "TAXONOMIST_SMTP_PASSWORD": SMTP_PASSWORD,
        "AWS_ACCESS_KEY_ID": "AKIAFAULTSTEST",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
