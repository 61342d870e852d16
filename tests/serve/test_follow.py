"""`taxonomist serve` follows @live under load: a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from taxonomist.config import Paths, compose_config
from taxonomist.tracking.client import client_for
from taxonomist.tracking.live_alias import ROLLBACK, move_live
from tests.mlflow_server import free_port
from tests.serve.conftest import Registry, png
from tests.serve.running import serving, start_serve, wait_for_health

CLIENTS, MAX_REQUESTS = 4, 3000  # the loop is bounded even if a swap never comes


def private_copy(registry: Registry, root: Path) -> Path:
    """The project with a registry of its own (the artifacts stay shared, read-only)."""
    shutil.copytree(registry.root, root)
    main = root / "conf" / "config.yaml"
    main.write_text(main.read_text().replace(str(registry.root), str(root)))
    (root / "conf" / "serve.yaml").write_text("poll_interval_s: 0.3\nrequest_timeout_s: 30\n")
    return root


class LoadLoop:
    """``CLIENTS`` threads posting an image back to back, recording every reply."""

    def __init__(self, url: str) -> None:
        self.url, self.stop = url, threading.Event()
        self.replies: list[list[tuple[int, str | None]]] = [[] for _ in range(CLIENTS)]
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(CLIENTS)]

    def _run(self, index: int) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set() and len(self.replies[index]) < MAX_REQUESTS:
                try:
                    reply = client.post(f"{self.url}/v1/predict", content=png(),
                                        headers={"Content-Type": "image/png"})
                    version = reply.json()["stack"]["version"] if reply.is_success else None
                    self.replies[index].append((reply.status_code, version))
                except httpx.HTTPError as err:  # a refused connection is a failure too
                    self.replies[index].append((0, repr(err)))

    def __enter__(self) -> LoadLoop:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def deduplicated(versions: list[str | None]) -> list[str | None]:
    return [v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1]]


@pytest.mark.slow
def test_live_moves_twice_under_load_and_no_request_fails(registry: Registry,
                                                          tmp_path: Path) -> None:
    root = private_copy(registry, tmp_path / "project")
    client = client_for(compose_config(root / "conf").project.mlflow, Paths(root))
    first, second = registry.versions
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_serve(root, port)
    try:
        wait_for_health(url, server, root / "serve.log", serving(first))
        with LoadLoop(url) as loop:
            time.sleep(1.0)
            for version in (second, first):  # a promotion, then a rollback
                move_live(client, registry.name, version, reason="test", actor="test",
                          kind=ROLLBACK)
                wait_for_health(url, server, root / "serve.log", serving(version))
                time.sleep(1.0)
        metrics = httpx.get(f"{url}/metrics").text
        health = httpx.get(f"{url}/health").json()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    replies = [reply for thread in loop.replies for reply in thread]
    assert replies and all(status == 200 for status, _ in replies), {
        r for r in replies if r[0] != 200}
    for thread in loop.replies:  # each client's requests are sequential: swaps in order
        assert deduplicated([version for _, version in thread]) == [first, second, first]
    assert health["status"] == "ok" and health["version"] == first  # the last move
    assert "taxonomist_model_swaps_total 3.0" in metrics
    assert f'model="digits.stack",version="{first}"}} 1.0' in metrics
    assert f'version="{second}"}} 1.0' not in metrics  # the info names only the live stack
