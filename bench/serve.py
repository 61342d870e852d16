"""How fast ``taxonomist serve`` answers, against the in-process forward of the same stack
(and, with ``--servers fastapi,litserve``, against a LitServe server over that stack).

In one run, on one stack (untrained node classifiers with ``conf/``'s backbone and image
size, registered exactly as ``dvc repro`` registers a stack), at concurrency 1, 8 and 32:

- **in process**: N threads each calling ``StackPredictor.predict`` on one decoded image,
  back to back (the forward alone: no decoding, no HTTP);
- **fastapi**: the real ``taxonomist serve`` (FastAPI on uvicorn, one worker) on 127.0.0.1
  and N clients each posting one PNG back to back (``Content-Type: image/png``): reading,
  ingest's image checks, decoding, micro-batching, the forward and the JSON answer;
- **litserve** (``--servers fastapi,litserve``): :mod:`bench.litserve_api`, a LitServe
  server doing the same work per request through the same functions, batching with
  serve's micro-batch settings, one inference worker; the same clients and PNG.

Both servers run on the same uvicorn event loop and HTTP parser (the ones
``taxonomist serve``'s uvicorn picks here: uvloop and httptools where importable, else
asyncio and h11; the output names them). Each level measures every side in turn, so a
change in the machine's load falls on all of them, and pauses the servers not being
measured (:func:`bench.servers.alone`).

It prints p50/p99 latency, throughput and failed requests of each, their ratios to
in-process, the mean images per forward each server ran, and the failed requests of a
bounded load loop on ``taxonomist serve`` while ``@live`` moves twice (LitServe does not
follow ``@live``, so it has no such check). Targets, for ``taxonomist serve``: p50 <=
in-process p50 + 15 ms at concurrency 1; throughput >= 0.8x in-process at concurrency
32; no failed request during the swaps.

Usage::

    python -m bench.serve                      # conf/'s backbone and size, ~1-2 min
    python -m bench.serve --backbone resnet50 --size 224 --requests 200
    python -m bench.serve --servers fastapi,litserve

LitServe is an optional extra: ``pip install -e '.[litserve]'``, or ``pip install
--target DIR litserve`` and ``--litserve-path DIR`` (on the LitServe server's path only).
Without it, the bench says so and measures the rest.

(``-m`` from the repository root: it builds its stack with the serve tests' helper,
:mod:`tests.serve.stacks`.)

Writes ``bench/results/serve.json``, or ``bench/results/servers.json`` when more than
``fastapi`` was measured (the comparison of servers is a measurement of its own): tables
``latency``, ``ceiling`` and ``swap``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

from bench.record import BenchRun, Figure, Table, add_results_option, ratio
from bench.servers import (
    INSTALL_LITSERVE,
    SERVERS,
    Server,
    alone,
    litserve_missing,
    start_fastapi,
    start_litserve,
    uvicorn_choices,
)
from taxonomist.config import compose_config
from taxonomist.data.images import ImagePolicy
from taxonomist.serve.images import SentImage, decode_images
from taxonomist.serve.live import LiveFollower, ServedStack
from taxonomist.serve.settings import ServeConfig, torch_threads
from taxonomist.tracking.live_alias import ROLLBACK, move_live
from tests.serve.running import serving, wait_for_health
from tests.serve.stacks import REPO, Registry, make_registry

CONCURRENCY = (1, 8, 32)
TARGET_P50_EXTRA_MS, TARGET_THROUGHPUT = 15.0, 0.8
PNG = {"Content-Type": "image/png"}


@dataclass(frozen=True)
class Run:
    """One load level's outcome: latencies in seconds, the wall time, the failures."""

    latencies: list[float]
    wall_s: float
    failed: int = 0

    @property
    def p50_ms(self) -> float:
        return float(np.percentile(self.latencies, 50)) * 1000

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.latencies, 99)) * 1000

    @property
    def per_s(self) -> float:
        return len(self.latencies) / self.wall_s


