"""The FastAPI app: ``POST /v1/predict``, ``GET /health``, ``GET /metrics``; docs at /docs;
``POST /hooks/mlflow`` where registry webhooks are on.

With keys, ``/v1/predict`` and ``/metrics`` answer only a key allowed them
(:mod:`taxonomist.serve.access`); ``/health`` (for probes) and the docs stay open.

Build one with :func:`create_app` from ready parts (tests do), or let
:func:`taxonomist.serve.server.serve` build it from ``conf/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from taxonomist.data.cropping import Found
from taxonomist.data.images import ImagePolicy, bounded_decoding
from taxonomist.serve.access import Access
from taxonomist.serve.auth import KeyRing
from taxonomist.serve.batching import MicroBatcher
from taxonomist.serve.compute import BoundedPool, Deadline
from taxonomist.serve.errors import RequestError, install_error_handlers
from taxonomist.serve.images import ACCEPTED_TYPES, SentImage, decode_images, read_images
from taxonomist.serve.limits import BodyLimitMiddleware, parse_rate
from taxonomist.serve.live import LiveFollower, ServedStack
from taxonomist.serve.prometheus import RequestMetricsMiddleware, ServeMetrics
from taxonomist.serve.responses import Health, PredictResponse, predict_response
from taxonomist.serve.settings import ServeConfig
from taxonomist.serve.webhook import add_hook_route
from taxonomist.tracking.hooks import DeliveryVerifier

VERSION_HEADER = "X-Taxonomist-Stack-Version"
_PREDICT_BODY = {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                             for t in ACCEPTED_TYPES}, "required": True}


@dataclass
class Server:
    """What the routes share: the live stack, the limits, the metrics, the decoding
    pool and the micro-batcher that runs the stack."""

    follower: LiveFollower
    settings: ServeConfig
    policy: ImagePolicy
    metrics: ServeMetrics
    pool: BoundedPool
    batcher: MicroBatcher

    def ready_stack(self) -> ServedStack:
        stack = self.follower.current  # taken once: this request ends on this stack
        if stack is None:
            raise RequestError(503, "not_ready", f"no version of {self.follower.name} is "
                               f"loaded yet (@live: {self.follower.live or 'not set'}); retry")
        return stack

    async def predict(self, request: Request) -> tuple[ServedStack, PredictResponse]:
        """Read and decode the request's images, then predict them in some micro-batch.

        Decoding runs in a pool thread and the forward in the batcher's, so the event
        loop stays free; one deadline (``request_timeout_s``) covers both.
        """
        timeout_s = self.settings.request_timeout_s
        with self.batcher.arriving():
            try:
                async with asyncio.timeout(timeout_s):
                    images = await read_images(request, self.settings.max_batch)
            except TimeoutError:
                raise RequestError(408, "body_timeout", "the request body did not arrive "
                                   f"within serve.request_timeout_s ({timeout_s:g} s)",
                                   {"request_timeout_s": timeout_s}) from None
            stack = self.ready_stack()
            deadline = Deadline.after(timeout_s)
            arrays, found = await self.pool.run(lambda: self._prepare(stack, images), deadline)
        predictions = await self.batcher.predict(stack, arrays, deadline)
        self.metrics.count_predictions(predictions)
        return stack, predict_response(stack, predictions, found)

    def _prepare(self, stack: ServedStack, images: list[SentImage]
                 ) -> tuple[np.ndarray, list[Found | None]]:
        """Decoded and, when the stack has a detector, cropped to the object's box."""
        return stack.model.prepare(decode_images(images, self.policy))


def create_app(follower: LiveFollower, settings: ServeConfig, policy: ImagePolicy,
               keys: KeyRing | None = None, hooks: DeliveryVerifier | None = None) -> FastAPI:
    """The API over the stack ``follower`` keeps current; it starts following on start-up.

    ``keys``: the API keys to demand (:func:`taxonomist.serve.auth.access_for` decides);
    None answers anyone. ``hooks``: the verifier of MLflow's signed alias events, which
    installs ``POST /hooks/mlflow`` (:mod:`taxonomist.serve.webhook`); None polls only.
    """
    metrics = ServeMetrics()
    follower.on_swap = lambda stack: metrics.swapped(stack.name, stack.version, stack.digest)
    batcher = MicroBatcher(settings.batch_max_images, settings.batch_max_wait_ms / 1000,
                           settings.batch_max_queued, metrics.forward_images.observe)
    server = Server(follower, settings, policy, metrics, BoundedPool(settings.max_concurrency),
                    batcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Held for the server's life, so the per-image checks in pool threads all see
        # the same limit and no thread can restore Pillow's laxer default under another.
        with bounded_decoding(policy.max_pixels):
            follower.start()
            batcher.start()
            try:
                yield
            finally:
                follower.stop()
                await batcher.stop()
                server.pool.shutdown()
                metrics.close()

    app = FastAPI(title="taxonomist", lifespan=lifespan,
                  description=f"Hierarchical predictions from {follower.name}@live.")
    install_error_handlers(app)
    access = Access(keys, parse_rate(settings.rate_limit, "conf/serve.yaml", "rate_limit"))
    _add_routes(app, server, access)
    if hooks is not None:
        add_hook_route(app, follower, hooks)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)  # outermost: counts 413s
    return app


def _add_routes(app: FastAPI, server: Server, access: Access) -> None:
    @app.post("/v1/predict", response_model=PredictResponse,
              openapi_extra={"requestBody": _PREDICT_BODY},
              dependencies=access.guarding("predict"))
    async def predict(request: Request) -> JSONResponse:
        """Predict one image (raw body or multipart file) or a batch (JSON of base64)."""
        stack, answer = await server.predict(request)
        return JSONResponse(answer.model_dump(), headers={VERSION_HEADER: stack.version})

    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    async def health() -> JSONResponse:
        """200 once a stack is loaded (its version and digest); 503 until then. Open to
        all, so with keys a failed poll is named by its kind only (the log has the rest)."""
        follower, stack = server.follower, server.follower.current
        found = Health(status="loading" if stack is None else "ok", model=follower.name,
                       live=follower.live, last_error=_shown_error(follower.last_error,
                                                                   access.open))
        if stack is not None:
            found = found.model_copy(update={"version": stack.version, "digest": stack.digest,
                                             "loaded_at": stack.loaded_at})
        return JSONResponse(found.model_dump(), status_code=503 if stack is None else 200)

    @app.get("/metrics", include_in_schema=False, dependencies=access.guarding("metrics"))
    async def exposition() -> Response:
        return Response(server.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _shown_error(error: str | None, open_server: bool) -> str | None:
    """The last poll's error as /health shows it: whole on an open server; its kind only
    where keys are demanded, since a registry's error can name hosts, paths or a URI's
    credentials."""
    if error is None or open_server:
        return error
    return f"{error.split(':', 1)[0]} (the server's log has the details)"
