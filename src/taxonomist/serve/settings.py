"""``conf/serve.yaml``: the server's own settings, typed once at the edge.

The image policy is not here: served images are held to ingest's (``data.formats``,
``data.max_pixels`` in ``conf/data/``), so the stack never sees what training could not.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from taxonomist.errors import ConfigError

SERVE_FILE = "serve.yaml"


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

    def with_overrides(self, **values: object) -> ServeConfig:
        """A copy with the given values (None leaves a setting as it is), checked again."""
        return _checked(replace(self, **{k: v for k, v in values.items() if v is not None}))


def load_serve_config(config_dir: Path) -> ServeConfig:
    """``config_dir/serve.yaml`` over the defaults; the defaults alone if it is absent.

    Raises:
        ConfigError: an unknown key (with the close ones), a wrong type, or a value
            that is not positive; naming ``conf/serve.yaml`` and the key.
    """
    file = config_dir / SERVE_FILE
    if not file.is_file():
        return ServeConfig()
    try:
        merged = OmegaConf.merge(OmegaConf.structured(ServeConfig), OmegaConf.load(file))
    except ConfigKeyError as err:
        raise _unknown_key(err.full_key or "") from None
    except OmegaConfBaseException as err:
        raise ConfigError(_shown(), err.full_key or "", err.msg.splitlines()[0]) from None
    return _checked(OmegaConf.to_object(merged))


def _checked(config: ServeConfig) -> ServeConfig:
    for field in fields(ServeConfig):
        value = getattr(config, field.name)
        if not isinstance(value, str) and value <= 0:
            raise ConfigError(_shown(), field.name, f"expected a positive number, got {value}",
                              f"the default is {field.default}")
    if config.batch_max_queued < config.max_batch:  # else a full request never fits
        raise ConfigError(_shown(), "batch_max_queued", f"expected at least max_batch "
                          f"({config.max_batch}), got {config.batch_max_queued}")
    return config


def _unknown_key(key: str) -> ConfigError:
    valid = [f.name for f in fields(ServeConfig)]
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigError(_shown(), key, "unknown key", f"{hint}valid keys: {', '.join(valid)}")


def _shown() -> str:
    return f"conf/{SERVE_FILE}"
