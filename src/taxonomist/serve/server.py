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
    load_serve_config,
    torch_threads,
)
from taxonomist.tracking.client import client_for
from taxonomist.tracking.names import stack_model_name


def build_app(config: Config, paths: Paths, settings: ServeConfig) -> FastAPI:
    """The API over ``<taxonomy>.stack@live`` in the project's registry.

    Images are held to ingest's policy (``data.formats``, ``data.max_pixels``); callers
    to the keys :func:`~taxonomist.serve.auth.access_for` finds.

    Raises:
        ConfigError: no keys on an address other machines reach, or a bad keys file.
    """
    keys = access_for(settings)
    announce(settings, keys)
    follower, policy = worker_parts(config, paths, settings)
    return create_app(follower, settings, policy, keys)


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


def serve(config_dir: Path, settings: ServeConfig) -> None:
    """Run the server until it is stopped (Ctrl-C, SIGTERM), on ``settings``' address.

    Raises:
        ConfigError: before listening, if the keys are wrong or missing where needed
            (:func:`~taxonomist.serve.auth.access_for`).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    access_for(settings)  # refused here, before uvicorn starts workers that would fail
    os.environ[CONFIG_DIR_ENV] = str(config_dir)  # for the workers uvicorn starts
    for key in ("host", "port", "workers"):  # the flags, so workers see the same settings
        os.environ[f"{ENV_PREFIX}{key.upper()}"] = str(getattr(settings, key))
    with _shared_metrics(settings.workers):
        uvicorn.run(f"{__name__}:app_from_conf", factory=True, host=settings.host,
                    port=settings.port, workers=settings.workers, log_level="info")


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
