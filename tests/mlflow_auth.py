"""A real ``mlflow server --app-name basic-auth`` on 127.0.0.1, with the users of a deployment.

- ``admin``: created by the auth app at its first start, from ``$MLFLOW_AUTH_ADMIN_PASSWORD``
  (never written to its ini file);
- ``pipeline``: registers versions and moves ``@live``; it creates the registered models
  and experiments it writes, and the auth app gives a creator MANAGE on what it creates;
- ``reader``: READ on everything (the ini's ``default_permission``), nothing more.

The passwords are random per server; :func:`as_user` makes MLflow's client send a user's.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.server.auth.client import AuthServiceClient

from tests.mlflow_server import running_server

AUTH_INI = """\
[mlflow]
default_permission = READ
database_uri = sqlite:///{database}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""
USERNAME, PASSWORD = "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"


@dataclass(frozen=True)
class User:
    name: str
    password: str = field(repr=False)

    def env(self) -> dict[str, str]:
        """The variables MLflow's client reads its basic-auth credentials from."""
        return {USERNAME: self.name, PASSWORD: self.password}


@dataclass(frozen=True)
class AuthServer:
    url: str
    admin: User
    pipeline: User
    reader: User


def new_user(name: str) -> User:
    return User(name, secrets.token_urlsafe(18))  # the auth app wants 12 characters or more


@contextmanager
def as_user(user: User) -> Iterator[None]:
    """MLflow's clients in this process authenticate as ``user`` for the block."""
    before = {key: os.environ.get(key) for key in (USERNAME, PASSWORD)}
    os.environ.update(user.env())
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def basic_auth_server(store: Path, env: dict[str, str] | None = None) -> Iterator[AuthServer]:
    """A healthy basic-auth server (sqlite stores in ``store``) with its three users;
    ``env``: more of the server's environment (e.g. webhook settings)."""
    store.mkdir(parents=True, exist_ok=True)
    ini = store / "basic_auth.ini"
    ini.write_text(AUTH_INI.format(database=store / "auth.db"))
    admin = new_user("admin")
    secret_env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin.password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),  # the auth app's CSRF key
    }
    with running_server(store, app_name="basic-auth", env={**secret_env, **(env or {})}) as url:
        pipeline, reader = new_user("pipeline"), new_user("reader")
        with as_user(admin):
            users = AuthServiceClient(url)
            for user in (pipeline, reader):
                users.create_user(user.name, user.password)
        yield AuthServer(url, admin, pipeline, reader)
