"""Every move of the ``live`` alias, recorded: who moved it, when, why, and from where.

MLflow keeps only where an alias points now, not where it pointed before. So each move
made through :func:`move_live` also writes one *event*, a registered-model tag of its own
(``live_event.<UTC time>.<random>`` holding a compact JSON object), and tags both versions
with who, when and why. One tag per event, rather than one tag holding a growing list,
means two writers never overwrite each other's events, no history is ever cut short, and
every value stays far inside the 5,000 characters a tag may hold in MLflow's SQL stores.
The same calls work on a local sqlite store and on a remote tracking server. For people
in the MLflow UI, each move also rewrites the registered model's description as a table
of the latest moves (:func:`history_table`).

:func:`history` reads the events back in order; a move made outside taxonomist (the
MLflow UI, a script) shows as an ``unrecorded`` event, so the list always ends on the
version that holds ``live``. :func:`rollback` picks the version to go back to.

Example::

    client = MlflowClient("sqlite:///mlflow/mlflow.db")
    move_live(client, "digits.stack", "3", reason="significantly better", actor="ci",
              kind=PROMOTE)
    rollback(client, "digits.stack", reason="six misread on the new scanner", actor="ana")
    [(e.version, e.kind) for e in history(client, "digits.stack")]
    # [('3', 'promote'), ('2', 'rollback')]
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from taxonomist.errors import TaxonomistError
from taxonomist.tracking.names import (
    LIVE_ALIAS,
    LIVE_BY_TAG,
    LIVE_EVENT_TAG_PREFIX,
    LIVE_KIND_TAG,
    LIVE_REASON_TAG,
    LIVE_SINCE_TAG,
    LIVE_UNTIL_BY_TAG,
    LIVE_UNTIL_REASON_TAG,
    LIVE_UNTIL_TAG,
    REPLACED_BY_TAG,
)

PROMOTE, ROLLBACK, UNRECORDED = "promote", "rollback", "unrecorded"  # kinds of move
MAX_REASON = 3000  # an event's JSON stays well under a tag's 5,000 characters
# The registered model's description shows the latest moves, in well under 5,000 characters.
HISTORY_ROWS, HISTORY_REASON = 10, 160
_STINT_END = (LIVE_UNTIL_TAG, LIVE_UNTIL_BY_TAG, LIVE_UNTIL_REASON_TAG, REPLACED_BY_TAG)


class RegistryError(TaxonomistError):
    """A registered model or version is not what a move of ``live`` needs."""


@dataclass(frozen=True)
class LiveEvent:
    """One move of ``live``.

    Attributes:
        version: the version that went live (None: the alias was removed).
        previous: the version that held ``live`` before, or None.
        kind: ``"promote"``, ``"rollback"``, or ``"unrecorded"`` for a move made
            outside taxonomist (then ``actor``, ``reason`` and ``at`` are unknown, "").
        actor: who moved it, e.g. ``"Ana Lima <ana@example.com>"``.
        reason: why, in the mover's words.
        at: when, ISO 8601 in UTC, e.g. ``"2025-01-02T03:04:05+00:00"``.
    """

    version: str | None
    previous: str | None
    kind: str
    actor: str
    reason: str
    at: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LiveEvent:
        data = json.loads(text)
        return cls(**{key: data.get(key) for key in cls.__dataclass_fields__})


def live_version(client: MlflowClient, name: str) -> str | None:
    """The version holding ``live``, as text (sqlite answers int, HTTP str), or None."""
    try:
        return str(client.get_model_version_by_alias(name, LIVE_ALIAS).version)
    except MlflowException:
        return None


def move_live(
    client: MlflowClient, name: str, version: str, *, reason: str, actor: str, kind: str
) -> LiveEvent:
    """Point ``live`` at ``version``, record the move, and tag both versions.

    The alias moves first: it is what serving reads, so it is never left behind by a
    crash in the bookkeeping. If that happens, calling again with the same version
    records the event without moving anything, and :func:`history` meanwhile shows the
    move as ``unrecorded``. Calling again once recorded changes nothing.

    The caller decides whether the move is right (promote does so under its lock);
    this function only refuses versions that do not exist.

    Args:
        client: a client for the tracking server or store that holds ``name``.
        name: the registered model, e.g. ``"digits.stack"``.
        version: the version to make live, e.g. ``"3"`` (a leading ``v`` is accepted).
        reason: why, for people reading the history; required.
        actor: who, e.g. from :func:`current_actor`.
        kind: what kind of move, e.g. :data:`PROMOTE` or :data:`ROLLBACK`.

    Returns:
        The recorded event (the earlier one, if this exact move was already recorded).

    Raises:
        RegistryError: ``name`` or ``version`` does not exist (the message lists the
            versions there are), or ``reason`` is empty.
    """
    version = check_version(client, name, version)
    if not reason.strip():
        raise RegistryError(f"moving '{LIVE_ALIAS}' of {name} needs a reason; got an empty one")
    before = live_version(client, name)
    recorded = _recorded_events(client, name)
    if before == version and recorded and recorded[-1].version == version:
        return recorded[-1]
    if before == version:  # moved, but the event was never written: the earlier holder
        before = recorded[-1].version if recorded else None
    client.set_registered_model_alias(name, LIVE_ALIAS, version)
    event = LiveEvent(version, before, kind, actor, reason.strip()[:MAX_REASON], _now())
    client.set_registered_model_tag(name, _event_key(), event.to_json())
    _tag_versions(client, name, event)
    client.update_registered_model(name, description=history_table(history(client, name)))
    return event


def history(client: MlflowClient, name: str) -> list[LiveEvent]:
    """Every recorded move of ``live``, oldest first.

    If ``live`` does not point where the last recorded event left it (a move made in the
    MLflow UI, or a crash between moving and recording), one more event of kind
    :data:`UNRECORDED` says where it points now.

    Raises:
        RegistryError: there is no registered model ``name``.
    """
    events = _recorded_events(client, name)
    now = live_version(client, name)
    last = events[-1].version if events else None
    if now != last:
        events.append(LiveEvent(now, last, UNRECORDED, "", "", ""))
    return events


def history_table(events: list[LiveEvent], rows: int = HISTORY_ROWS) -> str:
    """The latest moves of ``live`` as a Markdown table, newest first: the registered
    model's description, so the MLflow UI shows the history without decoding a tag.

    Example:
        ``"| when (UTC) | live | before | move | by | why |"`` and one row per move:
        ``"| 2025-01-02 03:04 | v3 | v2 | promote | ci | significantly better |"``.
    """
    shown = list(reversed(events))[:rows]
    lines = [
        f"**History of @{LIVE_ALIAS}**, newest first (`taxonomist history` lists every move)",
        "",
        "| when (UTC) | live | before | move | by | why |",
        "|---|---|---|---|---|---|",
    ]
    for event in shown:
        cells = (event.at[:16].replace("T", " "), _v(event.version), _v(event.previous),
                 event.kind, event.actor, event.reason[:HISTORY_REASON])
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(events) > rows:
        lines.append(f"\n{len(events) - rows} earlier move(s) not shown.")
    return "\n".join(lines)


def _v(version: str | None) -> str:
    return f"v{version}" if version else "none"


def _cell(text: str) -> str:
    """One table cell: a ``|`` or a line break would end the cell or the row early."""
    return " ".join(text.replace("|", "\\|").split()) or "-"


def rollback(
    client: MlflowClient, name: str, *, reason: str, actor: str, to: str | None = None
) -> LiveEvent:
    """Move ``live`` back: to ``to``, or by default to the version live before this one.

    The default skips every version that a rollback already moved away from, so rolling
    back twice goes further back instead of forward again to the version just left.

    Returns:
        The recorded event (``previous`` is the version that was rolled back from).

    Raises:
        RegistryError: ``to`` does not exist or already holds ``live``; or, without
            ``to``, nothing is live or no earlier live version is recorded. The message
            lists the versions there are.
    """
    current = live_version(client, name)
    if to is None:
        target = previous_live(client, name)
    else:
        target = check_version(client, name, to)
        if target == current:
            raise RegistryError(
                f"{name} v{target} already holds '{LIVE_ALIAS}': nothing to roll back\n"
                f"  hint: `taxonomist history` lists earlier live versions; "
                f"{_listing(client, name)}"
            )
    return move_live(client, name, target, reason=reason, actor=actor, kind=ROLLBACK)


def previous_live(client: MlflowClient, name: str) -> str:
    """The version a plain rollback goes back to (see :func:`rollback`).

    Raises:
        RegistryError: nothing is live, or no earlier live version still exists.
    """
    events = history(client, name)
    current = events[-1].version if events else None
    if current is None:
        raise RegistryError(
            f"nothing holds '{LIVE_ALIAS}' of {name}, so there is nothing to roll back from\n"
            f"  hint: pass --to VERSION to put a version live; {_listing(client, name)}"
        )
    left_behind = {e.previous for e in events if e.kind == ROLLBACK}
    existing = set(_versions(client, name))
    for event in reversed(events):
        candidate = event.version
        if candidate not in (None, current) and candidate not in left_behind:
            if candidate in existing:
                return candidate
    raise RegistryError(
        f"no version of {name} was live before v{current} (or it was deleted)\n"
        f"  hint: pass --to VERSION; {_listing(client, name)}"
    )


def check_version(client: MlflowClient, name: str, version: str | int) -> str:
    """``version`` as the registry spells it (``"v3"`` -> ``"3"``), if it exists.

    Raises:
        RegistryError: the model or the version does not exist; lists those that do.
    """
    text = str(version).strip().removeprefix("v")
    existing = _versions(client, name)
    if text not in existing:
        raise RegistryError(
            f"{name} has no version '{version}'\n  hint: {_listing(client, name, existing)}"
        )
    return text


def version_metrics(client: MlflowClient, name: str, version: str) -> dict[str, float]:
    """The scalar metrics of the run that logged ``version``; {} if there is none."""
    try:
        run_id = client.get_model_version(name, version).run_id
        return dict(client.get_run(run_id).data.metrics) if run_id else {}
    except MlflowException:
        return {}


def current_actor() -> str:
    """Who is acting: git's ``user.name <user.email>``, else ``$USER``, else the login."""
    name, email = _git_config("user.name"), _git_config("user.email")
    if name:
        return f"{name} <{email}>" if email else name
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an anonymous container user
        return "unknown"


