"""The guard in front of each protected route: a bearer key, allowed this route, within
its rate.

Built on FastAPI's :class:`~fastapi.security.HTTPBearer`, so ``/docs`` shows the scheme
and its *Authorize* button sends the key. The refusals are the API's JSON errors:

- 401 ``unauthorized``: no ``Authorization: Bearer`` key, or one the server does not know;
- 403 ``forbidden``: a known key whose entry does not list this route;
- 429 ``rate_limited``: the key is past its rate; ``Retry-After`` says when to come back.

A refusal never repeats the key that was sent.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem

from taxonomist.serve.auth import ROUTES, ApiKey, KeyRing
from taxonomist.serve.errors import RequestError
from taxonomist.serve.limits import KeyRates

_BEARER = HTTPBearer(auto_error=False, scheme_name="API key",
                     description="A key made by taxonomist.serve.auth.make_key, sent as "
                     "`Authorization: Bearer <key>`.")
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Access:
    """Who may call what: the server's keys and each key's rate.

    Args:
        keys: the keys to demand; None answers anyone (``serve.auth``, loopback).
        default_rate: the rate of a key whose entry sets none (``serve.rate_limit``).
    """

    def __init__(self, keys: KeyRing | None, default_rate: RateLimitItem) -> None:
        self.keys, self.default_rate = keys, default_rate
        self.rates = KeyRates()

    @property
    def open(self) -> bool:
        """Whether anyone is answered (no keys)."""
        return self.keys is None

    def guarding(self, route: str) -> list[DependsParam]:
        """The dependencies that guard ``route`` (one of :data:`ROUTES`): none when open."""
        return [] if self.keys is None else [Depends(self._guard(route))]

    def admit(self, route: str, credentials: HTTPAuthorizationCredentials | None) -> ApiKey:
        """The key that may call ``route`` now.

        Raises:
            RequestError: 401, 403 or 429, as the module's doc says.
        """
        assert self.keys is not None, "guarding() installs no guard on an open server"
        if credentials is None:
            raise RequestError(401, "unauthorized", "no API key: send one as "
                               "'Authorization: Bearer <key>'", headers=_CHALLENGE)
        key = self.keys.identify(credentials.credentials)
        if key is None:
            raise RequestError(401, "unauthorized", "the API key is not one this server "
                               "accepts (mistyped, or revoked); ask for a new one",
                               headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if route not in key.routes:
            raise RequestError(403, "forbidden", f"key {key.name!r} may not call "
                               f"{ROUTES[route]} (its routes: {', '.join(sorted(key.routes))}"
                               f"); add {route} to its routes in {self.keys.source}")
        self.rates.admit(key.name, key.rate or self.default_rate)
        return key

    def _guard(self, route: str) -> Callable[..., Coroutine[Any, Any, ApiKey]]:
        async def guard(credentials: _Credentials) -> ApiKey:
            return self.admit(route, credentials)

        return guard
