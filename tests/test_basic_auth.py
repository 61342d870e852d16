"""An MLflow where only the pipeline moves ``@live``: ``mlflow server --app-name basic-auth``.

The pipeline user registers the stacks (so it manages them); the reader may read and
serve, and its promotion is refused naming it and the permission it lacks, with ``@live``,
the promotion lock and every registered model as they were.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from taxonomist.config import Paths
from taxonomist.promote import promote
from taxonomist.tracking.client import Client
from taxonomist.tracking.live_alias import live_version
from taxonomist.tracking.names import lock_model_name
from taxonomist.tracking.permissions import RegistryPermissionError
from tests.mlflow_auth import AuthServer, as_user, basic_auth_server
from tests.mlflow_server import free_port
from tests.secrets_scan import leaks
from tests.serve.running import serving, start_serve, wait_for_health
from tests.serve.stacks import Registry, make_registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
WEBHOOK_SECRET = "the-webhook-secret-of-the-basic-auth-test"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AuthServer, Registry]]:
    """A basic-auth server whose registry the pipeline user filled: two stacks, v1 live."""
    root = tmp_path_factory.mktemp("basic-auth")
    with basic_auth_server(root / "mlflow-server") as server, as_user(server.pipeline):
        registry = make_registry(root / "project", tracking_uri=server.url)
        yield server, registry


def registry_state(client: Client) -> list[tuple]:
    """Every registered model as the server has it: tags, aliases, description, and each
    version's tags."""
    state = []
    for model in sorted(client.search_registered_models(), key=lambda m: m.name):
        versions = client.search_model_versions(f"name = '{model.name}'")
        state.append((model.name, dict(model.tags), dict(model.aliases), model.description,
                      sorted((str(v.version), sorted(v.tags.items())) for v in versions)))
    return state


def test_a_promotion_as_the_reader_is_refused_and_changes_nothing(
        deployment: tuple[AuthServer, Registry]) -> None:
    server, registry = deployment
    first = registry.versions[0]
    with as_user(server.reader):
        client = registry.client()
        before = registry_state(client)
        with pytest.raises(RegistryPermissionError,
                           match=r"user 'reader' may not record a promotion decision on "
                           r"digits\.stack and move its @live: it needs EDIT permission "
                           r"on registered model digits\.stack") as refused:
            promote(registry.config, Paths(registry.root))
        after = registry_state(client)
    assert (refused.value.user, refused.value.permission) == ("reader", "EDIT")
    assert live_version(client, registry.name) == first
    assert lock_model_name(registry.name) not in {entry[0] for entry in after}
    assert after == before


def test_the_server_runs_as_the_reader_and_follows_the_pipelines_moves(
        deployment: tuple[AuthServer, Registry], monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader may not subscribe to webhooks (admin-only): it says so, and polls."""
    server, registry = deployment
    first, second = registry.versions
    (registry.root / "conf" / "serve.yaml").write_text(
        "poll_interval_s: 0.5\nwebhook:\n  url: http://127.0.0.1:9/hooks/mlflow\n")
    monkeypatch.setenv("TAXONOMIST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", server.reader.name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.reader.password)
    port = free_port()
    url, log = f"http://127.0.0.1:{port}", registry.root / "serve.log"
    process = start_serve(registry.root, port)  # inherits the reader's credentials
    try:
        wait_for_health(url, process, log, serving(first))
        with as_user(server.pipeline):
            registry.move_live(second)
            wait_for_health(url, process, log, serving(second))
            registry.move_live(first)  # as the module found it
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    text = log.read_text()
    assert "only an admin may create webhooks" in text and "polling only" in text
    assert leaks(text.encode(), {"password": server.reader.password,
                                 "webhook secret": WEBHOOK_SECRET}) == []
