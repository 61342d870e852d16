"""A promotion lock that works on any MLflow backend (sqlite, a server, Postgres).

MLflow has no compare-and-set on aliases, but registered-model names are unique on
every backend: creating ``<name>.promotion-lock`` succeeds for exactly one process.
A lock older than ``stale_after_s`` was left by a killed promotion and is broken.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from taxonomist.tracking.names import lock_model_name


class LockBusy(Exception):
    """Another promotion holds the lock (retried until it is released or stale)."""


@contextmanager
def promotion_lock(client: MlflowClient, name: str, stale_after_s: float) -> Iterator[None]:
    """Hold the promotion lock of registered model ``name`` for the ``with`` block."""
    lock = lock_model_name(name)
    for attempt in Retrying(
        retry=retry_if_exception_type(LockBusy),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(stale_after_s + 60),
        reraise=True,
    ):
        with attempt:
            _acquire(client, lock, stale_after_s)
    try:
        yield
    finally:
        client.delete_registered_model(lock)


def _acquire(client: MlflowClient, lock: str, stale_after_s: float) -> None:
    try:
        client.create_registered_model(
            lock,
            tags={"owner": f"{socket.gethostname()}:{os.getpid()}", "since": str(time.time())},
            description="held while taxonomist moves @live; deleted when it is done",
        )
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        if _age(client, lock) > stale_after_s:
            client.delete_registered_model(lock)  # its owner died holding it
        raise LockBusy(lock) from None


def _age(client: MlflowClient, lock: str) -> float:
    try:
        since = float(client.get_registered_model(lock).tags.get("since", "0"))
    except MlflowException:
        return 0.0  # released meanwhile: just try again
    return time.time() - since
