"""API keys: who may call which route, checked against the keys' hashes only.

A key is a random bearer token made by :func:`make_key` (``txk_`` and 43 URL-safe
characters: 256 random bits). Its maker hands it to one client and never stores it; the
server reads only its SHA-256, from a keys file (``serve.keys_file``) or from the
environment variable :data:`KEYS_ENV` holding the same text, one entry per key::

    web-frontend:
      sha256: 9b0c3c0b9f5d...        # make_key("web-frontend").entry, as printed
      routes: [predict]              # predict: POST /v1/predict; metrics: GET /metrics
      rate: 100/minute               # optional; serve.rate_limit otherwise
    prometheus:
      sha256: 51f4d7e3a0c2...
      routes: [metrics]

A fast hash is the right one here: a key is random, not chosen by a person, so its hash
cannot be reversed by guessing, and checking a request costs one SHA-256. A presented
key is compared with every stored hash in constant time (:func:`hmac.compare_digest`),
so the time an answer takes says nothing about which hash came close.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from limits import RateLimitItem

from taxonomist.errors import ConfigError
from taxonomist.serve.limits import parse_rate
from taxonomist.serve.settings import AuthMode, ServeConfig

log = logging.getLogger("taxonomist.serve")

KEYS_ENV = "TAXONOMIST_API_KEYS"
KEY_PREFIX = "txk_"
# Each route a key may be allowed; /health (probes) and /docs are open to all.
ROUTES = {"predict": "POST /v1/predict", "metrics": "GET /metrics"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_KEYS = ("sha256", "routes", "rate")


@dataclass(frozen=True)
class ApiKey:
    """One key as the server knows it: never the key, only its hash.

    Attributes:
        name: who holds it (a client, a team), in messages and the keys file.
        sha256: the key's SHA-256, 32 bytes.
        routes: the :data:`ROUTES` it may call.
        rate: its rate limit, or None for ``serve.rate_limit``.
    """

    name: str
    sha256: bytes = field(repr=False)
    routes: frozenset[str]
    rate: RateLimitItem | None = None


class KeyRing:
    """The keys a server accepts, read from ``source`` (named in messages)."""

    def __init__(self, keys: Iterable[ApiKey], source: str) -> None:
        self.keys, self.source = tuple(keys), source

    def identify(self, presented: str) -> ApiKey | None:
        """The key whose hash is ``presented``'s, or None.

        Every stored hash is compared, in constant time, whether or not one matched.
        """
        digest = hash_key(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.sha256, digest):
                found = key
        return found


@dataclass(frozen=True)
class NewKey:
    """A freshly made key and the keys-file entry that admits it.

    Attributes:
        key: the bearer token, to hand to its client once; it is stored nowhere.
        entry: the YAML to add to the keys file: the name, the hash, routes and rate.
    """

    key: str
    entry: str


def hash_key(key: str) -> bytes:
    """The SHA-256 of a key's text (what the keys file holds, as hex)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def make_key(name: str, routes: Iterable[str] = ("predict",), rate: str | None = None
             ) -> NewKey:
    """A new random API key for ``name`` and the keys-file entry holding its hash.

    Example:
        >>> made = make_key("web-frontend", routes=["predict"], rate="100/minute")
        >>> made.key            # 'txk_...': give it to the client, keep no copy
        >>> print(made.entry)   # append to the keys file the server reads

    Raises:
        ConfigError: a name that is not letters, digits, ``.``, ``_``, ``-``; a route
            not in :data:`ROUTES`; a rate ``limits`` cannot read (e.g. ``100/minute``).
    """
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    entry: dict[str, Any] = {"sha256": hash_key(key).hex(), "routes": sorted(set(routes))}
    if rate is not None:
        entry["rate"] = rate
    _api_key(name, entry, "make_key")  # the entry the server will read, checked now
    return NewKey(key, yaml.safe_dump({name: entry}, sort_keys=False, default_flow_style=None))


def read_keys(text: str, source: str) -> KeyRing:
    """The keys of a keys file's ``text`` (see the module's doc).

    Raises:
        ConfigError: naming ``source`` and the key: not YAML, no keys, an entry that is
            not a mapping of ``sha256``, ``routes`` and ``rate``, a raw key where its
            hash belongs, an unknown route, or a rate ``limits`` cannot read.
    """
    try:
        found = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(source, "", f"not YAML: {err}".splitlines()[0]) from None
    if not isinstance(found, dict) or not found:
        raise ConfigError(source, "", "expected one entry per key, name: {sha256: ..., "
                          "routes: [...]}", "make one with taxonomist.serve.auth.make_key")
    return KeyRing([_api_key(str(name), entry, source) for name, entry in found.items()],
                   source)