def noise_png(size: int) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def in_process(stack: ServedStack, image: bytes, clients: int, requests: int) -> Run:
    """``clients`` threads, each predicting one decoded image back to back."""
    predictor = stack.model.predictor
    arrays = stack.model.prepare(decode_images([SentImage("bench", image)], ImagePolicy()))[0]
    latencies: list[float] = []

    def client() -> None:
        for _ in range(requests // clients):
            start = time.perf_counter()
            predictor.predict(arrays)
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(latencies, time.perf_counter() - start)


async def _post_loop(client: httpx.AsyncClient, url: str, image: bytes, count: int,
                     latencies: list[float], failures: list[str]) -> None:
    for _ in range(count):
        start = time.perf_counter()
        try:
            reply = await client.post(url, content=image, headers=PNG)
            ok = reply.status_code == 200 and bool(reply.json()["stack"]["version"])
            if not ok:
                failures.append(f"{reply.status_code}: {reply.text[:200]}")
        except httpx.HTTPError as err:
            failures.append(repr(err))
        latencies.append(time.perf_counter() - start)


async def _served(url: str, image: bytes, clients: int, requests: int) -> Run:
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = time.perf_counter()
        await asyncio.gather(*(_post_loop(client, f"{url}/v1/predict", image,
                                          requests // clients, latencies, failures)
                               for _ in range(clients)))
        wall = time.perf_counter() - start
    for failure in failures[:3]:
        print(f"  failed: {failure}")
    return Run(latencies, wall, len(failures))


def served(url: str, image: bytes, clients: int, requests: int) -> Run:
    """``clients`` HTTP clients on one connection each, posting the PNG back to back."""
    return asyncio.run(_served(url, image, clients, requests))


def swap_under_load(registry: Registry, url: str, image: bytes, server: subprocess.Popen,
                    requests: int) -> Run:
    """8 clients posting while @live moves v1 -> v2 -> v1 (bounded: ``requests`` posts)."""
    client = registry.client()
    result: list[Run] = []
    load = threading.Thread(target=lambda: result.append(served(url, image, 8, requests)))
    load.start()
    for version in (registry.versions[1], registry.versions[0]):
        time.sleep(0.5)
        move_live(client, registry.name, version, reason="bench", actor="bench", kind=ROLLBACK)
        wait_for_health(url, server, registry.root / "serve.log", serving(version))
    load.join()
    return result[0]


def batched_ceiling(stack: ServedStack, image: bytes, images: int, repeats: int = 20) -> float:
    """Images/s of in-process forwards of ``images`` at once: what batching can approach."""
    predictor = stack.model.predictor
    one = stack.model.prepare(decode_images([SentImage("bench", image)], ImagePolicy()))[0]
    arrays = np.repeat(one, images, axis=0)
    predictor.predict(arrays)
    start = time.perf_counter()
    for _ in range(repeats):
        predictor.predict(arrays)
    return images * repeats / (time.perf_counter() - start)


@dataclass(frozen=True)
class Level:
    """One concurrency level: in-process, then each server's run and images per forward."""

    clients: int
    base: Run
    served: dict[str, tuple[Run, float]]


def measure_level(stack: ServedStack, servers: list[Server], image: bytes, clients: int,
                  requests: int) -> Level:
    with alone(servers):
        base = in_process(stack, image, clients, requests)
    runs = {}
    for server in servers:
        with alone(servers, server):
            served(server.url, image, clients, 2 * clients)  # warm the connections
            before = server.forwards()
            run = served(server.url, image, clients, requests)
            after = server.forwards()
        runs[server.name] = (run, (after[0] - before[0]) / max(after[1] - before[1], 1))
    return Level(clients, base, runs)


def table(levels: list[Level]) -> str:
    lines = ["| concurrency | server | p50 / p99 ms | req/s | p50 − in-process "
             "| req/s ÷ in-process | images per forward | failed |",
             "|---|---|---|---|---|---|---|---|"]
    for level in levels:
        base = level.base
        lines.append(f"| {level.clients} | in-process | {base.p50_ms:.2f} / {base.p99_ms:.2f} "
                     f"| {base.per_s:.0f} | | | 1.0 | |")
        for name, (run, batch) in level.served.items():
            lines.append(f"| {level.clients} | {name} | {run.p50_ms:.2f} / {run.p99_ms:.2f} "
                         f"| {run.per_s:.0f} | {run.p50_ms - base.p50_ms:+.2f} ms "
                         f"| {run.per_s / base.per_s:.2f}x | {batch:.1f} | {run.failed} |")
    return "\n".join(lines)


def latency_table(levels: list[Level]) -> Table:
    """:func:`table`'s figures: each side at each level, servers against in-process."""
    rows = []
    for level in levels:
        base = level.base
        rows.append((Figure(level.clients, "", digits=0), "in-process",
                     Figure(base.p50_ms, "ms", digits=2), Figure(base.p99_ms, "ms", digits=2),
                     Figure(base.per_s, "req/s", digits=0), None, None,
                     Figure(1.0, "", digits=1), None))
        for name, (run, batch) in level.served.items():
            rows.append((Figure(level.clients, "", digits=0), name,
                         Figure(run.p50_ms, "ms", digits=2), Figure(run.p99_ms, "ms", digits=2),
                         Figure(run.per_s, "req/s", digits=0),
                         Figure(run.p50_ms - base.p50_ms, "ms", "over in-process", digits=2),
                         ratio(run.per_s / base.per_s, "in-process"),
                         Figure(batch, "", digits=1), Figure(run.failed, "", digits=0)))
    return Table("latency", ("concurrency", "server", "p50", "p99", "throughput",
                             "p50 against in-process", "throughput against in-process",
                             "images per forward", "failed requests"), rows)


def ceiling_table(ceiling: float, images: int) -> Table:
    return Table("ceiling", ("in-process forward", "throughput"), [
        (f"{images} images at once (what micro-batching approaches)",
         Figure(ceiling, "img/s", digits=0)),
    ])


def swap_table(swap: Run) -> Table:
    return Table("swap", ("during two `@live` moves", "requests", "failed"), [
        ("`taxonomist serve`, 8 clients", Figure(len(swap.latencies), "", digits=0),
         Figure(swap.failed, "", digits=0)),
    ])


def verdicts(levels: list[Level], name: str) -> list[str]:
    """``name``'s results against taxonomist serve's targets at concurrency 1 and 32."""
    by = {level.clients: (level.base, level.served[name][0]) for level in levels}
    found = []
    if 1 in by:
        base, http = by[1]
        extra = http.p50_ms - base.p50_ms
        found.append(f"{name}: p50 at concurrency 1: {extra:+.2f} ms over in-process (target "
                     f"<= +{TARGET_P50_EXTRA_MS:g} ms): {_met(extra <= TARGET_P50_EXTRA_MS)}")
    if 32 in by:
        base, http = by[32]
        ratio = http.per_s / base.per_s
        found.append(f"{name}: throughput at concurrency 32: {ratio:.2f}x in-process (target "
                     f">= {TARGET_THROUGHPUT}x): {_met(ratio >= TARGET_THROUGHPUT)}")
    return found


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def parse_args() -> argparse.Namespace:
    defaults = compose_config(REPO / "conf").classifiers
    first = next(iter(defaults.values()))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default=first.backbone.name)
    parser.add_argument("--size", type=int, default=first.image_size)
    parser.add_argument("--requests", type=int, default=640, help="per load level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--torch-threads", type=int, default=torch_threads(ServeConfig()),
                        help="for every side (default: serve's, all CPUs for one worker)")
    parser.add_argument("--servers", type=_servers, default=["fastapi"],
                        help=f"comma-separated, of {','.join(SERVERS)} (default: fastapi); "
                        f"litserve needs {INSTALL_LITSERVE}")
    parser.add_argument("--litserve-path", help="a folder litserve was installed into with "
                        "pip install --target, put on the LitServe server's path only")
    parser.add_argument("--litserve-fast-queue", action="store_true", help="LitServe's "
                        "answers over ZeroMQ (its fast_queue) instead of a Manager queue")
    add_results_option(parser)
    return parser.parse_args()


def _servers(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of "
                                         f"{', '.join(SERVERS)}, got {text!r}")
    return names


def start_servers(registry: Registry, args: argparse.Namespace,
                  started: list[Server]) -> tuple[str, str]:
    """Start the ``--servers`` that can start into ``started``; the (loop, http) they use."""
    loop, http = uvicorn_choices()
    missing = litserve_missing(args.litserve_path) if "litserve" in args.servers else None
    if missing:
        print(missing)
    started.append(start_fastapi(registry, args.torch_threads))  # the @live check needs it
    if "litserve" in args.servers and not missing:
        started.append(start_litserve(registry, args.litserve_path, loop, http,
                                      args.litserve_fast_queue))
    return loop, http


def main() -> None:
    args = parse_args()
    run = BenchRun.start("serve", args.results_dir, args)
    torch.set_num_threads(args.torch_threads)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    load_before, wall = os.getloadavg()[0], time.perf_counter()
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        registry = make_registry(Path(tmp) / "project", args.backbone, args.size)
        follower = LiveFollower(registry.client(), registry.name, interval_s=3600)
        follower.refresh()
        image = noise_png(args.size)
        try:
            loop, http = start_servers(registry, args, servers)
            levels = [measure_level(follower.current, servers, image, clients, args.requests)
                      for clients in args.concurrency]
            fastapi = servers[0]
            with alone(servers, fastapi):
                swap = swap_under_load(registry, fastapi.url, image, fastapi.process,
                                       args.requests)
            with alone(servers):
                ceiling = batched_ceiling(follower.current, image, max(args.concurrency))
        finally:
            for server in servers:
                server.stop()
    nodes = len(registry.config.taxonomy.inner_nodes)
    print(f"\nstack: {nodes} nodes of {args.backbone} at {args.size} px (untrained, thresholds "
          f"0: every walk goes to a leaf), {args.requests} requests per level, "
          f"{os.cpu_count()} CPUs, {args.torch_threads} torch threads, servers on uvicorn "
          f"with loop={loop} http={http}; load average {load_before:.1f} before and "
          f"{os.getloadavg()[0]:.1f} after; {time.perf_counter() - wall:.0f} s\n")
    print(table(levels))
    print(f"\nin-process, forwards of {max(args.concurrency)} images at once: {ceiling:.0f} "
          "images/s (the ceiling micro-batching approaches)")
    for server in servers:
        for line in verdicts(levels, server.name):
            print(line)
    print(f"fastapi, during two @live moves: {swap.failed} failed of {len(swap.latencies)} "
          f"requests (target 0): {_met(swap.failed == 0)}; litserve does not follow @live")
    if len(servers) > 1:  # the servers' comparison, not serve's own figures
        run = replace(run, name="servers")
    run.write([latency_table(levels), ceiling_table(ceiling, max(args.concurrency)),
               swap_table(swap)])


if __name__ == "__main__":
    main()
