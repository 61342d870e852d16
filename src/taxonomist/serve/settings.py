"""``conf/serve.yaml``: the server's own settings, typed once at the edge.

Each key can also come from the environment as ``TAXONOMIST_SERVE_<KEY>`` (e.g.
``TAXONOMIST_SERVE_HOST=0.0.0.0`` in a container), which wins over the file; the
``--host/--port/--workers`` flags win over both.

The image policy is not here: served images are held to ingest's (``data.formats``,
``data.max_pixels`` in ``conf/data/``), so the stack never sees what training could not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import Enum
from pathlib import Path

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException

from taxonomist.errors import ConfigError
from taxonomist.serve.limits import parse_rate

SERVE_FILE = "serve.yaml"
ENV_PREFIX = "TAXONOMIST_SERVE_"
MIN_SECRET = 16  # characters of a webhook secret: a short one could be guessed offline


class AuthMode(Enum):
    """``serve.auth``: left unset, keys are demanded when given, and without them the
    server listens on a loopback address only."""

    keys = "keys"  # demand API keys; refuse to start without them
    none = "none"  # answer anyone, on any address (something in front checks callers)


@dataclass  # not frozen: OmegaConf could not fill a read-only node in from YAML
class WebhookConfig:
    """``serve.webhook``: follow ``@live`` as MLflow's alias events arrive, not only by polling.

    Attributes:
        url: where the MLflow server reaches this server's ``POST /hooks/mlflow``, e.g.
            ``https://classify.example.com/hooks/mlflow`` (it subscribes this URL).
        secret_env: the environment variable holding the webhook's signing secret; the
            secret itself is never in a file of ``conf/``.
        max_age_s: a delivery sent longer ago than this (or as far ahead) is refused.
    """

    url: str = MISSING
    secret_env: str = "TAXONOMIST_WEBHOOK_SECRET"
    max_age_s: float = 300.0


@dataclass(frozen=True)
class ServeConfig:
    """How ``taxonomist serve`` listens, follows ``@live`` and limits requests.

    Attributes:
        host, port, workers: where uvicorn listens and how many processes it runs.
        poll_interval_s: seconds between two resolutions of ``@live``.
        max_body_bytes: a request body over this is refused (413) before it is read.
        max_batch: images per request; more is refused (413).
        request_timeout_s: decoding and predicting one request; slower answers 504.
        max_concurrency: requests decoded at once; the others wait (within the timeout).
        batch_max_images: micro-batching: the images of concurrent requests predicted in
            one forward of the stack, at most this many.
        batch_max_wait_ms: how long a forward waits for requests still being read or
            decoded; it never waits when none is.
        batch_max_queued: images waiting for a forward at once; more answers 503.
        torch_threads: torch's threads per worker for a forward; None: the CPUs this
            process may use, shared among the workers. More threads than CPUs (a
            container's CPU limit, other busy processes) make forwards many times slower.
        auth: ``keys``, ``none`` or None (see :class:`AuthMode` and
            :mod:`taxonomist.serve.auth`).
        keys_file: the file of API key hashes (a mounted secret); the keys can come from
            ``$TAXONOMIST_API_KEYS`` instead.
        rate_limit: requests per key, for keys whose entry sets no ``rate``: ``limits``'
            notation, e.g. ``600/minute``; counted per worker.
        webhook: MLflow's registry webhooks, or None to follow ``@live`` by polling only
            (see :class:`WebhookConfig`).
    """

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    poll_interval_s: float = 10.0
    max_body_bytes: int = 20_000_000
    max_batch: int = 64
    request_timeout_s: float = 10.0
    max_concurrency: int = 4
    batch_max_images: int = 32
    batch_max_wait_ms: float = 5.0
    batch_max_queued: int = 1024
    torch_threads: int | None = None
    auth: AuthMode | None = None
    keys_file: str | None = None
    rate_limit: str = "600/minute"
    webhook: WebhookConfig | None = None

    def with_overrides(self, **values: object) -> ServeConfig:
        """A copy with the given values (None leaves a setting as it is), checked again."""
        return _checked(replace(self, **{k: v for k, v in values.items() if v is not None}))


def torch_threads(config: ServeConfig) -> int:
    """``config.torch_threads``, or this process's CPUs divided among the workers."""
    if config.torch_threads is not None:
        return config.torch_threads
    return max(1, len(os.sched_getaffinity(0)) // config.workers)


def load_serve_config(config_dir: Path, environ: Mapping[str, str] = os.environ) -> ServeConfig:
    """The defaults, then ``config_dir/serve.yaml`` if present, then ``TAXONOMIST_SERVE_*``.

    Raises:
        ConfigError: an unknown key (with the close ones), a wrong type, or a value
            that is not positive; naming ``conf/serve.yaml`` or the variable, and the key.
    """
    merged = OmegaConf.structured(ServeConfig)
    file = config_dir / SERVE_FILE
    if file.is_file():
        merged = _merged(merged, OmegaConf.load(file), _shown())
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX):
            key = name.removeprefix(ENV_PREFIX).lower()
            merged = _merged(merged, OmegaConf.from_dotlist([f"{key}={value}"]), f"${name}")
    try:
        return _checked(OmegaConf.to_object(merged))
    except MissingMandatoryValue as err:
        raise ConfigError(_shown(), err.full_key or "", "required, and not set",
                          "see ServeConfig in src/taxonomist/serve/settings.py") from None


def _merged(base: DictConfig, values: DictConfig, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, values)
    except ConfigKeyError as err:
        raise _unknown_key(source, err.full_key or "") from None
    except OmegaConfBaseException as err:
        raise ConfigError(source, err.full_key or "", err.msg.splitlines()[0]) from None


def _checked(config: ServeConfig) -> ServeConfig:
    for field in fields(ServeConfig):
        value = getattr(config, field.name)
        if isinstance(value, int | float) and value <= 0:
            raise ConfigError(_shown(), field.name, f"expected a positive number, got {value}",
                              f"the default is {field.default}")
    if config.batch_max_queued < config.max_batch:  # else a full request never fits
        raise ConfigError(_shown(), "batch_max_queued", f"expected at least max_batch "
                          f"({config.max_batch}), got {config.batch_max_queued}")
    parse_rate(config.rate_limit, _shown(), "rate_limit")
    if config.webhook is not None and config.webhook.max_age_s <= 0:
        raise ConfigError(_shown(), "webhook.max_age_s", "expected a positive number, got "
                          f"{config.webhook.max_age_s}", "the default is 300")
    return config


def webhook_secret(webhook: WebhookConfig, environ: Mapping[str, str] = os.environ) -> str:
    """The signing secret, from the variable ``webhook.secret_env`` names.

    Raises:
        ConfigError: the variable is unset or too short to be a secret.
    """
    secret = environ.get(webhook.secret_env, "")
    if len(secret) < MIN_SECRET:
        found = "is not set" if not secret else f"holds {len(secret)} characters"
        raise ConfigError(_shown(), "webhook.secret_env", f"${webhook.secret_env} {found}; "
                          f"expected the webhook's secret, {MIN_SECRET} characters or more",
                          f"e.g. export {webhook.secret_env}=$(python -c 'import secrets; "
                          "print(secrets.token_urlsafe(32))'), from a secret store")
    return secret


def _unknown_key(source: str, key: str) -> ConfigError:
    return ConfigError.unknown_key(source, key, [f.name for f in fields(ServeConfig)])


def _shown() -> str:
    return f"conf/{SERVE_FILE}"
