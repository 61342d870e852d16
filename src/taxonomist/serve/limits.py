"""The body-size limit, enforced while the body arrives rather than after.

A declared ``Content-Length`` over the limit is answered 413 before a byte of the body
is read; a body sent without one (chunked) is counted as it streams in and refused the
moment it passes the limit, so memory stays bounded either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
