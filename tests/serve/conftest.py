"""Two real registered stack versions (:mod:`tests.serve.stacks`), built in seconds, and
an app over them."""

from __future__ import annotations

import copy
import dataclasses
import io
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from taxonomist.data.images import ImagePolicy
from taxonomist.serve.app import create_app
from taxonomist.serve.auth import KeyRing
from taxonomist.serve.live import LiveFollower, ServedStack, folder_digest
from taxonomist.serve.settings import ServeConfig
from taxonomist.tracking.hooks import DeliveryVerifier
from taxonomist.tracking.versions import load_served_model
from tests.serve.stacks import Registry, make_registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return make_registry(tmp_path_factory.mktemp("serve-project"))


@pytest.fixture(scope="session")
def served(registry: Registry) -> ServedStack:
    """Stack v1, loaded and warmed once for the session."""
    follower = LiveFollower(registry.client(), registry.name, interval_s=3600)
    follower.refresh()
    assert follower.current is not None, follower.last_error
    return follower.current


@pytest.fixture(scope="session")
def served_v2(registry: Registry, served: ServedStack) -> ServedStack:
    """Stack v2 (other weights), loaded once for the session."""
    version = registry.versions[1]
    model = load_served_model(registry.client(), registry.name, version)
    return dataclasses.replace(served, version=version, model=model,
                               digest=folder_digest(model.folder))


def follower_on(registry: Registry, stack: ServedStack) -> LiveFollower:
    """A follower already serving ``stack``; its polls find @live unmoved (v1)."""
    follower = LiveFollower(registry.client(), registry.name, interval_s=3600)
    follower.current = stack
    return follower


@pytest.fixture
def make_client(registry: Registry, served: ServedStack) -> Iterator:
    """``make_client(stack=..., policy=..., keys=..., hooks=..., **settings)``: a TestClient
    over a fresh app (answering anyone unless ``keys`` are given; ``hooks``: the verifier
    of MLflow's webhook deliveries)."""
    opened: list[TestClient] = []

    def make(stack: ServedStack = served, policy: ImagePolicy | None = None,
             keys: KeyRing | None = None, hooks: DeliveryVerifier | None = None,
             **settings) -> TestClient:
        app = create_app(follower_on(registry, stack), ServeConfig(**settings),
                         policy or ImagePolicy(), keys, hooks)
        client = TestClient(app, raise_server_exceptions=False)
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


class Slow:
    """The served stack's predictor, taking ``seconds`` longer per request."""

    def __init__(self, predictor, seconds: float) -> None:
        self.predictor, self.seconds = predictor, seconds

    def __getattr__(self, name: str):
        return getattr(self.predictor, name)

    def predict(self, images):
        time.sleep(self.seconds)
        return self.predictor.predict(images)


def with_predictor(served: ServedStack, predictor) -> ServedStack:
    """``served`` answering with ``predictor`` (images still prepared by its own model)."""
    model = copy.copy(served.model)
    model.predictor = predictor
    return dataclasses.replace(served, model=model)


def slow(served: ServedStack, seconds: float) -> ServedStack:
    """``served`` with a predictor that sleeps ``seconds`` before each forward."""
    return with_predictor(served, Slow(served.model.predictor, seconds))


def png(size: tuple[int, int] = (20, 20), color: str = "white", fmt: str = "PNG") -> bytes:
    """An image file drawn with PIL."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()
