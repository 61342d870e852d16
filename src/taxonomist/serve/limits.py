"""The server's limits on what one caller may send: the body's size and each key's rate.

A declared ``Content-Length`` over the limit is answered 413 before a byte of the body
is read; a body sent without one (chunked) is counted as it streams in and refused the
moment it passes the limit, so memory stays bounded either way.

Each API key's requests are counted in a moving window (the ``limits`` library): past
its rate it is answered 429 with ``Retry-After``, the seconds until the window lets the
next request through. The counts are kept in the worker's memory, so with ``workers: N``
a key may reach N times its rate (the keys' rates are per worker).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taxonomist.errors import ConfigError
from taxonomist.serve.errors import RequestError


class BodyLimitMiddleware:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with a 413 JSON error."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(int(declared)).response()(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # raised inside the route: its handler answers
                raise self._too_large(None)
            return message

        await self.app(scope, counted, send)

    def _too_large(self, size: int | None) -> RequestError:
        sent = f"{size:,} bytes" if size is not None else "a body"
        return RequestError(413, "body_too_large", f"{sent}, over serve.max_body_bytes "
                            f"({self.max_bytes:,}); send fewer or smaller images",
                            {"max_body_bytes": self.max_bytes})


class KeyRates:
    """Per-key request counts in a moving window, refusing a key past its rate."""

    def __init__(self) -> None:
        self._window = MovingWindowRateLimiter(MemoryStorage())

    def admit(self, name: str, rate: RateLimitItem) -> None:
        """Count one request of key ``name``.

        Raises:
            RequestError: 429 past ``rate``, with ``Retry-After`` in whole seconds.
        """
        if self._window.hit(rate, name):
            return
        reset_at, _ = self._window.get_window_stats(rate, name)
        retry_s = max(1, math.ceil(reset_at - time.time()))
        raise RequestError(429, "rate_limited", f"key {name!r} sent more than its rate "
                           f"({rate.amount} per {_window_text(rate)}); retry in {retry_s} s",
                           {"rate": f"{rate.amount}/{_window_text(rate)}"},
                           headers={"Retry-After": str(retry_s)})


def parse_rate(rate: str, source: str, key: str) -> RateLimitItem:
    """``rate`` as ``limits`` reads it (``100/minute``, ``5 per second``).

    Raises:
        ConfigError: naming ``source`` and ``key``, for text it cannot read or a rate of 0.
    """
    try:
        parsed = parse(rate)
    except ValueError:
        parsed = None
    if parsed is None or parsed.amount < 1:
        raise ConfigError(source, key, f"expected a rate such as 100/minute or 5/second, "
                          f"got {rate!r}")
    return parsed


def _window_text(rate: RateLimitItem) -> str:
    unit = rate.GRANULARITY.name
    return unit if rate.multiples == 1 else f"{rate.multiples} {unit}s"
