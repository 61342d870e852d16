"""A registry write that MLflow's authentication refuses, said in our words.

On ``mlflow server --app-name basic-auth`` each call carries the user of
``$MLFLOW_TRACKING_USERNAME``; a write that user may not make is answered 403
``PERMISSION_DENIED`` with the body "Permission denied", which names neither the user
nor what was missing. :func:`permission_needed` turns that answer into a
:class:`RegistryPermissionError` that names both, and how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.exceptions import MlflowException

from taxonomist.errors import TaxonomistError

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"  # MLflow's client sends it as basic auth
DENIED = "PERMISSION_DENIED"


class RegistryPermissionError(TaxonomistError):
    """The tracking server refused a registry write to this user (HTTP 403).

    Attributes:
        user: who the client was, as ``$MLFLOW_TRACKING_USERNAME`` says.
        permission: the permission it lacks, e.g. ``"EDIT"``.
        resource: what it lacks it on, e.g. ``"registered model digits.stack"``.
    """

    def __init__(self, user: str, permission: str, resource: str, action: str,
                 detail: str) -> None:
        self.user, self.permission, self.resource = user, permission, resource
        super().__init__(
            f"user {user!r} may not {action}: it needs {permission} permission on {resource} "
            f"and lacks it (the tracking server answered: {detail})\n"
            f"  hint: run this as the pipeline's user (${USERNAME_ENV} and "
            f"$MLFLOW_TRACKING_PASSWORD), or have an MLflow admin grant {user!r} "
            f"{permission} on {resource} (docs/security.md)"
        )


def current_user() -> str:
    """The user the tracking client authenticates as, for messages."""
    return os.environ.get(USERNAME_ENV) or f"anonymous (${USERNAME_ENV} is not set)"


@contextmanager
def permission_needed(model: str, permission: str, action: str) -> Iterator[None]:
    """Registry writes on registered model ``model``, made in the block, that the server
    refuses raise :class:`RegistryPermissionError` naming the user and ``permission``.

    Example::

        with permission_needed("digits.stack", "EDIT", "move @live of digits.stack"):
            client.set_registered_model_alias("digits.stack", "live", "3")

    Raises:
        RegistryPermissionError: the server answered ``PERMISSION_DENIED`` (403).
    """
    try:
        yield
    except MlflowException as err:
        if err.error_code != DENIED:
            raise
        raise RegistryPermissionError(current_user(), permission,
                                      f"registered model {model}", action,
                                      _first_line(err)) from err


def _first_line(err: MlflowException) -> str:
    return str(err.message).strip().splitlines()[0][:300]
