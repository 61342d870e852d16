"""The promote stage in a child process, for test_stage: prints the promotion record.

With ``--log FILE`` the child also appends one JSON line per step it takes on the
promotion lock (``ready``, ``attempt``, ``acquired``, ``busy``, ``release``, each with
its pid and the wall-clock time), by wrapping the two MlflowClient calls the lock is
made of: creating and deleting the ``<name>.promotion-lock`` registered model. Two
options make the interleavings a test needs happen on purpose rather than by luck:

* ``--processes N``: before its first attempt, wait until N children are ready, so
  that they reach the lock together;
* ``--hold S``: the first child to take the lock keeps it until another one has found
  it busy, or for S seconds (a child that holds it for longer than it lives is killed
  holding it).

Usage: ``python promote_child.py PROJECT [--log FILE] [--processes N] [--hold S]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from taxonomist.config import Paths, compose_config
from taxonomist.promote import promote
from taxonomist.tracking.lock import REFUSED

LOCK_SUFFIX = ".promotion-lock"
POLL_S = 0.02


def lock_events(log: Path) -> list[dict[str, Any]]:
    """Every step recorded in ``log`` so far, in the order they were written."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


class LockProbe:
    """Records this process's steps on the promotion lock; see the module docstring."""

    def __init__(self, log: Path, processes: int, hold_s: float) -> None:
        self.log, self.processes, self.hold_s = log, processes, hold_s
        self.ready = False

    def record(self, event: str) -> None:
        line = json.dumps({"pid": os.getpid(), "event": event, "t": time.time()})
        with self.log.open("a") as out:  # one short append: whole lines, never interleaved
            out.write(line + "\n")

    def install(self) -> None:
        """Wrap MlflowClient's create/delete of the lock model for every client."""
        create, delete = MlflowClient.create_registered_model, MlflowClient.delete_registered_model
        MlflowClient.create_registered_model = self._wrap_create(create)

        def delete_probed(client: MlflowClient, name: str) -> None:
            if name.endswith(LOCK_SUFFIX):
                self.record("release")  # before the delete: the lock still exists
            delete(client, name)

        MlflowClient.delete_registered_model = delete_probed

    def _wrap_create(self, create: Callable[..., Any]) -> Callable[..., Any]:
        def create_probed(client: MlflowClient, name: str, *args: Any, **kwargs: Any) -> Any:
            if not name.endswith(LOCK_SUFFIX):
                return create(client, name, *args, **kwargs)
            self._wait_for_the_others()
            self.record("attempt")
            try:
                model = create(client, name, *args, **kwargs)
            except MlflowException as err:
                if err.error_code in REFUSED:
                    self.record("busy")
                raise
            first = not any(e["event"] == "acquired" for e in lock_events(self.log))
            self.record("acquired")
            if first:
                self._hold()
            return model

        return create_probed

    def _wait_for_the_others(self) -> None:
        if self.ready:
            return
        self.ready = True
        self.record("ready")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(self._pids("ready")) < self.processes:
            time.sleep(POLL_S)

    def _hold(self) -> None:
        deadline = time.monotonic() + self.hold_s
        while time.monotonic() < deadline and not self._pids("busy") - {os.getpid()}:
            time.sleep(POLL_S)

    def _pids(self, event: str) -> set[int]:
        return {e["pid"] for e in lock_events(self.log) if e["event"] == event}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--hold", type=float, default=0.0)
    args = parser.parse_args()
    if args.log is not None:
        LockProbe(args.log, args.processes, args.hold).install()
    root = args.project
    print(json.dumps(promote(compose_config(root / "conf"), Paths(root)).to_json()))


if __name__ == "__main__":
    main()
