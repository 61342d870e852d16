"""``taxonomist repro``: not a stage; it runs the stages, as ``dvc repro`` does, and
records them in dvc.lock."""

from __future__ import annotations

import argparse
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runner imports DVC: only `taxonomist repro` pays for it
    from taxonomist.runner.job import Entry


def add_repro_verb(verbs: argparse._SubParsersAction, entry: Entry) -> None:
    """``repro``; ``entry`` is the CLI's ``main``, which workers call to run a verb."""
    repro = verbs.add_parser(
        "repro", help="`dvc repro` with independent stages at once (local, Ray, SLURM)",
        description="Run the pipeline like `dvc repro`, independent stages (the nodes) at "
        "once, each recorded in dvc.lock as it ends: a plain `dvc status` after it sees "
        "nothing to do. Where stages run: conf/runner/RUNNER.yaml.",
    )
    repro.add_argument("targets", nargs="*", help="stages or dvc.yaml files (default: all)")
    repro.add_argument("-j", "--jobs", type=int, help="stages at once (default: the runner's)")
    repro.add_argument("--runner", default="local",
                       help="conf/runner/RUNNER.yaml: local (default), ray, slurm")
    repro.set_defaults(run=partial(_repro, entry=entry))


def _repro(args: argparse.Namespace, entry: Entry) -> None:
    from taxonomist.config import resolve_config_dir
    from taxonomist.runner import load_runner_config, reproduce

    config_dir = resolve_config_dir(args.config_dir)
    config = load_runner_config(config_dir, args.runner)
    result = reproduce(args.root, args.targets, config, args.jobs, entry, config_dir=config_dir)
    print(f"ran {len(result.ran)}, restored {len(result.restored)} from the run-cache, "
          f"{len(result.skipped)} unchanged; dvc.lock is up to date")
