"""A real ``mlflow server`` sends its alias events to a real ``taxonomist serve``, which
follows a move of ``@live`` at once though its next poll is an hour away."""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

import pytest

from taxonomist.tracking.hooks import subscribe
from tests.mlflow_server import WEBHOOKS_ON_LOOPBACK, free_port, running_server
from tests.secrets_scan import leaks
from tests.serve.running import serving, start_serve, wait_for_health
from tests.serve.stacks import make_registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
FOLLOWED_WITHIN_S = 30.0  # ~1 s on an idle machine; the next poll is 3600 s away


def files_under(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


def test_a_move_is_followed_through_mlflows_webhook_and_the_secret_stays_put(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = secrets.token_urlsafe(32)
    monkeypatch.setenv("TAXONOMIST_WEBHOOK_SECRET", secret)  # only the serve process's
    with running_server(tmp_path / "mlflow", env=WEBHOOKS_ON_LOOPBACK) as mlflow:
        registry = make_registry(tmp_path / "project", tracking_uri=mlflow)
        first, second = registry.versions
        port = free_port()
        url, log = f"http://127.0.0.1:{port}", registry.root / "serve.log"
        hook = f"{url}/hooks/mlflow"
        (registry.root / "conf" / "serve.yaml").write_text(
            f"poll_interval_s: 3600\nwebhook:\n  url: {hook}\n")
        process = start_serve(registry.root, port)
        try:
            wait_for_health(url, process, log, serving(first))
            registry.move_live(second)
            moved = time.monotonic()
            wait_for_health(url, process, log, serving(second))
            followed_s = time.monotonic() - moved
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        client = registry.client()
        subscribe(client, registry.name, hook, secret)  # a restart subscribes again...
        subscribed = [h for h in client.list_webhooks() if h.url == hook]
    assert followed_s < FOLLOWED_WITHIN_S, log.read_text()[-3000:]
    assert len(subscribed) == 1  # ...the same webhook
    assert sorted(str(e) for e in subscribed[0].events) == [
        "model_version.created", "model_version_alias.created", "model_version_alias.deleted"]
    seen = [*files_under(registry.root), *files_under(tmp_path / "mlflow")]
    assert [leaks(data, {"webhook secret": secret}) for data in seen
            if leaks(data, {"webhook secret": secret})] == []
