"""The promotion lock's stale-lock breaking, with the interleaving that used to lose it."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

from taxonomist.tracking.lock import promotion_lock
from taxonomist.tracking.names import lock_model_name

NAME = "digits.stack"
LOCK = lock_model_name(NAME)
STALE_S = 5.0


class PausingClient(MlflowClient):
    """A client that, the first time it reads the lock, stops until told to go on:
    it has judged the lock (stale) but not yet acted on that judgement."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.judged, self.go = threading.Event(), threading.Event()

    def get_registered_model(self, name: str) -> Any:
        model = super().get_registered_model(name)
        if name == LOCK and not self.judged.is_set():
            self.judged.set()
            assert self.go.wait(60), "the test never let the waiter go on"
        return model


def registered(client: MlflowClient, name: str) -> bool:
    return client.search_registered_models(f"name='{name}'") != []


def wait_in_thread(client: MlflowClient, inside: threading.Event) -> threading.Thread:
    def promote() -> None:
        with promotion_lock(client, NAME, STALE_S):
            inside.set()

    thread = threading.Thread(target=promote, daemon=True)
    thread.start()
    return thread


def test_two_waiters_breaking_one_stale_lock_do_not_both_hold_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    holder, slow = MlflowClient(uri), PausingClient(uri)
    # left by a promotion killed long ago
    holder.create_registered_model(LOCK, tags={"token": "dead", "since": "0", "owner": "gone:1"})
    inside = threading.Event()
    waiter = wait_in_thread(slow, inside)
    assert slow.judged.wait(60)  # the slow waiter has read the lock and found it stale
    with promotion_lock(holder, NAME, STALE_S):  # meanwhile the other breaks it and takes it
        slow.go.set()
        time.sleep(2.0)  # the slow waiter acts on what it read, and retries a few times
        assert registered(holder, LOCK), "the slow waiter deleted the lock held since"
        assert not inside.is_set(), "both promotions hold the lock at once"
    waiter.join(60)
    assert inside.is_set()  # it took the lock once it was released
    assert [m.name for m in holder.search_registered_models()] == []  # nothing left behind


def test_a_lock_whose_breaker_was_killed_is_broken_later(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_registered_model(LOCK, tags={"token": "dead", "since": "0"})
    client.create_registered_model(f"{LOCK}.break-dead", tags={"since": "0"})
    with promotion_lock(client, NAME, STALE_S):
        assert client.get_registered_model(LOCK).tags["token"] != "dead"
    assert [m.name for m in client.search_registered_models()] == []


def test_a_lock_broken_while_held_is_not_released_by_its_late_holder(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.warns(UserWarning, match="lock_timeout_s"):
        with promotion_lock(client, NAME, STALE_S):
            client.delete_registered_model(LOCK)  # broken as stale, and taken by another
            client.create_registered_model(LOCK, tags={"token": "other", "since": "0"})
    assert client.get_registered_model(LOCK).tags["token"] == "other"


def test_a_lock_released_while_mlflow_words_its_refusal_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow refuses a second lock by looking the first one up to word the error; the
    # holder releases it just before that lookup (what a loaded server makes likely)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_registered_model(LOCK, tags={"token": "holder", "since": str(time.time())})
    lookup = SqlAlchemyStore.get_registered_model
    released = threading.Event()

    def release_then_look_up(store: SqlAlchemyStore, name: str) -> Any:
        if name == LOCK and not released.is_set():
            released.set()
            store.delete_registered_model(name)
        return lookup(store, name)

    monkeypatch.setattr(SqlAlchemyStore, "get_registered_model", release_then_look_up)
    with promotion_lock(client, NAME, STALE_S):
        assert released.is_set()
        assert client.get_registered_model(LOCK).tags["token"] != "holder"
    assert [m.name for m in client.search_registered_models()] == []


class DeletePausingClient(MlflowClient):
    """A client that, the first time it deletes the lock, stops until told to go on: it
    has compared the lock's token with the one it judged stale, and not yet deleted it."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.deleting, self.go = threading.Event(), threading.Event()

    def delete_registered_model(self, name: str) -> None:
        if name == LOCK and not self.deleting.is_set():
            self.deleting.set()
            assert self.go.wait(60), "the test never let the breaker go on"
        super().delete_registered_model(name)


def test_a_second_waiter_does_not_break_a_lock_another_is_breaking(tmp_path: Path) -> None:
    """Without the ``.break-<token>`` marker, a second waiter that finds the same stale
    lock deletes it and takes the lock while the first is between its token check and its
    delete; the first then deletes the second's lock, and both hold it."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_registered_model(LOCK, tags={"token": "dead", "since": "0"})
    held, most, entered = [0], [0], [0]
    count = threading.Lock()

    def hold(client: MlflowClient) -> None:
        with promotion_lock(client, NAME, STALE_S):
            with count:
                held[0] += 1
                entered[0] += 1
                most[0] = max(most[0], held[0])
            time.sleep(3.0)  # past the moment the first breaker goes on
            with count:
                held[0] -= 1

    first = DeletePausingClient(uri)
    waiters = [threading.Thread(target=hold, args=(first,), daemon=True)]
    waiters[0].start()
    assert first.deleting.wait(60)  # the first breaker has checked the token: it is "dead"
    waiters.append(threading.Thread(target=hold, args=(MlflowClient(uri),), daemon=True))
    waiters[1].start()
    time.sleep(1.5)  # the second waiter finds the stale lock too (well within STALE_S)
    first.go.set()
    for waiter in waiters:
        waiter.join(60)
    assert most[0] == 1, "both promotions held the lock at once"
    assert entered[0] == 2, "a waiter gave up (it could not read the breaker's marker)"
    assert [m.name for m in MlflowClient(uri).search_registered_models()] == []


def test_a_lock_without_tags_counts_as_taken_long_ago_and_is_broken(tmp_path: Path) -> None:
    """A lock registered by hand, or by a release that tagged nothing, says neither who
    holds it nor since when: it is taken as stale rather than blocking every promotion."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_registered_model(LOCK)
    with promotion_lock(client, NAME, STALE_S):
        assert client.get_registered_model(LOCK).tags["token"]  # ours now
    assert [m.name for m in client.search_registered_models()] == []


def test_the_lock_says_who_holds_it_and_why(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with promotion_lock(client, NAME, STALE_S):
        lock = client.get_registered_model(LOCK)
        assert lock.tags["owner"] == f"{socket.gethostname()}:{os.getpid()}"
        assert lock.description == "held while taxonomist moves @live; deleted when it is done"


class VanishingClient(MlflowClient):
    """A client whose first delete of the lock finds it already deleted by someone else
    (a waiter breaking it as stale), between its own check of the token and its delete."""

    def delete_registered_model(self, name: str) -> None:
        if name == LOCK and registered(self, LOCK):
            MlflowClient(self._registry_uri).delete_registered_model(name)
        super().delete_registered_model(name)


def test_a_lock_deleted_by_another_just_before_its_release_is_released(tmp_path: Path) -> None:
    client = VanishingClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with promotion_lock(client, NAME, STALE_S):
        pass
    assert not registered(client, LOCK)
