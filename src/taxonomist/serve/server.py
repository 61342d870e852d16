"""``taxonomist serve``: build the app from ``conf/`` and run it on uvicorn.

uvicorn starts each of ``--workers`` processes by importing :func:`app_from_conf`, so
every worker composes ``conf/`` (found through ``$TAXONOMIST_CONFIG_DIR``, which
:func:`serve` sets) and follows ``@live`` on its own.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from taxonomist.config import Config, Paths, compose_config, resolve_config_dir
from taxonomist.config.compose import CONFIG_DIR_ENV
from taxonomist.data.images import ImagePolicy
from taxonomist.serve.app import create_app
from taxonomist.serve.live import LiveFollower
from taxonomist.serve.settings import ServeConfig, load_serve_config
from taxonomist.tracking.client import client_for
from taxonomist.tracking.names import stack_model_name


def build_app(config: Config, paths: Paths, settings: ServeConfig) -> FastAPI:
    """The API over ``<taxonomy>.stack@live`` in the project's registry.

    Images are held to ingest's policy (``data.formats``, ``data.max_pixels``).
    """
    client = client_for(config.project.mlflow, paths)
    follower = LiveFollower(client, stack_model_name(config.taxonomy.name),
                            settings.poll_interval_s)
    return create_app(follower, settings, ImagePolicy.from_config(config.project.data))


def app_from_conf() -> FastAPI:
    """uvicorn's factory: the app for ``$TAXONOMIST_CONFIG_DIR`` (else ``./conf``), run
    from the project root."""
    config_dir = resolve_config_dir()
    return build_app(compose_config(config_dir), Paths(Path.cwd()), load_serve_config(config_dir))


def serve(config_dir: Path, settings: ServeConfig) -> None:
    """Run the server until it is stopped (Ctrl-C, SIGTERM), on ``settings``' address."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ[CONFIG_DIR_ENV] = str(config_dir)  # for the workers uvicorn starts
    uvicorn.run(f"{__name__}:app_from_conf", factory=True, host=settings.host,
                port=settings.port, workers=settings.workers, log_level="info")
