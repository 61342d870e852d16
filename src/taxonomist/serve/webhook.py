"""``POST /hooks/mlflow``: MLflow's alias events, so a move of ``@live`` is followed at once.

Where ``serve.webhook`` is set, the server subscribes its URL to the registry's alias
events at start (:func:`taxonomist.serve.server.subscribe_from_conf`) and answers each delivery:

- 401 ``bad_signature``: unsigned, or not signed with the secret (forged or altered);
- 400 ``stale_delivery``: signed, but sent outside ``webhook.max_age_s`` or already
  received (a replay);
- 200 ``{"action": "follow"}``: an event for ``@live`` of this server's stack; the
  polling thread resolves the alias at once
  (:meth:`~taxonomist.serve.live.LiveFollower.follow_now`);
- 200 ``{"action": "prepare", "version": "3"}``: a new version of the stack; the polling
  thread loads and warms it ahead of its promotion
  (:meth:`~taxonomist.serve.live.LiveFollower.prepare_soon`);
- 200 ``{"action": "ignore"}``: any other model, alias or event.

The event only wakes the follower, which reads where ``@live`` points from the registry
as a poll does: a delivery can make the server look sooner, never serve another version.
Polling goes on, so a delivery that never came (the server was down, MLflow had not yet
noticed the subscription) is caught at the next poll. Each uvicorn worker follows on its
own: the worker a delivery reaches swaps at once, the others at their next poll.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from taxonomist.serve.errors import RequestError
from taxonomist.serve.live import LiveFollower
from taxonomist.serve.settings import WebhookConfig, webhook_secret
from taxonomist.tracking.hooks import (
    DeliveryVerifier,
    ForgedDelivery,
    StaleDelivery,
    alias_moved,
    version_registered,
)
from taxonomist.tracking.names import LIVE_ALIAS

HOOK_ROUTE = "/hooks/mlflow"


def verifier_for(webhook: WebhookConfig) -> DeliveryVerifier:
    """The verifier of ``webhook``'s deliveries, its secret read from the environment.

    Raises:
        ConfigError: the secret's variable is unset or too short.
    """
    return DeliveryVerifier(webhook_secret(webhook), webhook.max_age_s)


def add_hook_route(app: FastAPI, follower: LiveFollower, verifier: DeliveryVerifier) -> None:
    """Install ``POST /hooks/mlflow`` (see the module's doc); MLflow cannot send an API key,
    so the signature is this route's authentication."""

    @app.post(HOOK_ROUTE, include_in_schema=False)
    async def mlflow_event(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            event = verifier.verify(request.headers, body)
        except ForgedDelivery as err:
            raise RequestError(401, "bad_signature", f"refused: {err}") from None
        except StaleDelivery as err:
            raise RequestError(400, "stale_delivery", f"refused: {err}") from None
        registered = version_registered(event, follower.name)
        if registered is not None:
            follower.prepare_soon(registered)
            return JSONResponse({"action": "prepare", "version": registered})
        if alias_moved(event, follower.name, LIVE_ALIAS):
            follower.follow_now()
            return JSONResponse({"action": "follow"})
        return JSONResponse({"action": "ignore"})