def load_keys(settings: ServeConfig, environ: Mapping[str, str] = os.environ
              ) -> KeyRing | None:
    """The keys of ``settings.keys_file``, else of ``$TAXONOMIST_API_KEYS``; None if neither.

    Raises:
        ConfigError: both are set, the file cannot be read, or its text is wrong.
    """
    text_in_env = environ.get(KEYS_ENV)
    if settings.keys_file and text_in_env:
        raise ConfigError("conf/serve.yaml", "keys_file", f"both keys_file and ${KEYS_ENV} "
                          "are set; the keys come from one place: unset one of them")
    if text_in_env:
        return read_keys(text_in_env, f"${KEYS_ENV}")
    if not settings.keys_file:
        return None
    file = Path(settings.keys_file)
    try:
        return read_keys(file.read_text(encoding="utf-8"), str(file))
    except OSError as err:
        raise ConfigError("conf/serve.yaml", "keys_file", f"cannot read {file}: "
                          f"{err.strerror}", "mount the keys file there (a secret), or "
                          "point keys_file ($TAXONOMIST_SERVE_KEYS_FILE) at it") from None


def access_for(settings: ServeConfig, environ: Mapping[str, str] = os.environ
               ) -> KeyRing | None:
    """The keys the server will demand, or None to answer anyone.

    Secure by default: without keys the server listens on a loopback address only,
    unless ``serve.auth`` says ``none`` in so many words.

    Raises:
        ConfigError: ``auth: keys`` without keys, ``auth: none`` with keys, or no keys
            on an address other machines can reach.
    """
    keys = load_keys(settings, environ)
    if settings.auth is AuthMode.none and keys is not None:
        raise ConfigError("conf/serve.yaml", "auth", f"none, but keys are given "
                          f"({keys.source}); remove auth: none to demand them, or the keys")
    if keys is None and settings.auth is AuthMode.keys:
        raise ConfigError("conf/serve.yaml", "auth", f"keys, but no keys are given; set "
                          f"keys_file ($TAXONOMIST_SERVE_KEYS_FILE) or ${KEYS_ENV}",
                          "make a key with taxonomist.serve.auth.make_key")
    if keys is None and settings.auth is None and not is_loopback(settings.host):
        raise ConfigError("conf/serve.yaml", "host", f"{settings.host!r} can be reached "
                          "from other machines, and no API key is set: anyone there could "
                          "use the API", f"give keys (keys_file or ${KEYS_ENV}; make one "
                          "with taxonomist.serve.auth.make_key), listen on 127.0.0.1, or "
                          "write auth: none if something in front checks every caller")
    return keys


def announce(settings: ServeConfig, keys: KeyRing | None) -> None:
    """Log, at a worker's start, who it will answer."""
    where = f"{settings.host}:{settings.port}"
    if keys is not None:
        log.info("API keys required on %s: %d keys from %s", where, len(keys.keys),
                 keys.source)
    elif settings.auth is AuthMode.none:
        log.warning("serve.auth is none: anyone who can reach %s is answered, with no key "
                    "and no rate limit; only safe behind something that checks callers",
                    where)
    else:
        log.info("no API keys: answering anyone on the loopback address %s", where)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _api_key(name: str, entry: Any, source: str) -> ApiKey:
    _check_entry(name, entry, source)
    rate = entry.get("rate")
    return ApiKey(name, bytes.fromhex(entry["sha256"]), frozenset(entry["routes"]),
                  parse_rate(str(rate), source, f"{name}.rate") if rate is not None else None)


def _check_entry(name: str, entry: Any, source: str) -> None:
    if not _NAME.match(name) or name.startswith(KEY_PREFIX):  # a name is shown; a key never
        raise ConfigError(source, "", "a key's name is 1-64 letters, digits, '.', '_' or "
                          "'-', starting with a letter or digit (and not a key)")
    if not isinstance(entry, dict):
        raise ConfigError(source, name, f"expected {{sha256: ..., routes: [...]}}, got "
                          f"{type(entry).__name__}")
    unknown = sorted(str(k) for k in set(entry) - set(_ENTRY_KEYS))
    if unknown:
        raise ConfigError.unknown_key(source, f"{name}.{unknown[0]}", list(_ENTRY_KEYS))
    _check_hash(name, entry.get("sha256"), source)
    routes = entry.get("routes")
    if not isinstance(routes, list) or not routes or not set(map(str, routes)) <= set(ROUTES):
        raise ConfigError(source, f"{name}.routes", f"expected a list of {', '.join(ROUTES)}"
                          f", got {routes!r}")


def _check_hash(name: str, value: Any, source: str) -> None:
    if isinstance(value, str) and value.startswith(KEY_PREFIX):
        raise ConfigError(source, f"{name}.sha256", "this is a key, not its hash: a keys "
                          "file holds hashes only", "revoke this key (it has been stored) "
                          "and make a new one with make_key; add its entry")
    if not isinstance(value, str) or not _HEX.match(value):
        raise ConfigError(source, f"{name}.sha256", "expected the key's SHA-256 as 64 "
                          "lowercase hex digits (make_key prints the entry)")
