"""A real ``mlflow server`` on 127.0.0.1 for tests: start it, wait for it, stop it.

The server runs in its own process group, so stopping it also stops the workers it
started; a server that does not come up fails the test with its own log, not a hang.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MLFLOW = Path(sys.executable).with_name("mlflow")
STARTUP_S = 120.0  # ~14 s on an idle 2-core machine; much more while other tests train


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(store: Path, port: int) -> subprocess.Popen:
    """``mlflow server`` backed by sqlite in ``store``, serving artifacts itself."""
    store.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(store / "server.log", "ab") as log:
        return subprocess.Popen(
            [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
             "--artifacts-destination", str(store / "artifacts"), "--serve-artifacts",
             "--workers", "1"],
            env=env, cwd=store, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
        )


def wait_until_healthy(url: str, server: subprocess.Popen, store: Path) -> None:
    """Return once ``url``/health answers; raise with the server's log if it never does."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    log = (store / "server.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"mlflow server at {url} did not come up in {STARTUP_S:.0f} s:\n{log}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
