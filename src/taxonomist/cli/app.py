"""The ``taxonomist`` parser, each verb added by its own module, and :func:`main`."""

from __future__ import annotations

import argparse
import os
import sys

from taxonomist import quiet
from taxonomist.cli.help import NODE_VERBS, document
from taxonomist.cli.labels import add_label_verb
from taxonomist.cli.pipeline import add_pipeline_verb
from taxonomist.cli.preview import add_augment_preview_verb
from taxonomist.cli.registry import add_registry_verbs
from taxonomist.cli.repro import add_repro_verb
from taxonomist.cli.serve import add_serve_verb
from taxonomist.cli.stages import add_stage_verbs
from taxonomist.cli.sweep import add_sweep_verb
from taxonomist.config import compose_config
from taxonomist.config.compose import CONFIG_DIR_ENV
from taxonomist.config.paths import find_project_root
from taxonomist.errors import TaxonomistError


def main(argv: list[str] | None = None) -> int:
    """Run ``taxonomist ARGV``; the exit code (2 for an error a person can fix).

    Example:
        >>> main(["pipeline", "--check"])
        params.yaml, params/*.json and dvc.yaml are up to date with conf/
        0
    """
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_nodes_for_help(argv)).parse_args(argv)
    quiet.setup(args.verbose)
    try:
        _locate_project(args)
        return args.run(args) or 0
    except TaxonomistError as err:
        prog = f"taxonomist {args.verb}"
        # an error that names the verb as its source would read "taxonomist sweep" twice
        print(f"{prog}: error: {str(err).removeprefix(f'{prog}: ')}", file=sys.stderr)
        return 2


def _locate_project(args: argparse.Namespace) -> None:
    """The project root, found as git finds its own, so a verb works from any folder in it
    (and with ``--config-dir`` from anywhere) and writes nothing outside it."""
    args.root = find_project_root(args.config_dir)
    if not (args.config_dir or os.environ.get(CONFIG_DIR_ENV)):
        args.config_dir = str(args.root / "conf")


def _nodes_for_help(argv: list[str]) -> list[str] | None:
    """The taxonomy's inner nodes, read only for the help of a verb that takes one."""
    if not ({"-h", "--help"} & set(argv) and set(NODE_VERBS) & set(argv)):
        return None
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config-dir")
    try:
        config_dir = early.parse_known_args(argv)[0].config_dir
        conf = config_dir or find_project_root() / "conf"
        return list(compose_config(conf).taxonomy.inner_nodes)
    except TaxonomistError:
        return None


def build_parser(nodes: list[str] | None = None) -> argparse.ArgumentParser:
    """The `taxonomist` parser; NODES, when known, are listed in the node verbs' help."""
    parser = argparse.ArgumentParser(prog="taxonomist")
    parser.add_argument(
        "--config-dir", metavar="DIR",
        help="the project's conf/ folder (default: conf/ of the nearest folder, from here "
        f"up, that has one; or ${CONFIG_DIR_ENV})",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="also show the notices of the libraries underneath (Lightning, MLflow, torch), "
        f"here and in the stages this starts; or ${quiet.VERBOSE_ENV}=1",
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    add_pipeline_verb(verbs)
    add_stage_verbs(verbs)
    add_registry_verbs(verbs)
    add_label_verb(verbs)
    add_augment_preview_verb(verbs)
    add_sweep_verb(verbs)
    add_serve_verb(verbs)
    add_repro_verb(verbs, main)
    document(parser, nodes)
    return parser
