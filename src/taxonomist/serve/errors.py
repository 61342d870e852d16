"""Every refusal is a JSON body a client can act on; nothing else reaches the client.

The body follows FastAPI's ``{"detail": ...}`` and adds a stable ``error`` code and,
for a limit, the limit itself::

    {"error": "batch_too_large", "detail": "70 images in one request, over
     serve.max_batch (64); split the batch", "limit": {"max_batch": 64}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from taxonomist.errors import TaxonomistError

log = logging.getLogger("taxonomist.serve")


class RequestError(TaxonomistError):
    """A request the server refuses, with the HTTP status and what to change.

    Args:
        status: the 4xx/5xx status to answer with.
        code: a stable name for the refusal, e.g. ``"image_too_large"``.
        detail: the sentence for a person: what was wrong and the limit.
        limit: the limit that was crossed, e.g. ``{"max_batch": 64}``.
        headers: sent with the answer, e.g. ``Retry-After`` or ``WWW-Authenticate``.
    """

    def __init__(self, status: int, code: str, detail: str,
                 limit: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.limit = status, code, detail, limit
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.limit is not None:
            body["limit"] = self.limit
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer refusals, HTTP errors and crashes as JSON; a crash's trace goes to the log."""

    @app.exception_handler(RequestError)
    async def refused(request: Request, err: RequestError) -> JSONResponse:
        return err.response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        return RequestError(err.status_code, "http_error", str(err.detail),
                            headers=err.headers).response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        return RequestError(422, "invalid_request", str(err.errors())).response()

    @app.exception_handler(Exception)
    async def crashed(request: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return RequestError(500, "internal_error", "the server failed on this request; "
                            "its log has the details").response()
