"""What every verb's dispatch shares: the project's paths, and paths as a person types them."""

from __future__ import annotations

import argparse
from pathlib import Path

from taxonomist.config import Config, Paths, compose_config


def project_paths(args: argparse.Namespace) -> Paths:
    """The project's files, under the root :func:`taxonomist.cli.app.main` found."""
    return Paths(args.root)


def composed(args: argparse.Namespace) -> tuple[Config, Paths]:
    """conf/ composed (with the recorded overrides), and the project's paths."""
    return compose_config(args.config_dir), project_paths(args)


def require_node(config: Config, node: str) -> None:
    """A NODE that is no inner node is a mistake on the command line: say so, list them."""
    config.require_inner_node(node, source="argument NODE")


def shown(path: Path, paths: Paths) -> str:
    """``path`` as a person in the project root would type it."""
    return str(path.relative_to(paths.root)) if path.is_relative_to(paths.root) else str(path)
