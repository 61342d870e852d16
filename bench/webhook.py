"""How soon ``taxonomist serve`` answers with a new ``@live``: MLflow's webhooks against polling.

A real ``mlflow server`` (sqlite, a SQL store: webhooks need one) and a registry of two
stack versions (untrained node classifiers with ``conf/``'s backbone and image size,
registered exactly as ``dvc repro`` registers a stack). Then, twice, ``taxonomist serve``
on 127.0.0.1, polling every ``--poll-interval`` seconds:

- **webhooks**: with ``serve.webhook`` set, so it subscribes to the registry's alias
  events and follows each one at once;
- **polling only**: without it.

Each time, ``--clients`` clients post a PNG to ``/v1/predict`` back to back while
``--moves`` new versions are registered and, a few seconds later (where ``promote``
would be evaluating them), made live through ``move_live``, the call with which
``promote`` ends. With webhooks the server loads a version when it is registered; by
polling, when it finds ``@live`` moved. For each move: the seconds from ``move_live``
returning to the first answer that names the new version (0 when one already had:
MLflow sends its event when the alias is set, and ``move_live`` still writes its records
after that), and from ``move_live`` being called. Targets: every move ≤ 1 s with
webhooks, ≤ the poll interval without, and 0 failed requests.

The MLflow server runs with ``MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https`` and
``MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true`` (loopback is refused otherwise) and
``MLFLOW_WEBHOOK_CACHE_TTL=1`` (its list of subscriptions is cached for 60 s, so a new
one would miss the first minute's events).

Usage::

    python -m bench.webhook                     # ~2-3 min
    python -m bench.webhook --moves 6 --poll-interval 10

(``-m`` from the repository root: it uses the tests' helpers for the MLflow server and
the stacks.) Writes ``bench/results/webhook.json``: table ``follow``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.record import BenchRun, Figure, Table, add_results_option
from bench.serve import PNG, noise_png
from bench.servers import Server
from taxonomist.config import Paths, compose_config
from taxonomist.tracking.live_alias import PROMOTE, live_version, move_live
from tests.mlflow_server import WEBHOOKS_ON_LOOPBACK, free_port, running_server
from tests.serve.running import serving, start_serve, wait_for_health
from tests.serve.stacks import REPO, Registry, make_registry, register_stack

SECRET_ENV = "TAXONOMIST_WEBHOOK_SECRET"
TARGET_WEBHOOK_S = 1.0
SETTLE_S = 1.5  # between two moves: every client has answered from the new version
# From a version's registration to its promotion: promote evaluates both stacks on the
# test split meanwhile (minutes, for a real one); a server with webhooks loads it then.
EVALUATING_S = 5.0


@dataclass
class Answers:
    """Every answer of the load loop: when it came, and the version it named (None: failed)."""

    done: list[tuple[float, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, version: str | None) -> None:
        with self.lock:
            self.done.append((time.monotonic(), version))

    def first_naming(self, version: str, after: float) -> float | None:
        """When the first answer naming ``version`` came, counting from the last answer
        before ``after`` (so an answer already from ``version`` then counts as ``after``)."""
        with self.lock:
            answers = list(self.done)
        before = [v for t, v in answers if t < after and v is not None]
        if before and before[-1] == version:
            return after
        later = [t for t, v in answers if t >= after and v == version]
        return later[0] if later else None

    @property
    def failed(self) -> int:
        return sum(version is None for _, version in self.done)


@contextmanager
def hammering(url: str, clients: int, image: bytes) -> Iterator[Answers]:
    """``clients`` threads posting ``image`` back to back for the block."""
    answers, stop = Answers(), threading.Event()

    def post_loop() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    reply = client.post(f"{url}/v1/predict", content=image, headers=PNG)
                    ok = reply.status_code == 200
                    answers.add(reply.json()["stack"]["version"] if ok else None)
                except httpx.HTTPError:
                    answers.add(None)

    threads = [threading.Thread(target=post_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield answers
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def start_server(registry: Registry, poll_s: float, webhook: bool) -> Server:
    """``taxonomist serve`` on the registry, subscribed to its alias events if ``webhook``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    hook = f"webhook:\n  url: {url}/hooks/mlflow\n  secret_env: {SECRET_ENV}\n" if webhook else ""
    (registry.root / "conf" / "serve.yaml").write_text(
        f"poll_interval_s: {poll_s}\nrequest_timeout_s: 30\n{hook}")
    process = start_serve(registry.root, port)
    live = live_version(registry.client(), registry.name)
    wait_for_health(url, process, registry.root / "serve.log", serving(live))
    return Server("webhooks" if webhook else "polling only", url, process, lambda: (0, 0))


