"""Shared fixtures: a copy of the project's conf/, quiet tool environment, an MLflow server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.mlflow_server import free_port, start_server, stop_server, wait_until_healthy

REPO = Path(__file__).resolve().parents[1]
# Tests that start a server (by the fixture that starts it) are bounded far tighter than
# the default `timeout` in pyproject.toml: a hung server fails its test in minutes. Each
# bound covers the test's setup too (a session fixture is charged to its first user):
# any_store trains the promotion tests' project (134 s measured) and starts MLflow (14 s).
SERVER_TIMEOUT_S = {
    "any_store": 900,  # tests/promote: sqlite, or a real mlflow server
    "mlflow_server": 600,
    "moto_endpoint": 300,  # tests/data: moto's S3 server
    "webhook": 120,  # tests/notify: the Slack webhook stand-in
    "mailbox": 120,  # tests/notify: the SMTP server (aiosmtpd)
}


# Fuzzing (hypothesis): the same examples on every run, few enough to take seconds on two
# cores; `HYPOTHESIS_PROFILE=explore` tries new ones, many more, to hunt for bugs.
settings.register_profile("ci", derandomize=True, max_examples=40, deadline=None,
                          database=None, print_blob=False)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def declared_params(params: list) -> set[str]:
    """A dvc.yaml stage's ``params`` as ``key`` (params.yaml's) or ``file:key``."""
    flat = set()
    for entry in params:
        if isinstance(entry, str):
            flat.add(entry)
        else:
            flat |= {f"{file}:{key}" for file, keys in entry.items() for key in keys}
    return flat


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each test that starts a server its bound, unless it sets its own."""
    for item in items:
        bounds = [s for name, s in SERVER_TIMEOUT_S.items() if name in item.fixturenames]
        if bounds and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(max(bounds)))


@pytest.fixture(autouse=True)
def _quiet_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder holding a copy of the repository's conf/, as cwd."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real ``mlflow server`` (sqlite-backed) on 127.0.0.1, for the session.

    Tests share it: each one registers under names of its own, or cleans up after itself.
    """
    store = tmp_path_factory.mktemp("mlflow-server")
    url = f"http://127.0.0.1:{free_port()}"
    server = start_server(store, int(url.rsplit(":", 1)[1]))
    try:
        wait_until_healthy(url, server, store)
        yield url
    finally:
        stop_server(server)


@pytest.fixture
def drawn_box_detector(tmp_path: Path) -> Iterator[Path]:
    """A weights file for the configured detector, which, during the test, is a
    :class:`~tests.tiny_detector.DrawnBoxFinder` in this process: the detect stage, the
    cache's crops and serving get exact boxes of the drawn rectangles on any CPU."""
    from tests.tiny_detector import finding_drawn_boxes

    with finding_drawn_boxes(tmp_path / "detector.pt") as weights:
        yield weights
