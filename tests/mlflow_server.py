"""A real ``mlflow server`` on 127.0.0.1 for tests: start it, wait for it, stop it.

The server runs in its own process group, so stopping it also stops the workers it
started; a server that does not come up fails the test with its own log, not a hang.
Its backend store is sqlite, or a throwaway database on the PostgreSQL server that
``.ci/run`` installs and starts (:func:`postgres_database`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MLFLOW = Path(sys.executable).with_name("mlflow")
STARTUP_S = 120.0  # ~14 s on an idle 2-core machine; much more while other tests train


# What an MLflow server needs to send its registry webhooks to a server on 127.0.0.1: it
# allows https only and refuses private and loopback addresses by default
# (mlflow/utils/validation.py, _validate_webhook_url), and caches its subscriptions for
# 60 s, so a new one would miss its first minute's events (mlflow/webhooks/delivery.py).
WEBHOOKS_ON_LOOPBACK = {
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The PostgreSQL server the tests create databases on: .ci/run starts Debian's and gives
# the user running the tests a role (peer authentication on the local socket, no
# password). Point it elsewhere with a libpq URI; a password belongs in ~/.pgpass or
# $PGPASSWORD, never here.
POSTGRES_ENV = "TAXONOMIST_TEST_POSTGRES"
DEFAULT_POSTGRES = "postgresql:///postgres?host=/var/run/postgresql"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database for one server (dropped afterwards); its SQLAlchemy URI."""
    import psycopg2
    from psycopg2 import sql

    admin_uri = os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES)
    name = f"taxonomist_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(admin_uri)
    except psycopg2.OperationalError as err:
        raise RuntimeError(
            f"no PostgreSQL at {admin_uri} ({err}); .ci/run installs and starts it "
            f"(apt-get install postgresql), or set ${POSTGRES_ENV} to a server's URI"
        ) from err
    admin.autocommit = True  # CREATE/DROP DATABASE refuse to run in a transaction
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield _database_uri(admin.get_dsn_parameters(), name)
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(name)))
    finally:
        admin.close()


def _database_uri(dsn: dict[str, str], name: str) -> str:
    """SQLAlchemy's URI (psycopg2, as SQLAlchemy 2.1 defaults to psycopg 3) of database
    ``name``, on the server and as the user of ``dsn``."""
    user, host, port = dsn["user"], dsn.get("host", ""), dsn.get("port", "5432")
    if host.startswith("/"):  # a Unix socket
        return f"postgresql+psycopg2://{user}@/{name}?host={host}&port={port}"
    return f"postgresql+psycopg2://{user}@{host}:{port}/{name}"


def start_server(store: Path, port: int, backend_uri: str | None = None,
                 app_name: str | None = None,
                 env: dict[str, str] | None = None) -> subprocess.Popen:
    """``mlflow server`` backed by ``backend_uri`` (default: sqlite in ``store``),
    serving artifacts itself from ``store``; ``app_name`` e.g. ``basic-auth``, ``env``
    added to the server's environment."""
    store.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    app = ["--app-name", app_name] if app_name else []
    with open(store / "server.log", "ab") as log:
        return subprocess.Popen(
            [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", backend_uri or f"sqlite:///{store / 'mlflow.db'}",
             "--artifacts-destination", str(store / "artifacts"), "--serve-artifacts",
             "--workers", "1", *app],
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


@contextmanager
def running_server(store: Path, backend_uri: str | None = None, app_name: str | None = None,
                   env: dict[str, str] | None = None) -> Iterator[str]:
    """A healthy ``mlflow server`` for the ``with`` block (see :func:`start_server`);
    its URL."""
    url = f"http://127.0.0.1:{free_port()}"
    server = start_server(store, int(url.rsplit(":", 1)[1]), backend_uri, app_name, env)
    try:
        wait_until_healthy(url, server, store)
        yield url
    finally:
        stop_server(server)
