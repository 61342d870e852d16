"""The servers ``bench/serve.py`` measures, each a process on 127.0.0.1 over one project.

- ``fastapi``: the real ``taxonomist serve`` (:func:`start_fastapi`);
- ``litserve``: :mod:`bench.litserve_api` (:func:`start_litserve`), where litserve is
  installed (:func:`litserve_missing` says what to install where it is not).

While one side is measured the others are paused (:func:`alone`): LitServe's inference
worker polls its request queue every ``batch_timeout`` even when idle (about 20% of a
core, measured on the 2-core machine), which would slow whatever runs beside it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.machinery import PathFinder
from importlib.util import find_spec
from pathlib import Path

import httpx

from tests.mlflow_server import free_port
from tests.serve.running import serving, start_serve, wait_for_health
from tests.serve.stacks import REPO, Registry

SERVERS = ("fastapi", "litserve")
INSTALL_LITSERVE = ("pip install -e '.[litserve]' (or pip install --target DIR litserve "
                    "and pass --litserve-path DIR)")


@dataclass(frozen=True)
class Server:
    """A running server under test: where it listens and what its forwards have run."""

    name: str
    url: str
    process: subprocess.Popen
    forwards: Callable[[], tuple[float, float]]  # (images, forwards) so far

    def signal(self, number: int) -> None:
        """``number`` to the server's whole process group (its workers too)."""
        os.killpg(self.process.pid, number)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)  # a paused server would not act on SIGTERM
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)


@contextmanager
def alone(servers: list[Server], active: Server | None = None) -> Iterator[None]:
    """Every server but ``active`` paused (SIGSTOP) for the block, then resumed."""
    paused = [server for server in servers if server is not active]
    for server in paused:
        server.signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for server in paused:
            server.signal(signal.SIGCONT)


def start_fastapi(registry: Registry, threads: int) -> Server:
    """``taxonomist serve`` in the registry's project, once it serves the live version.

    Writes the project's ``conf/serve.yaml`` (``threads`` torch threads), which
    :func:`start_litserve` then reads too.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (registry.root / "conf" / "serve.yaml").write_text(
        f"poll_interval_s: 0.5\nrequest_timeout_s: 30\ntorch_threads: {threads}\n")
    server = start_serve(registry.root, port)
    wait_for_health(url, server, registry.root / "serve.log", serving(registry.versions[0]))
    return Server("fastapi", url, server, lambda: metrics_forwards(url))


def start_litserve(registry: Registry, extra_path: str | None, loop: str, http: str,
                   fast_queue: bool = False) -> Server:
    """:mod:`bench.litserve_api` in the registry's project, once its worker is ready.

    Args:
        extra_path: a folder put first on the server's path only (litserve installed
            with ``pip install --target``); None: none.
        loop, http: uvicorn's event loop and HTTP parser (:func:`uvicorn_choices`).
        fast_queue: LitServe's answers over ZeroMQ instead of a Manager queue.
    """
    port, log, forwards = free_port(), registry.root / "litserve.log", registry.root / "forwards"
    url = f"http://127.0.0.1:{port}"
    paths = [p for p in (extra_path, str(REPO), os.environ.get("PYTHONPATH")) if p]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.litserve_api", "--port", str(port), "--loop", loop,
             "--http", http, "--forwards", str(forwards), *(["--fast-queue"] * fast_queue)],
            cwd=registry.root, env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_health(url, server, log, lambda health: health == "ok", as_json=False)
    return Server("litserve", url, server, lambda: logged_forwards(forwards))


def litserve_missing(extra_path: str | None) -> str | None:
    """Why the LitServe server cannot start here, with what to install; None if it can."""
    if PathFinder.find_spec("litserve", [p for p in (extra_path, *sys.path) if p]):
        return None
    return f"litserve is not installed: {INSTALL_LITSERVE}; measuring without it"


def uvicorn_choices() -> tuple[str, str]:
    """The (loop, http) uvicorn's "auto" picks in ``taxonomist serve`` here (its process
    can import what this one can), for LitServe to be told the same."""
    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    return loop, "httptools" if find_spec("httptools") else "h11"


def metrics_forwards(url: str) -> tuple[float, float]:
    """(images, forwards) ``taxonomist serve`` has run so far, from its /metrics."""
    text = httpx.get(f"{url}/metrics").text
    total = re.search(r"^taxonomist_forward_images_sum (\S+)", text, re.M)
    count = re.search(r"^taxonomist_forward_images_count (\S+)", text, re.M)
    return float(total.group(1)), float(count.group(1))


def logged_forwards(log: Path) -> tuple[float, float]:
    """(images, forwards) from a log of one image count a line (:mod:`bench.litserve_api`)."""
    sizes = [int(line) for line in log.read_text().split()] if log.exists() else []
    return float(sum(sizes)), float(len(sizes))
