"""``taxonomist serve``: not a DVC stage; it serves whatever holds @live, so no
stale-params check."""

from __future__ import annotations

import argparse

from taxonomist.config import compose_config


def add_serve_verb(verbs: argparse._SubParsersAction) -> None:
    serve = verbs.add_parser(
        "serve", help="HTTP API over the stack holding @live, following it",
        description="FastAPI on uvicorn: POST /v1/predict, GET /health, GET /metrics, "
        "docs at /docs. Defaults come from conf/serve.yaml.",
    )
    serve.add_argument("--host", help="address to listen on (e.g. 0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, help="port to listen on")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> None:
    from taxonomist.config import resolve_config_dir
    from taxonomist.serve.server import serve
    from taxonomist.serve.settings import load_serve_config

    config_dir = resolve_config_dir(args.config_dir)
    compose_config(config_dir)  # a broken conf/ fails here, before uvicorn starts
    settings = load_serve_config(config_dir).with_overrides(
        host=args.host, port=args.port, workers=args.workers
    )
    serve(config_dir, settings)
