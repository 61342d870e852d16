"""What ``GET /metrics`` exposes, in Prometheus' text format and naming conventions.

====================================================  =========  ==========================
metric                                                type       labels
====================================================  =========  ==========================
``taxonomist_http_requests_total``                    counter    method, route, status
``taxonomist_http_request_duration_seconds``          histogram  method, route, status
``taxonomist_predictions_total``                      counter    depth, stopped
``taxonomist_model_swaps_total``                      counter
``taxonomist_forward_images``                         histogram  (images per forward)
``taxonomist_model_info``                             gauge (1)  model, version, digest
====================================================  =========  ==========================

``route`` is the route's template (``/v1/predict``), never the raw path, so a scanner
probing random URLs adds one series (``unmatched``), not one per URL. ``depth`` is how
many levels a walk went down; ``stopped`` is ``leaf`` or ``threshold``. Each app owns
its registry, so two apps in one process (tests) do not collide.

With several workers (``taxonomist serve --workers N``), :func:`taxonomist.serve.server.serve`
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start, and every
worker's values go there (prometheus-client's multiprocess mode): whichever worker answers
``/metrics`` reports all of them — counters and histograms summed over the workers, the
info gauge as the highest value any live worker holds for a version.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taxonomist.stack.predictor import Prediction

# Requests take milliseconds on a small stack and seconds on a big batch.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ServeMetrics:
    """The server's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        self._serving: tuple[str, str, str] | None = None
        labels = ("method", "route", "status")
        self.requests = Counter("taxonomist_http_requests", "HTTP requests answered.",
                                labels, registry=self.registry)
        self.latency = Histogram("taxonomist_http_request_duration_seconds",
                                 "Time to answer an HTTP request.", labels,
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("taxonomist_predictions",
                                   "Images predicted, by how deep the walk went and why it "
                                   "stopped.", ("depth", "stopped"), registry=self.registry)
        self.swaps = Counter("taxonomist_model_swaps", "Stacks swapped in after @live moved "
                             "(the first load included).", registry=self.registry)
        self.forward_images = Histogram("taxonomist_forward_images", "Images per forward "
                                        "of the stack: one or more requests micro-batched.",
                                        buckets=BATCH_BUCKETS, registry=self.registry)
        self.info = Gauge("taxonomist_model_info", "The stack being served (always 1).",
                          ("model", "version", "digest"), registry=self.registry,
                          multiprocess_mode="livemax")

    def count_predictions(self, predictions: list[Prediction]) -> None:
        for prediction in predictions:
            stopped = "threshold" if prediction.stop else "leaf"
            self.predictions.labels(str(len(prediction.path)), stopped).inc()

    def swapped(self, model: str, version: str, digest: str) -> None:
        """Count a swap; the info series now names only the new stack (with several
        workers the old one stays, at 0 once no worker serves it: the workers' files
        cannot forget a series)."""
        self.swaps.inc()
        if not self.multiprocess:
            self.info.clear()
        elif self._serving is not None:
            self.info.labels(*self._serving).set(0)
        self._serving = (model, version, digest)
        self.info.labels(*self._serving).set(1)

    def exposition(self) -> bytes:
        """Prometheus text: this process's metrics, or every worker's in multiprocess mode."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)
        return generate_latest(workers)

    def close(self) -> None:
        """A worker's end: its live-only gauge (the info) stops counting."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())


class RequestMetricsMiddleware:
    """ASGI middleware: count and time every HTTP request by route template and status."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, start = ["500"], time.perf_counter()

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:  # a crash answers 500 (the error handler's body) and is counted too
            labels = (scope["method"], _route(scope), status[0])
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)


def _route(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
