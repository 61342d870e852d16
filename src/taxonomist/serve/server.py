"""``taxonomist serve``: build the app from ``conf/`` and run it on uvicorn.

uvicorn starts each of ``--workers`` processes by importing :func:`app_from_conf`, so
every worker composes ``conf/`` (found through ``$TAXONOMIST_CONFIG_DIR``, which
:func:`serve` sets) and follows ``@live`` on its own. With more than one worker, their
metrics meet in one folder (:mod:`taxonomist.serve.prometheus`), so ``/metrics`` is the
server's whichever worker answers it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI

from taxonomist.config import Config, Paths, compose_config, resolve_config_dir
from taxonomist.config.compose import CONFIG_DIR_ENV
from taxonomist.config.paths import find_project_root
from taxonomist.data.images import ImagePolicy
from taxonomist.serve.app import create_app
from taxonomist.serve.auth import access_for, announce
from taxonomist.serve.live import LiveFollower
from taxonomist.serve.prometheus import MULTIPROCESS_ENV
from taxonomist.serve.settings import (
    ENV_PREFIX,
    ServeConfig,
    WebhookConfig,
    load_serve_config,
    torch_threads,
    webhook_secret,
)
from taxonomist.serve.webhook import verifier_for
from taxonomist.tracking.client import client_for
from taxonomist.tracking.hooks import SubscriptionError, subscribe
from taxonomist.tracking.names import stack_model_name

log = logging.getLogger("taxonomist.serve")


def build_app(config: Config, paths: Paths, settings: ServeConfig) -> FastAPI:
    """The API over ``<taxonomy>.stack@live`` in the project's registry.

    Images are held to ingest's policy (``data.formats``, ``data.max_pixels``); callers
    to the keys :func:`~taxonomist.serve.auth.access_for` finds.

    Raises:
        ConfigError: no keys on an address other machines reach, a bad keys file, or
            ``serve.webhook`` without its secret in the environment.
    """
    keys = access_for(settings)
    announce(settings, keys)
    hooks = verifier_for(settings.webhook) if settings.webhook is not None else None
    follower, policy = worker_parts(config, paths, settings)
    return create_app(follower, settings, policy, keys, hooks)


def worker_parts(config: Config, paths: Paths,
                 settings: ServeConfig) -> tuple[LiveFollower, ImagePolicy]:
    """What one worker serves with: a follower of ``<taxonomy>.stack@live`` (not started
    yet) and ingest's image policy. Sets torch's threads to this worker's share of the CPUs.

    ``bench/litserve_api.py`` loads its stack through this too, so both servers it
    measures do the same work.
    """
    torch.set_num_threads(torch_threads(settings))
    client = client_for(config.project.mlflow, paths)
    follower = LiveFollower(client, stack_model_name(config.taxonomy.name),
                            settings.poll_interval_s)
    return follower, ImagePolicy.from_config(config.project.data)


def project_from_conf() -> tuple[Config, Paths, ServeConfig]:
    """The configuration of ``$TAXONOMIST_CONFIG_DIR`` (else the project's conf/ found
    from here), the project that holds that folder, and its serve settings."""
    config_dir = resolve_config_dir()
    paths = Paths(find_project_root(str(config_dir)))
    return compose_config(config_dir), paths, load_serve_config(config_dir)


def app_from_conf() -> FastAPI:
    """uvicorn's factory: the app for :func:`project_from_conf`."""
    return build_app(*project_from_conf())


def subscribe_from_conf(webhook: WebhookConfig) -> None:
    """Subscribe ``webhook.url`` to the alias and new-version events of the registry in
    ``$TAXONOMIST_CONFIG_DIR``'s project (see :func:`taxonomist.tracking.hooks.subscribe`).

    Raises:
        ConfigError: the webhook's secret is not in the environment.
        SubscriptionError: the tracking server refused (webhooks are admin-only on
            MLflow's basic-auth app).
    """
    config, paths, _ = project_from_conf()
    client = client_for(config.project.mlflow, paths)
    model = stack_model_name(config.taxonomy.name)
    subscribe(client, model, webhook.url, webhook_secret(webhook))
    log.info("subscribed %s to the registry events of %s (MLflow may take up to "
             "$MLFLOW_WEBHOOK_CACHE_TTL, 60 s, to send it the first)", webhook.url, model)


def serve(config_dir: Path, settings: ServeConfig) -> None:
    """Run the server until it is stopped (Ctrl-C, SIGTERM), on ``settings``' address.

    With ``serve.webhook``, first subscribe to the registry's events; if the
    tracking server refuses, say so and follow ``@live`` by polling only.

    Raises:
        ConfigError: before listening, if the keys are wrong or missing where needed
            (:func:`~taxonomist.serve.auth.access_for`), or the webhook's secret is.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    access_for(settings)  # refused here, before uvicorn starts workers that would fail
    os.environ[CONFIG_DIR_ENV] = str(config_dir)  # for the workers uvicorn starts
    if settings.webhook is not None:
        _subscribe_or_poll(settings.webhook, settings.poll_interval_s)
    for key in ("host", "port", "workers"):  # the flags, so workers see the same settings
        os.environ[f"{ENV_PREFIX}{key.upper()}"] = str(getattr(settings, key))
    with _shared_metrics(settings.workers):
        uvicorn.run(f"{__name__}:app_from_conf", factory=True, host=settings.host,
                    port=settings.port, workers=settings.workers, log_level="info")


def _subscribe_or_poll(webhook: WebhookConfig, poll_interval_s: float) -> None:
    try:
        subscribe_from_conf(webhook)
    except SubscriptionError as err:
        log.warning("%s\nfollowing @live by polling only, every %g s", err, poll_interval_s)


@contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, a fresh folder for their metrics, removed at the end.

    Set before uvicorn starts the workers, which inherit it; one set by the user is
    used as it is (prometheus-client asks for it to be emptied between runs).
    """
    if workers == 1 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="taxonomist-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_ENV]
        shutil.rmtree(folder, ignore_errors=True)
