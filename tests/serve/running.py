"""A real ``taxonomist serve`` process on 127.0.0.1, and waiting for its /health."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

STARTUP_S = 300.0  # imports torch and MLflow, then loads a stack: minutes on a busy machine


def start_serve(root: Path, port: int) -> subprocess.Popen:
    """``taxonomist serve --port PORT`` in the project ``root``; output in root/serve.log."""
    with (root / "serve.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "taxonomist.cli", "serve", "--port", str(port)],
            cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def wait_for_health(url: str, server: subprocess.Popen, log: Path,
                    ready: Callable[[Any], bool], as_json: bool = True) -> Any:
    """/health's body (parsed as JSON, else its text) once ``ready(body)``, within
    :data:`STARTUP_S`.

    Raises:
        AssertionError: with the end of ``log``, if it never was (or the server died).
    """
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            reply = httpx.get(f"{url}/health", timeout=2)
            health = reply.json() if as_json else reply.text
            if ready(health):
                return health
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"/health never got ready:\n{log.read_text()[-3000:]}")


def serving(version: str) -> Callable[[dict], bool]:
    return lambda health: health.get("version") == version
