"""Follow ``@live``: resolve the alias every few seconds, or at once when a registry
webhook says it moved (:meth:`LiveFollower.follow_now`); load and warm a new stack in
the background, then swap it in with one assignment. A version a webhook says was just
registered is loaded and warmed ahead (:meth:`LiveFollower.prepare_soon`), so its
promotion is a swap only.

A request takes :attr:`LiveFollower.current` once and answers from that object to the
end, so requests in flight finish on the old stack while new ones get the new one; the
old stack is freed when its last request is done. A failed resolution or load (the
registry is down, a version is broken) keeps the stack being served and is reported by
``GET /health``; it is tried again at the next poll.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from taxonomist.stack.predictor import NodeVersion, node_versions
from taxonomist.tracking.client import Client
from taxonomist.tracking.live_alias import live_version
from taxonomist.tracking.names import LIVE_ALIAS
from taxonomist.tracking.versions import load_served_model

log = logging.getLogger("taxonomist.serve")


@dataclass(frozen=True)
class ServedStack:
    """One loaded, warmed stack version: what a request is answered with.

    Attributes:
        name, version: the registered model and version, e.g. ``digits.stack`` and ``"3"``.
        digest: ``sha256:`` of the stack's files (weights, specs, tree), so two servers
            can be compared byte for byte.
        model: the pyfunc's own object (:class:`taxonomist.stack.pyfunc.StackModel`).
        nodes: per inner node, the registered node model and version in the stack.
        loaded_at: when it was swapped in, ISO 8601 UTC.
    """

    name: str
    version: str
    digest: str
    model: Any
    nodes: dict[str, NodeVersion]
    loaded_at: str


class LiveFollower:
    """Keeps :attr:`current` on the version holding ``@live`` of ``name``.

    Args:
        client: a tracking client for the registry holding ``name``.
        name: the registered stack, e.g. ``"digits.stack"``.
        interval_s: seconds between two resolutions of the alias.
        on_swap: called with each stack once it is current (metrics, logs).
    """

    def __init__(self, client: Client, name: str, interval_s: float,
                 on_swap: Callable[[ServedStack], None] = lambda stack: None) -> None:
        self.client, self.name, self.interval_s, self.on_swap = client, name, interval_s, on_swap
        self.current: ServedStack | None = None
        self.live: str | None = None  # where @live pointed at the last poll
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._woken = threading.Event()  # set: resolve @live now, not at the next poll
        self._to_prepare: str | None = None  # a version to load ahead of its promotion
        self._standby: ServedStack | None = None  # ...loaded and warmed, not yet served
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        """Resolve ``@live`` once; load, warm and swap in its version if it moved."""
        try:
            self.live = live_version(self.client, self.name)
            if self.live is not None and (self.current is None
                                          or self.current.version != self.live):
                self._swap_to(self.live)
            self.last_error = None
        except Exception as err:  # the registry or a broken version: keep serving
            self.last_error = f"{type(err).__name__}: {err}"
            log.warning("following %s@%s failed, still serving v%s: %s", self.name, LIVE_ALIAS,
                        self.current.version if self.current else "nothing", self.last_error)

    def start(self) -> None:
        """Poll in a daemon thread until :meth:`stop` (the first load happens there too)."""
        self._thread = threading.Thread(target=self._poll, name="live-follower", daemon=True)
        self._thread.start()

    def follow_now(self) -> None:
        """Resolve ``@live`` at once in the polling thread (a webhook said it moved),
        rather than at the next poll; the next polls keep their interval."""
        self._woken.set()

    def prepare_soon(self, version: str) -> None:
        """Load and warm ``version`` in the polling thread, not serving it yet (a webhook
        said it was registered): if ``@live`` then moves to it, swapping is all that is
        left. One version is kept ready at a time, the latest asked for."""
        self._to_prepare = version
        self._woken.set()

    def stop(self) -> None:
        self._stop.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._prepare_asked()
            # Cleared before the refresh it causes, so a wake-up during that refresh
            # causes one more: no move is left for the next poll.
            self._woken.wait(self.interval_s)
            self._woken.clear()

    def _prepare_asked(self) -> None:
        # A request made between these two reads is lost: its version then loads when it
        # goes live, as it would without webhooks.
        version, self._to_prepare = self._to_prepare, None
        if version is None or version in (self.live, getattr(self._standby, "version", None)):
            return
        try:
            self._standby = self._load(version)
            log.info("v%s of %s is loaded and warm, ready for @%s", version, self.name,
                     LIVE_ALIAS)
        except Exception as err:  # it is loaded when it goes live, as without a webhook
            log.warning("preparing %s v%s failed: %s: %s", self.name, version,
                        type(err).__name__, err)

    def _swap_to(self, version: str) -> None:
        ready, self._standby = self._standby, None
        stack = ready if ready is not None and ready.version == version else self._load(version)
        stack = replace(stack, loaded_at=_now())
        self.current = stack  # one assignment: the swap
        log.info("serving %s v%s (%s)", self.name, version, stack.digest)
        self.on_swap(stack)

    def _load(self, version: str) -> ServedStack:
        """``version`` loaded and warmed by one prediction, ready to be served."""
        model = load_served_model(self.client, self.name, version)
        size = model.predictor.image_size
        model.predictor.predict(np.zeros((1, size, size, 3), np.uint8))
        return ServedStack(self.name, version, folder_digest(model.folder), model,
                           node_versions(model.folder), _now())


def folder_digest(folder: Path) -> str:
    """``sha256:<hex>`` over every file's relative path and bytes, in sorted order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    return f"sha256:{digest.hexdigest()}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
