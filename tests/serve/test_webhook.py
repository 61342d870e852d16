"""``POST /hooks/mlflow``: only a delivery signed with the secret, fresh and never seen
before, makes the server follow ``@live`` before its next poll."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow.webhooks.delivery import _generate_hmac_signature

from taxonomist.config import compose_config
from taxonomist.data.images import ImagePolicy
from taxonomist.serve import live
from taxonomist.serve.app import create_app
from taxonomist.serve.live import ServedStack
from taxonomist.serve.settings import ServeConfig
from taxonomist.tracking.hooks import DeliveryVerifier, sign
from taxonomist.tracking.versions import load_served_model
from tests.serve.conftest import follower_on
from tests.serve.stacks import Registry
from tests.serve.test_follow import private_copy

SECRET = "a-webhook-secret-of-the-test-0123456789"
HOOK = "/hooks/mlflow"


@dataclass(frozen=True)
class Delivery:
    """One webhook POST as MLflow sends it (mlflow/webhooks/delivery.py)."""

    body: bytes
    headers: dict[str, str]


def delivery(model: str, *, secret: str = SECRET, sent: float | None = None,
             alias: str = "live", version: str = "2",
             entity: str = "model_version_alias") -> Delivery:
    """An alias set (or, with ``entity="model_version"``, a version registered)."""
    data = {"name": model, "version": version} | ({"alias": alias} if "alias" in entity else {})
    event = {"entity": entity, "action": "created", "timestamp": "", "data": data}
    body, delivery_id = json.dumps(event).encode(), str(uuid.uuid4())
    timestamp = str(int(time.time() if sent is None else sent))
    return Delivery(body, {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery_id,
        "X-MLflow-Timestamp": timestamp,
        "X-MLflow-Signature": sign(secret.encode(), delivery_id, timestamp, body).decode(),
    })


def post(client: TestClient, sent: Delivery):
    return client.post(HOOK, content=sent.body, headers=sent.headers)


def test_the_signature_is_mlflows() -> None:
    body = '{"entity": "model_version_alias"}'
    assert sign(SECRET.encode(), "id-1", "1700000000", body.encode()).decode() == \
        _generate_hmac_signature(SECRET, "id-1", "1700000000", body)


@pytest.fixture
def following(registry: Registry, served: ServedStack,
              tmp_path: Path) -> Iterator[tuple[TestClient, Registry]]:
    """An app serving v1 of a registry of its own, polling once an hour, with the hook."""
    root = private_copy(registry, tmp_path / "project")
    own = Registry(root, compose_config(root / "conf"), registry.name, registry.versions)
    app = create_app(follower_on(own, served), ServeConfig(), ImagePolicy(),
                     hooks=DeliveryVerifier(SECRET, max_age_s=300))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, own
    own.move_live(registry.versions[0])


def served_version(client: TestClient) -> str:
    return client.get("/health").json()["version"]


def wait_serving(client: TestClient, version: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while served_version(client) != version and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served_version(client) == version


def altered(sent: Delivery) -> Delivery:
    return Delivery(sent.body.replace(b'"2"', b'"1"'), sent.headers)


def unsigned(sent: Delivery) -> Delivery:
    return Delivery(sent.body, {k: v for k, v in sent.headers.items()
                                if k != "X-MLflow-Signature"})


def test_forged_altered_stale_or_replayed_deliveries_change_nothing(
        following: tuple[TestClient, Registry]) -> None:
    client, own = following
    first, second = own.versions
    own.move_live(second)  # the next poll is an hour away: only a delivery can tell
    refused = {
        "forged": (delivery(own.name, secret="not-the-secret-at-all-0123456789"), 401),
        "altered": (altered(delivery(own.name)), 401),
        "unsigned": (unsigned(delivery(own.name)), 401),
        "stale": (delivery(own.name, sent=time.time() - 301), 400),
        "ahead": (delivery(own.name, sent=time.time() + 301), 400),
    }
    for case, (sent, status) in refused.items():
        reply = post(client, sent)
        assert reply.status_code == status, (case, reply.text)
        assert reply.json()["error"] in ("bad_signature", "stale_delivery"), case
    time.sleep(1.0)  # a woken follower would have swapped by now
    assert served_version(client) == first

    valid = delivery(own.name)
    assert post(client, valid).json() == {"action": "follow"}
    wait_serving(client, second)
    replayed = post(client, valid)
    assert replayed.status_code == 400 and "replay" in replayed.json()["detail"]


def test_a_registered_version_is_loaded_ahead_and_its_promotion_only_swaps(
        following: tuple[TestClient, Registry], monkeypatch: pytest.MonkeyPatch) -> None:
    client, own = following
    second = own.versions[1]
    loads: list[str] = []

    def counted(client, name: str, version: str):
        loads.append(version)
        return load_served_model(client, name, version)

    monkeypatch.setattr(live, "load_served_model", counted)
    registered = delivery(own.name, version=second, entity="model_version")
    assert post(client, registered).json() == {"action": "prepare", "version": second}
    deadline = time.monotonic() + 60
    while not loads and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # past the warming forward
    assert loads == [second]
    assert served_version(client) == own.versions[0]  # ready, not served
    own.move_live(second)
    assert post(client, delivery(own.name, version=second)).json() == {"action": "follow"}
    wait_serving(client, second)
    assert loads == [second]  # loaded once, ahead: the promotion was a swap


def test_events_of_another_model_or_alias_are_ignored(make_client) -> None:
    client = make_client(hooks=DeliveryVerifier(SECRET, max_age_s=300))
    for sent in (delivery("other.stack"), delivery("digits.stack", alias="staging"),
                 delivery("other.stack", entity="model_version")):
        assert post(client, sent).json() == {"action": "ignore"}


def test_without_a_webhook_there_is_no_hook_route(make_client) -> None:
    assert post(make_client(), delivery("digits.stack")).status_code in (404, 405)
