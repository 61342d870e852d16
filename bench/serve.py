"""How fast ``taxonomist serve`` answers, against the in-process forward of the same stack.

In one run, on one stack (untrained node classifiers with ``conf/``'s backbone and image
size, registered exactly as ``dvc repro`` registers a stack), at concurrency 1, 8 and 32:

- **in process**: N threads each calling ``StackPredictor.predict`` on one decoded image,
  back to back (the forward alone: no decoding, no HTTP);
- **served**: the real ``taxonomist serve`` (uvicorn, one worker) on 127.0.0.1 and N
  clients each posting one PNG back to back (``Content-Type: image/png``): reading,
  ingest's image checks, decoding, micro-batching, the forward and the JSON answer.

It prints p50/p99 latency and throughput of both, their ratios, the mean images per
forward the server ran, and the failed requests of a bounded load loop while ``@live``
moves twice. Targets: served p50 <= in-process p50 + 15 ms at concurrency 1; served
throughput >= 0.8x in-process at concurrency 32; no failed request during the swaps.

Usage::

    python -m bench.serve                      # conf/'s backbone and size, ~1-2 min
    python -m bench.serve --backbone resnet50 --size 224 --requests 200

(``-m`` from the repository root: it builds its stack with the serve tests' helper,
:mod:`tests.serve.stacks`.)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

from taxonomist.config import compose_config
from taxonomist.data.images import ImagePolicy
from taxonomist.serve.images import SentImage, decode_images
from taxonomist.serve.live import LiveFollower, ServedStack
from taxonomist.serve.settings import ServeConfig, torch_threads
from taxonomist.tracking.ledger import ROLLBACK, move_live
from tests.mlflow_server import free_port
from tests.serve.running import serving, start_serve, wait_for_health
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
    arrays = decode_images([SentImage("bench", image)], ImagePolicy(), predictor.image_size)
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


def forward_images(url: str) -> tuple[float, float]:
    """(images, forwards) the server has run so far, from its /metrics."""
    text = httpx.get(f"{url}/metrics").text
    total = re.search(r"^taxonomist_forward_images_sum (\S+)", text, re.M)
    count = re.search(r"^taxonomist_forward_images_count (\S+)", text, re.M)
    return float(total.group(1)), float(count.group(1))


def start_server(root: Path, port: int, threads: int) -> subprocess.Popen:
    (root / "conf" / "serve.yaml").write_text(
        f"poll_interval_s: 0.5\nrequest_timeout_s: 30\ntorch_threads: {threads}\n")
    return start_serve(root, port)


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
    one = decode_images([SentImage("bench", image)], ImagePolicy(), predictor.image_size)
    arrays = np.repeat(one, images, axis=0)
    predictor.predict(arrays)
    start = time.perf_counter()
    for _ in range(repeats):
        predictor.predict(arrays)
    return images * repeats / (time.perf_counter() - start)


def table(rows: list[tuple[int, Run, Run, float]]) -> str:
    lines = ["| concurrency | in-process p50 / p99 ms | in-process req/s | served p50 / p99 ms "
             "| served req/s | p50 served - in-process | throughput served / in-process "
             "| images per forward |", "|---|---|---|---|---|---|---|---|"]
    for clients, base, http, batch in rows:
        lines.append(f"| {clients} | {base.p50_ms:.2f} / {base.p99_ms:.2f} | {base.per_s:.0f} "
                     f"| {http.p50_ms:.2f} / {http.p99_ms:.2f} | {http.per_s:.0f} "
                     f"| {http.p50_ms - base.p50_ms:+.2f} ms | {http.per_s / base.per_s:.2f}x "
                     f"| {batch:.1f} |")
    return "\n".join(lines)


def verdicts(rows: list[tuple[int, Run, Run, float]], swap: Run) -> list[str]:
    by = {clients: (base, http) for clients, base, http, _ in rows}
    found = []
    if 1 in by:
        base, http = by[1]
        extra = http.p50_ms - base.p50_ms
        found.append(f"p50 at concurrency 1: +{extra:.2f} ms over in-process (target <= "
                     f"+{TARGET_P50_EXTRA_MS:g} ms): {_met(extra <= TARGET_P50_EXTRA_MS)}")
    if 32 in by:
        base, http = by[32]
        ratio = http.per_s / base.per_s
        found.append(f"throughput at concurrency 32: {ratio:.2f}x in-process (target >= "
                     f"{TARGET_THROUGHPUT}x): {_met(ratio >= TARGET_THROUGHPUT)}")
    found.append(f"during two @live moves: {swap.failed} failed of {len(swap.latencies)} "
                 f"requests (target 0): {_met(swap.failed == 0)}")
    return found


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    defaults = compose_config(REPO / "conf").classifiers
    first = next(iter(defaults.values()))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default=first.backbone.name)
    parser.add_argument("--size", type=int, default=first.image_size)
    parser.add_argument("--requests", type=int, default=640, help="per load level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--torch-threads", type=int, default=torch_threads(ServeConfig()),
                        help="for both sides (default: serve's, all CPUs for one worker)")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        registry = make_registry(Path(tmp) / "project", args.backbone, args.size)
        follower = LiveFollower(registry.client(), registry.name, interval_s=3600)
        follower.refresh()
        image = noise_png(args.size)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(registry.root, port, args.torch_threads)
        try:
            wait_for_health(url, server, registry.root / "serve.log",
                            serving(registry.versions[0]))
            rows = []
            for clients in args.concurrency:
                base = in_process(follower.current, image, clients, args.requests)
                served(url, image, clients, 2 * clients)  # warm the connections
                before = forward_images(url)
                http = served(url, image, clients, args.requests)
                after = forward_images(url)
                batch = (after[0] - before[0]) / max(after[1] - before[1], 1)
                rows.append((clients, base, http, batch))
            swap = swap_under_load(registry, url, image, server, args.requests)
            ceiling = batched_ceiling(follower.current, image, max(args.concurrency))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    nodes = len(registry.config.taxonomy.inner_nodes)
    print(f"\nstack: {nodes} nodes of {args.backbone} at {args.size} px (untrained, thresholds "
          f"0: every walk goes to a leaf), {args.requests} requests per level, "
          f"{os.cpu_count()} CPUs, {args.torch_threads} torch threads, load average "
          f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after\n")
    print(table(rows))
    print(f"\nin-process, forwards of {max(args.concurrency)} images at once: {ceiling:.0f} "
          "images/s (the ceiling micro-batching approaches)")
    for line in verdicts(rows, swap):
        print(line)


if __name__ == "__main__":
    main()
