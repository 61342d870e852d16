"""``taxonomist serve``: not a DVC stage; it serves whatever holds @live, so no
stale-params check."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from taxonomist.config import compose_config

if TYPE_CHECKING:
    from taxonomist.serve.settings import ServeConfig


def add_serve_verb(verbs: argparse._SubParsersAction) -> None:
    serve = verbs.add_parser(
        "serve", help="HTTP API over the stack holding @live, following it",
        description="FastAPI on uvicorn: POST /v1/predict, GET /health, GET /metrics, "
        "docs at /docs. Defaults come from conf/serve.yaml.",
    )
    serve.add_argument("--host", help="address to listen on (e.g. 0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, help="port to listen on")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes")
    serve.add_argument("--subscribe", action="store_true",
                       help="subscribe serve.webhook.url to MLflow's registry events and exit: "
                       "run once as an MLflow admin where webhooks are admin-only "
                       "(basic-auth), then serve as a reader")
    serve.set_defaults(run=_serve)
    key = verbs.add_parser(
        "api-key", help="make an API key for taxonomist serve, and its keys-file entry",
        description="Prints the key (hand it to its client once; it is stored nowhere), "
        "then the entry to add to the keys file (serve.keys_file): its SHA-256, routes "
        "and rate.",
    )
    key.add_argument("name", help="who the key is for (letters, digits, '.', '_', '-')")
    key.add_argument("--routes", default="predict",
                     help="comma-separated: predict, metrics (default: predict)")
    key.add_argument("--rate", help="its own rate limit, e.g. 100/minute "
                     "(default: serve.rate_limit)")
    key.set_defaults(run=_api_key)


def _serve(args: argparse.Namespace) -> None:
    from taxonomist.config import resolve_config_dir
    from taxonomist.serve.server import serve
    from taxonomist.serve.settings import load_serve_config

    config_dir = resolve_config_dir(args.config_dir)
    compose_config(config_dir)  # a broken conf/ fails here, before uvicorn starts
    settings = load_serve_config(config_dir).with_overrides(
        host=args.host, port=args.port, workers=args.workers
    )
    if args.subscribe:
        _subscribe_once(config_dir, settings)
        return
    serve(config_dir, settings)


def _subscribe_once(config_dir: Path, settings: ServeConfig) -> None:
    from taxonomist.config.compose import CONFIG_DIR_ENV
    from taxonomist.errors import ConfigError
    from taxonomist.serve.server import subscribe_from_conf

    if settings.webhook is None:
        raise ConfigError("conf/serve.yaml", "webhook", "--subscribe needs serve.webhook, "
                          "which is not set", "add webhook: {url: https://<this server>"
                          "/hooks/mlflow} (docs/security.md)")
    os.environ[CONFIG_DIR_ENV] = str(config_dir)
    subscribe_from_conf(settings.webhook)
    print(f"subscribed {settings.webhook.url} to the registry's events")


def _api_key(args: argparse.Namespace) -> None:
    from taxonomist.serve.auth import make_key

    made = make_key(args.name, [r.strip() for r in args.routes.split(",") if r.strip()],
                    args.rate)
    print(made.key)
    print(made.entry, end="")
