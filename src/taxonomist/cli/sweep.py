"""``taxonomist sweep``: not a DVC stage; trials publish nothing, and ``--apply`` edits
conf/, as a person would."""

from __future__ import annotations

import argparse
from pathlib import Path

from taxonomist.cli.common import project_paths, require_node
from taxonomist.config import Config, compose_config


def add_sweep_verb(verbs: argparse._SubParsersAction) -> None:
    sweep = verbs.add_parser(
        "sweep", help="Hydra multirun over one node's classifier definition",
        description="Train NODE once per combination (or Optuna trial) of the overrides, "
        "each a child of one MLflow run, and rank them. Options go before NODE or after "
        "the overrides.",
    )
    sweep.add_argument("node", help="an inner node of the taxonomy")
    sweep.add_argument(
        "overrides", nargs="*",
        help="keys of the node's definition, e.g. optim.lr=1e-3,3e-4 backbone.name=a,b, "
        "and Hydra's own, e.g. hydra/sweeper=optuna hydra.sweeper.n_trials=20",
    )
    sweep.add_argument("-m", "--multirun", action="store_true",
                       help="accepted out of Hydra habit: a sweep is always a multirun")
    sweep.add_argument("--metric", choices=["val_loss", "val_acc"], default="val_loss",
                       help="what ranks the trials: the best epoch's value (default val_loss)")
    sweep.add_argument("--apply", action="store_true",
                       help="write the winner's values into the node's own NODE.yaml")
    sweep.add_argument("--with", dest="project_overrides", action="append", default=[],
                       metavar="OVERRIDE",
                       help="a project override for every trial, e.g. --with trainer=gpu")
    sweep.set_defaults(run=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from taxonomist.config import resolve_config_dir

    config = compose_config(args.config_dir, args.project_overrides)
    paths = project_paths(args)
    require_node(config, args.node)  # typos first: the sweep's imports take seconds
    from taxonomist.sweep.overrides import parse_overrides

    parse_overrides(args.overrides, config.classifiers[args.node])
    from taxonomist.sweep import Objective, format_table, run_sweep

    config_dir, objective = resolve_config_dir(args.config_dir), Objective(args.metric)
    result = run_sweep(args.node, args.overrides, config, paths, config_dir, objective)
    if result.parent_run_id is not None:
        print(f"\nsweep {args.node}: {len(result.trials)} trials finished, MLflow parent "
              f"run {result.parent_run_id}")
    if result.trials:
        print(format_table(result.trials, objective))
    if result.error is not None:
        raise result.error
    if args.apply and result.winner is not None:
        _apply_winner(args.node, result.winning_values(), config, config_dir)
    return 0


def _apply_winner(node: str, values: dict, config: Config, config_dir: Path) -> None:
    from taxonomist.sweep import apply_values

    target = config_dir / config.project.classifier_dir / f"{node}.yaml"
    changes = apply_values(target, node, values, config.classifiers[node])
    if not changes:
        print(f"the current definition of {node} won: {target} is unchanged")
        return
    print(f"wrote {target}:")
    for change in changes:
        print(f"  {change}")
    print("next: taxonomist pipeline && dvc repro  (retrains this node only)")
