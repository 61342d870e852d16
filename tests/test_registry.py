"""Moves of @live and their history, on a real sqlite-backed MLflow registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from taxonomist.tracking.live_alias import (
    PROMOTE,
    UNRECORDED,
    RegistryError,
    history,
    live_version,
    move_live,
)
from taxonomist.tracking.names import LIVE_ALIAS, LIVE_EVENT_TAG_PREFIX
from tests.registry_store import NAME, make_registry


@pytest.fixture
def client(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> MlflowClient:
    return make_registry(tmp_path_factory, tmp_path)


def promote(client: MlflowClient, version: str, actor: str = "ci") -> None:
    move_live(client, NAME, version, reason=f"v{version} is better", actor=actor, kind=PROMOTE)


def moves(client: MlflowClient) -> list[tuple]:
    return [(e.version, e.previous, e.kind) for e in history(client, NAME)]


def tags(client: MlflowClient, version: str) -> dict[str, str]:
    return client.get_model_version(NAME, version).tags


def test_each_move_sets_the_alias_and_is_recorded_in_order(client: MlflowClient) -> None:
    assert history(client, NAME) == []
    promote(client, "1")
    promote(client, "2", actor="Ana <ana@example.com>")
    assert live_version(client, NAME) == "2"
    assert moves(client) == [("1", None, PROMOTE), ("2", "1", PROMOTE)]
    last = history(client, NAME)[-1]
    assert (last.actor, last.reason) == ("Ana <ana@example.com>", "v2 is better")
    assert last.at.endswith("+00:00")


def test_both_versions_are_tagged_with_who_when_and_why(client: MlflowClient) -> None:
    promote(client, "1")
    promote(client, "2", actor="ana")
    event = history(client, NAME)[-1]
    assert tags(client, "2").items() >= {
        "live_since": event.at, "live_by": "ana", "live_reason": "v2 is better",
        "live_kind": PROMOTE,
    }.items()
    assert tags(client, "1").items() >= {
        "live_until": event.at, "live_until_by": "ana", "live_until_reason": "v2 is better",
        "live_replaced_by": "2",
    }.items()


def test_going_live_again_clears_the_end_of_the_earlier_stint(client: MlflowClient) -> None:
    promote(client, "1")
    promote(client, "2")
    promote(client, "1")
    assert "live_until" not in tags(client, "1")
    assert tags(client, "2")["live_replaced_by"] == "1"


def test_the_same_move_twice_is_recorded_once(client: MlflowClient) -> None:
    promote(client, "1")
    again = move_live(client, NAME, "v1", reason="retry", actor="ci", kind=PROMOTE)
    assert again.reason == "v1 is better"
    assert moves(client) == [("1", None, PROMOTE)]


def test_a_move_made_outside_taxonomist_shows_and_can_be_recorded_later(
    client: MlflowClient,
) -> None:
    promote(client, "1")
    client.set_registered_model_alias(NAME, LIVE_ALIAS, "3")  # e.g. in the MLflow UI
    assert moves(client) == [("1", None, PROMOTE), ("3", "1", UNRECORDED)]
    # A crash between moving and recording is repaired by moving again.
    move_live(client, NAME, "3", reason="recorded late", actor="ci", kind=PROMOTE)
    assert moves(client) == [("1", None, PROMOTE), ("3", "1", PROMOTE)]


def test_each_event_is_its_own_small_tag(client: MlflowClient) -> None:
    for version in ("1", "2", "3", "1"):
        move_live(client, NAME, version, reason="x" * 20_000, actor="ci", kind=PROMOTE)
    events = {k: v for k, v in client.get_registered_model(NAME).tags.items()
              if k.startswith(LIVE_EVENT_TAG_PREFIX)}
    assert len(events) == 4
    assert max(len(v) for v in events.values()) < 5000  # SQL stores' tag value column
    assert len(tags(client, "1")["live_reason"]) < 5000


@pytest.mark.parametrize(("name", "version", "reason", "message"), [
    (NAME, "7", "r", r"digits\.stack has no version '7'\n.*versions of digits\.stack: "
                     r"v1 \(live\), v2, v3"),
    (NAME, "two", "r", r"has no version 'two'"),
    ("cars.stack", "1", "r", r"no registered model 'cars\.stack'.*\n.*digits\.stack"),
    (NAME, "2", "  ", r"needs a reason"),
])
def test_a_bad_move_says_what_exists(
    client: MlflowClient, name: str, version: str, reason: str, message: str
) -> None:
    promote(client, "1")
    with pytest.raises(RegistryError, match=message):
        move_live(client, name, version, reason=reason, actor="ci", kind=PROMOTE)
    assert live_version(client, NAME) == "1"
