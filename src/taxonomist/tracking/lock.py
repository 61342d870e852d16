"""A promotion lock that works on any MLflow backend (sqlite, a server, Postgres).

MLflow has no compare-and-set on aliases, but registered-model names are unique on
every backend: creating ``<name>.promotion-lock`` succeeds for exactly one process.
Each holder tags it with a random ``token``.

A lock older than ``stale_after_s`` was left by a killed promotion and is broken. Two
waiters may judge the same lock stale at once; if both deleted it, the slower one would
delete the lock the faster one has just taken. So breaking is a compare-and-delete on
the token the waiter read: it first creates ``<lock>.break-<token>`` (again unique, so
only one waiter breaks a given lock), then deletes the lock only if it still carries
that token, and a holder releases only a lock that carries its own token.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from taxonomist.tracking.names import (
    LOCK_OWNER_TAG,
    LOCK_SINCE_TAG,
    LOCK_TOKEN_TAG,
    lock_breaker_name,
    lock_model_name,
)

# MLflow words "already exists" by looking the model up; if its holder deleted it in
# between, that lookup fails instead (the second code): it was there all the same
REFUSED = ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST")


class LockBusy(Exception):
    """Another promotion holds the lock (retried until it is released or stale)."""


class LockWarning(UserWarning):
    """The lock was not as its holder left it (held past ``stale_after_s`` and broken)."""


@contextmanager
def promotion_lock(client: MlflowClient, name: str, stale_after_s: float) -> Iterator[None]:
    """Hold the promotion lock of registered model ``name`` for the ``with`` block."""
    lock, token = lock_model_name(name), secrets.token_hex(8)
    for attempt in Retrying(
        retry=retry_if_exception_type(LockBusy),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(stale_after_s + 60),
        reraise=True,
    ):
        with attempt:
            _acquire(client, lock, token, stale_after_s)
    try:
        yield
    finally:
        _release(client, lock, token)


def _acquire(client: MlflowClient, lock: str, token: str, stale_after_s: float) -> None:
    owner = f"{socket.gethostname()}:{os.getpid()}"
    tags = {LOCK_TOKEN_TAG: token, LOCK_OWNER_TAG: owner, LOCK_SINCE_TAG: str(time.time())}
    if _create_unique(client, lock, tags,
                      "held while taxonomist moves @live; deleted when it is done"):
        return
    held = _tags(client, lock)
    if held is not None and _age_s(held) > stale_after_s:
        _break(client, lock, _token_of(held), stale_after_s)  # its owner died holding it
    raise LockBusy(lock) from None


def _break(client: MlflowClient, lock: str, token: str, stale_after_s: float) -> None:
    """Delete ``lock`` if it still carries ``token``; one waiter per token gets to try."""
    breaker = lock_breaker_name(lock, token)
    if not _create_unique(client, breaker, {LOCK_SINCE_TAG: str(time.time())},
                          "a waiter is breaking a stale promotion lock"):
        other = _tags(client, breaker)  # another waiter is breaking this very lock...
        if other is not None and _age_s(other) > stale_after_s:
            _delete(client, breaker)  # ...or was killed doing so: the next try breaks it
        return
    try:
        now = _tags(client, lock)
        if now is not None and _token_of(now) == token:  # only the breaker of token gets here
            _delete(client, lock)
    finally:
        _delete(client, breaker)  # the token never comes back, so a late waiter finds no match


def _create_unique(client: MlflowClient, name: str, tags: dict[str, str],
                   description: str) -> bool:
    """Register ``name``: True if this call created it, False if it was already there."""
    try:
        client.create_registered_model(name, tags=tags, description=description)
        return True
    except MlflowException as err:
        if err.error_code not in REFUSED:
            raise
        return False


def _release(client: MlflowClient, lock: str, token: str) -> None:
    now = _tags(client, lock)
    if now is not None and _token_of(now) == token:
        _delete(client, lock)
        return
    warnings.warn(
        f"the promotion lock {lock} was broken while this promotion held it: it took longer "
        f"than promotion.lock_timeout_s; raise that value in conf/promotion/ if promotions "
        f"are this slow",
        LockWarning,
        stacklevel=3,
    )


def _tags(client: MlflowClient, lock: str) -> dict[str, Any] | None:
    """The lock's tags, or None if no lock is registered (released meanwhile)."""
    try:
        return dict(client.get_registered_model(lock).tags)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None


def _age_s(tags: dict[str, Any]) -> float:
    """Seconds since the lock (or breaker) with these tags was taken."""
    return time.time() - float(tags.get(LOCK_SINCE_TAG, "0"))


def _token_of(tags: dict[str, Any]) -> str:
    # A lock left by a taxonomist without tokens is told apart by when it was taken.
    return str(tags.get(LOCK_TOKEN_TAG) or f"since-{tags.get(LOCK_SINCE_TAG, '0')}")


def _delete(client: MlflowClient, name: str) -> None:
    try:
        client.delete_registered_model(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
