"""``taxonomist pipeline``: write (or ``--check``) params.yaml, params/*.json and dvc.yaml
from conf/, with the overrides recorded in conf/overrides.yaml updated by the given ones."""

from __future__ import annotations

import argparse

from taxonomist.cli.common import project_paths, shown
from taxonomist.config import compose_config


def add_pipeline_verb(verbs: argparse._SubParsersAction) -> None:
    pipeline = verbs.add_parser("pipeline",
                                help="write params.yaml, params/*.json and dvc.yaml from conf/")
    pipeline.add_argument("--check", action="store_true", help="exit 1 if they are stale")
    pipeline.add_argument("--reset", action="store_true",
                          help="drop the overrides recorded in conf/overrides.yaml")
    pipeline.add_argument(
        "overrides", nargs="*",
        help="Hydra overrides, e.g. trainer=gpu; recorded in conf/overrides.yaml, so every "
        "stage of `dvc repro` composes conf/ with them",
    )
    pipeline.set_defaults(run=_pipeline)


def _pipeline(args: argparse.Namespace) -> int:
    """Compose conf/ with the recorded overrides updated by the given ones, check the
    settings only the stages can judge (fail now, not an hour into `dvc repro`), then
    check or write the generated files."""
    from taxonomist import pipeline
    from taxonomist.config import overrides as recorded
    from taxonomist.config import resolve_config_dir
    from taxonomist.data.settings import check_data_settings
    from taxonomist.train.augment import check_augmentations

    conf = resolve_config_dir(args.config_dir)
    change = recorded.merge_overrides(
        conf, recorded.read_recorded(conf), args.overrides, reset=args.reset
    )
    config, paths = compose_config(conf, change.result, recorded=False), project_paths(args)
    check_data_settings(config, paths.root)
    check_augmentations(config, paths)
    for line in change.describe(shown(recorded.record_path(conf), paths)):
        print(line)
    if args.check:
        diff = pipeline.diff_generated(config, paths)
        if diff:
            print(diff + "\nthe generated files are stale: run `taxonomist pipeline`.")
            return 1
        print("params.yaml, params/*.json and dvc.yaml are up to date with conf/")
        return 0
    changed = pipeline.regenerate(config, paths, conf)
    wrote = ", ".join(shown(p, paths) for p in changed)
    print(f"wrote {wrote}" if changed else "already up to date")
    return 0