def _recorded_events(client: MlflowClient, name: str) -> list[LiveEvent]:
    tags = _registered_model(client, name).tags
    keys = sorted(k for k in tags if k.startswith(LIVE_EVENT_TAG_PREFIX))
    return [LiveEvent.from_json(tags[k]) for k in keys]


def _tag_versions(client: MlflowClient, name: str, event: LiveEvent) -> None:
    new = {LIVE_SINCE_TAG: event.at, LIVE_BY_TAG: event.actor, LIVE_REASON_TAG: event.reason,
           LIVE_KIND_TAG: event.kind}
    for key, value in new.items():
        client.set_model_version_tag(name, event.version, key, value)
    for key in _STINT_END:  # live again: an earlier stint's end no longer applies
        try:
            client.delete_model_version_tag(name, event.version, key)
        except MlflowException:
            pass
    if event.previous and event.previous != event.version:
        ended = {LIVE_UNTIL_TAG: event.at, LIVE_UNTIL_BY_TAG: event.actor,
                 LIVE_UNTIL_REASON_TAG: event.reason, REPLACED_BY_TAG: event.version}
        for key, value in ended.items():
            client.set_model_version_tag(name, event.previous, key, value)


def _registered_model(client: MlflowClient, name: str) -> Any:
    try:
        return client.get_registered_model(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
    found = [m.name for m in client.search_registered_models(max_results=50)]
    raise RegistryError(
        f"no registered model '{name}' at {client.tracking_uri}\n"
        f"  hint: `dvc repro` registers it; registered models here: "
        f"{', '.join(found) or 'none'}"
    )


def _versions(client: MlflowClient, name: str) -> list[str]:
    _registered_model(client, name)
    found = client.search_model_versions(f"name = '{name}'")
    return sorted((str(v.version) for v in found), key=int)


def _listing(client: MlflowClient, name: str, versions: list[str] | None = None) -> str:
    versions = _versions(client, name) if versions is None else versions
    live = live_version(client, name)
    shown = [f"v{v} (live)" if v == live else f"v{v}" for v in versions]
    return f"versions of {name}: {', '.join(shown) or 'none'}"


def _event_key() -> str:
    # Sorts by time; the random part keeps two moves in the same microsecond apart.
    return f"{LIVE_EVENT_TAG_PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.{secrets.token_hex(3)}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _git_config(key: str) -> str:
    try:
        done = subprocess.run(
            ["git", "config", "--get", key], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