@dataclass
class Followed:
    """One mode's moves: seconds from each ``move_live`` returning (and from its call) to
    the first answer naming the new version; the requests meanwhile and those failed."""

    name: str
    from_return: list[float] = field(default_factory=list)
    from_call: list[float] = field(default_factory=list)
    failed: int = 0
    requests: int = 0

    def row(self) -> list[object]:
        return [self.name, Figure(len(self.from_return), "", digits=0),
                Figure(statistics.median(self.from_return), "s"),
                Figure(max(self.from_return), "s"), Figure(max(self.from_call), "s"),
                Figure(self.failed, "", digits=0), Figure(self.requests, "", digits=0)]


COLUMNS = ("mode", "moves", "median after promote returned", "slowest after promote "
           "returned", "slowest after promote's move began", "failed requests", "requests")


def follow_moves(registry: Registry, server: Server, args: argparse.Namespace,
                 image: bytes, seeds: Iterator[int]) -> Followed:
    """Register and promote ``args.moves`` new versions under load; how each was followed."""
    followed = Followed(server.name)
    with hammering(server.url, args.clients, image) as answers:
        time.sleep(SETTLE_S)
        for _ in range(args.moves):
            version = register_stack(registry.config, Paths(registry.root), next(seeds),
                                     args.backbone, args.size)
            time.sleep(EVALUATING_S)
            called = time.monotonic()
            move_live(registry.client(), registry.name, version, reason="bench",
                      actor="bench", kind=PROMOTE)
            returned = time.monotonic()
            wait_for_health(server.url, server.process, registry.root / "serve.log",
                            serving(version))
            time.sleep(SETTLE_S)
            for delays, start in ((followed.from_return, returned), (followed.from_call, called)):
                seen = answers.first_naming(version, start)
                delays.append(float("inf") if seen is None else seen - start)
            print(f"{server.name}: v{version} answered {followed.from_return[-1]:.3f} s after "
                  f"move_live returned, {followed.from_call[-1]:.3f} s after it was called")
    followed.failed, followed.requests = answers.failed, len(answers.done)
    return followed


def parse_args() -> argparse.Namespace:
    first = next(iter(compose_config(REPO / "conf").classifiers.values()))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default=first.backbone.name)
    parser.add_argument("--size", type=int, default=first.image_size)
    parser.add_argument("--moves", type=int, default=4, help="moves of @live per mode")
    parser.add_argument("--poll-interval", type=float, default=10.0,
                        help="serve.poll_interval_s in both modes (conf/serve.yaml's default)")
    parser.add_argument("--clients", type=int, default=4, help="posting during the moves")
    add_results_option(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    run = BenchRun.start("webhook", args.results_dir, args)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ[SECRET_ENV] = secrets.token_urlsafe(32)  # inherited by the servers only
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
        with running_server(Path(tmp) / "mlflow", env=WEBHOOKS_ON_LOOPBACK) as mlflow:
            registry = make_registry(Path(tmp) / "project", args.backbone, args.size,
                                     tracking_uri=mlflow)
            image, seeds = noise_png(args.size), itertools.count(100)
            for webhook, target in ((True, TARGET_WEBHOOK_S), (False, args.poll_interval)):
                server = start_server(registry, args.poll_interval, webhook)
                try:
                    followed = follow_moves(registry, server, args, image, seeds)
                finally:
                    server.stop()
                rows.append(followed.row())
                slowest, failed = max(followed.from_return), followed.failed
                met = slowest <= target and failed == 0
                verdicts.append(f"{server.name}: slowest {slowest:.3f} s (target ≤ "
                                f"{target:g} s), {failed} failed of {followed.requests} "
                                f"requests (target 0): {'met' if met else 'NOT met'}")
    print("\n".join(verdicts))
    run.write([Table("follow", COLUMNS, rows)])


if __name__ == "__main__":
    main()
