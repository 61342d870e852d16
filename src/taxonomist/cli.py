"""``taxonomist <verb>``: parse, compose the config, call one stage function.

Every stage verb first checks that the generated params and dvc.yaml still match conf/, so
`dvc repro` never runs a stage with parameters older than the YAML a person edited.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from taxonomist.cli_help import NODE_VERBS, document
from taxonomist.config import Config, Paths, compose_config
from taxonomist.config.compose import CONFIG_DIR_ENV
from taxonomist.config.paths import find_project_root
from taxonomist.errors import DataError, TaxonomistError

# Quiet, offline-friendly defaults for the tools we drive; the environment wins.
TOOL_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def main(argv: list[str] | None = None) -> int:
    for key, value in TOOL_ENV.items():
        os.environ.setdefault(key, value)
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_nodes_for_help(argv)).parse_args(argv)
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
    verbs = parser.add_subparsers(dest="verb", required=True)
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
    for verb, helptext, stage in (
        ("sample", "write the bundled digits as PNGs + manifest", _sample),
        ("ingest", "check and store images, write data/manifest.parquet", _ingest),
        ("detect", "find the object in each image (detect.enabled): boxes to crop to",
         _detect),
        ("split", "grouped, stratified train/val/test (test frozen)", _split),
        ("validate", "great-expectations checks on the manifest and splits", _validate),
        ("cache", "decode and resize each node's images once, at its image_size", _cache),
        ("stack", "compose, test and register the stack", _stack),
        ("promote", "challenger vs live; move @live or flag for a human", _promote),
        ("baseline", "a flat network and an SVC on the stack's test split", _baseline),
        ("report", "write the model card", _report),
        ("notify", "send the decision to the configured notifier", _notify),
    ):
        verbs.add_parser(verb, help=helptext).set_defaults(run=_staged(stage))
    for verb, helptext, stage in (
        ("train", "train one node's classifier", _train),
        ("evaluate", "evaluate one node's classifier on the test split", _evaluate),
    ):
        sub = verbs.add_parser(verb, help=helptext)
        sub.add_argument("node", help="an inner node of the taxonomy")
        sub.set_defaults(run=_staged(stage))
    _add_registry_verbs(verbs)
    _add_label_verb(verbs)
    _add_augment_preview_verb(verbs)
    _add_sweep_verb(verbs)
    _add_serve_verb(verbs)
    _add_repro_verb(verbs)
    document(parser, nodes)
    return parser


def _staged(stage: Callable[[Config, Paths, argparse.Namespace], int | None]):
    """Wrap a stage: compose, refuse stale params.yaml, then run, failing if one of the
    stage's inputs changed meanwhile (nothing is recorded for data it never saw)."""

    def run(args: argparse.Namespace) -> int | None:
        from taxonomist.contracts.inputs import stage_deps, unchanged_inputs
        from taxonomist.pipeline import check_current, dvc_yaml

        config = compose_config(args.config_dir)
        paths = _paths(args)
        if getattr(args, "node", None) is not None:  # a typo first, not stale params
            _require_node(config, args)
        check_current(config, paths)
        name = args.verb + (f"@{args.node}" if getattr(args, "node", None) else "")
        with unchanged_inputs(paths.root, name, stage_deps(dvc_yaml(config), name)):
            return stage(config, paths, args)

    return run


def _paths(args: argparse.Namespace) -> Paths:
    return Paths(args.root)


def _require_node(config: Config, args: argparse.Namespace) -> None:
    """A NODE that is no inner node is a mistake on the command line: say so, list them."""
    config.require_inner_node(args.node, source="argument NODE")


def _pipeline(args: argparse.Namespace) -> int:
    """Compose conf/ with the recorded overrides updated by the given ones; check or write.

    Without ``--check`` the merged overrides are recorded in conf/overrides.yaml, then
    params.yaml and dvc.yaml are written from conf/ with them.
    """
    from taxonomist import pipeline
    from taxonomist.config import overrides as recorded
    from taxonomist.config import resolve_config_dir

    conf = resolve_config_dir(args.config_dir)
    change = recorded.merge_overrides(
        conf, recorded.read_recorded(conf), args.overrides, reset=args.reset
    )
    config = compose_config(conf, change.result, recorded=False)
    paths = _paths(args)
    _check_stage_settings(config, paths)
    for line in change.describe(_shown(recorded.record_path(conf), paths)):
        print(line)
    if args.check:
        diff = pipeline.diff_generated(config, paths)
        if diff:
            print(diff + "\nthe generated files are stale: run `taxonomist pipeline`.")
            return 1
        print("params.yaml, params/*.json and dvc.yaml are up to date with conf/")
        return 0
    changed = pipeline.write(config, paths)
    if recorded.write_recorded(conf, change.result):
        changed.insert(0, recorded.record_path(conf))
    wrote = ", ".join(_shown(p, paths) for p in changed)
    print(f"wrote {wrote}" if changed else "already up to date")
    return 0


def _shown(path: Path, paths: Paths) -> str:
    """``path`` as a person in the project root would type it."""
    return str(path.relative_to(paths.root)) if path.is_relative_to(paths.root) else str(path)


def _check_stage_settings(config: Config, paths: Paths) -> None:
    """Settings only a stage's own code can judge: fail now, not an hour into `dvc repro`.

    Raises:
        ConfigError: an unknown augmentation or argument, an image format Pillow lacks,
            a data.path_pattern that is no regex with a label group, or a
            data.label_precedence that names no source or one twice.
    """
    from taxonomist.data import ImagePolicy, Precedence
    from taxonomist.data.sources import Listing
    from taxonomist.train.augment import build_augmentation

    ImagePolicy.from_config(config.project.data)
    Precedence.from_config(config.project.data)
    Listing.from_config(config.project.data)
    if config.project.detect.enabled:
        from taxonomist.data.detector import DetectSettings

        DetectSettings.from_config(config.project.detect, config.taxonomy, paths.root)
    for node, cfg in config.classifiers.items():
        source = paths.classifier_source(node, config.project.classifier_dir)
        build_augmentation(cfg.augment, source)


def _sample(config: Config, paths: Paths, args) -> None:
    from taxonomist.data import write_sample

    out = paths.root / config.project.data.root
    count = write_sample(config.project.data, config.project.seed, out, config.taxonomy)
    print(f"wrote {count} sample images and {config.project.data.manifest} to {out}")


def _ingest(config: Config, paths: Paths, args) -> None:
    from taxonomist.data import ImagePolicy, Precedence, create_source, ingest

    data = config.project.data
    policy, precedence = ImagePolicy.from_config(data), Precedence.from_config(data)
    result = ingest(create_source(data, paths.root), config.taxonomy, paths, policy,
                    precedence)
    print(result.summary())


def _detect(config: Config, paths: Paths, args) -> None:
    from taxonomist.data.detect import detect
    from taxonomist.data.detector import DetectSettings

    if not config.project.detect.enabled:
        print("detect: detect.enabled is false in conf/config.yaml; nothing to do")
        return
    settings = DetectSettings.from_config(config.project.detect, config.taxonomy, paths.root)
    print(f"{detect(settings, paths).summary()}; review list: {_shown(paths.detect_review, paths)}")


def _detections(config: Config, paths: Paths) -> Path | None:
    """The detect stage's output when it runs: split, validate and cache join it on."""
    return paths.detections if config.project.detect.enabled else None


def _validate(config: Config, paths: Paths, args) -> int:
    from taxonomist.checks import read_inputs, validate

    found = read_inputs(paths, _detections(config, paths))
    report = validate(
        found.manifest, found.splits, config.taxonomy, config.classifiers, paths.validation,
        rejects=found.rejects, max_distance=config.project.split.near_duplicate_distance,
        docs_dir=paths.data_docs, conf=paths.conf, classifier_dir=config.project.classifier_dir,
    )
    print(report.summary())
    return 0 if report.success else 1


def _split(config: Config, paths: Paths, args) -> None:
    from taxonomist.data import split

    split(config.project.split, config.project.seed, paths, _detections(config, paths))


def _cache(config: Config, paths: Paths, args) -> None:
    from taxonomist.contracts.detections import DetectedBoxes
    from taxonomist.data import build_cache

    sizes = {node: cfg.image_size for node, cfg in config.classifiers.items()}
    detections = _detections(config, paths)
    detected = DetectedBoxes(detections, config.project.detect.margin) if detections else None
    result = build_cache(config.taxonomy, sizes, paths, detected)
    print(f"{result.summary()}, in {paths.cache}/<node>/")


def _train(config: Config, paths: Paths, args) -> None:
    from taxonomist.train.fit import train_node

    result = train_node(args.node, config, paths)
    print(
        f"{args.node}: best val_loss {result.best_val_loss:.4f} after {result.epochs} epochs; "
        f"registered {result.registered_model} v{result.version} (run {result.run_id})"
    )


def _evaluate(config: Config, paths: Paths, args) -> None:
    from taxonomist.evaluate.node import evaluate_node

    metrics = evaluate_node(args.node, config, paths)
    print(f"{args.node}: test accuracy {metrics['accuracy']:.4f}, "
          f"macro F1 {metrics['macro_f1']:.4f} on {metrics['n_test']} images")


def _stack(config: Config, paths: Paths, args) -> None:
    from taxonomist.contracts.metrics import StackMetrics
    from taxonomist.stack.build import build_stack

    version = build_stack(config, paths)
    metrics = StackMetrics.read(paths.stack_metrics)
    print(f"stack {version.name} v{version.version}: leaf accuracy "
          f"{metrics.leaf_accuracy:.4f}, hierarchical F1 {metrics.hierarchical_f1:.4f}, "
          f"distance@1 {metrics.distance_at_1:.4f}, coverage {metrics.coverage:.4f}")


def _promote(config: Config, paths: Paths, args) -> None:
    from taxonomist.promote import promote

    record = promote(config, paths)
    live = f"v{record.live_after}" if record.live_after else "nothing"
    print(f"{record.registered_model} v{record.challenger.version}: "
          f"{record.verdict.decision} ({record.verdict.reason}); live is {live}")


def _baseline(config: Config, paths: Paths, args) -> None:
    from taxonomist.evaluate.baselines import run_baselines

    for score in run_baselines(config, paths):
        print(f"baseline {score.name}: leaf accuracy {score.leaf_accuracy:.4f}, "
              f"macro F1 {score.macro_f1:.4f}")


def _report(config: Config, paths: Paths, args) -> None:
    from taxonomist.report import report

    report(config, paths)
    print(f"model card: {paths.model_card}")


def _notify(config: Config, paths: Paths, args) -> None:
    """Send the decision to every configured channel (see :func:`taxonomist.notify.notify`)."""
    from taxonomist.notify import channel_names, notify

    notification = notify(config, paths)
    channels = ", ".join(channel_names(config.project.notify))
    print(f"notified ({channels}): {notification.title}")


def _add_registry_verbs(verbs) -> None:
    """rollback, history and ``report --markdown``: they read or move @live, not DVC stages,
    so they run whatever the state of params.yaml (no stale-params check)."""
    rollback = verbs.add_parser("rollback", help="move @live back and tell people why")
    rollback.add_argument("--to", metavar="VERSION", help="default: the previous live version")
    rollback.add_argument("--reason", required=True, help="why, for the history and the message")
    rollback.set_defaults(run=_rollback)
    verbs.add_parser("history", help="the versions that held @live: who, when, why").set_defaults(
        run=_history
    )
    report = verbs.choices["report"]
    report.add_argument(
        "--markdown", action="store_true",
        help="print a Markdown summary for a pull request instead (writes nothing)",
    )
    report.set_defaults(run=_markdown_or(report.get_default("run")))


def _rollback(args: argparse.Namespace) -> None:
    from taxonomist.rollback import announce_rollback, roll_back_live

    config, paths = compose_config(args.config_dir), _paths(args)
    rolled = roll_back_live(config, paths, to=args.to, reason=args.reason)
    came_from = f"from v{rolled.event.previous} " if rolled.event.previous else ""
    print(f"{rolled.model}: @live moved {came_from}back to v{rolled.event.version}")
    if rolled.card_note:
        print(f"note: {rolled.card_note}")
    notification = announce_rollback(config, paths, rolled)
    print(f"notified: {notification.title}")


def _history(args: argparse.Namespace) -> None:
    from taxonomist.report.history import format_history, history_rows
    from taxonomist.tracking.client import client_for
    from taxonomist.tracking.names import stack_model_name

    config, paths = compose_config(args.config_dir), _paths(args)
    client, name = client_for(config.project.mlflow, paths), stack_model_name(config.taxonomy.name)
    metric = config.project.promotion.metric
    print(format_history(name, history_rows(client, name, metric), metric))


def _markdown_or(staged: Callable[[argparse.Namespace], int | None]):
    def run(args: argparse.Namespace) -> int | None:
        if not args.markdown:
            return staged(args)
        from taxonomist.report.markdown import markdown_summary

        config = compose_config(args.config_dir)
        print(markdown_summary(_paths(args), config.taxonomy), end="")
        return 0

    return run


def _add_label_verb(verbs) -> None:
    """Not DVC stages: they read the manifest and write labels/, which ingest reads."""
    label = verbs.add_parser("label", help="labels over time, and the crowd round trip")
    actions = label.add_subparsers(dest="action", required=True, metavar="ACTION")
    history = actions.add_parser("history", help="every value one image had, oldest first")
    history.add_argument("image", metavar="IMAGE_OR_PATH",
                         help="its sha256 id, the first digits of it, or its path")
    history.set_defaults(run=_label_history)
    export = actions.add_parser("export", help="a batch of one node's images to label")
    export.add_argument("node", nargs="?", help="an inner node of the taxonomy")
    export.add_argument("--n", type=int, default=100, help="how many images (default 100)")
    export.add_argument("--strategy", choices=["random", "balanced", "uncertain"],
                        default="random",
                        help="random, balanced across the current labels, or uncertain: "
                        "those the live stack is least sure of at NODE")
    export.add_argument("--refresh", metavar="BATCH",
                        help="new presigned URLs for an exported batch instead")
    export.set_defaults(run=_label_export)
    imported = actions.add_parser("import", help="a batch's answers, aggregated (crowd-kit)")
    imported.add_argument("file", type=Path, metavar="FILE",
                          help="a Mechanical Turk results .csv or a Label Studio .json export")
    imported.set_defaults(run=_label_import)
    apply = actions.add_parser("apply", help="the expert's decisions (a CSV)")
    apply.add_argument("file", type=Path, metavar="DECISIONS_CSV",
                       help="columns image, label and optionally excluded")
    apply.set_defaults(run=_label_apply)
    queue = actions.add_parser("queue", help="the expert's page: disputed images, ranked")
    queue.add_argument("--node", help="only the images under this inner node (default: all)")
    queue.add_argument("--limit", type=int, default=200,
                       help="the most disputed images to show (default 200)")
    queue.set_defaults(run=_label_queue)


_NEXT_INGEST = "next: dvc repro (ingest applies it; only the nodes it touches retrain)"


def _label_export(args: argparse.Namespace) -> None:
    from taxonomist.data import create_source
    from taxonomist.data.manifest import read_manifest
    from taxonomist.labels.batch import Batch, Pick, export_batch, write_links
    from taxonomist.labels.live import node_confidence, require_live

    config, paths = compose_config(args.config_dir), _paths(args)
    source = create_source(config.project.data, paths.root)
    if args.refresh:
        batch = Batch.read(paths.label_batches, args.refresh, "--refresh")
        write_links(batch, batch.tasks(paths.label_batches), source, paths.label_batches)
        print(f"batch {batch.batch}: new image URLs in {paths.label_batches / batch.batch}")
        return
    if args.node is None:
        raise DataError("give NODE (the node whose images to label), or --refresh BATCH")
    config.require_inner_node(args.node, source="argument NODE")
    strategy = Pick(args.strategy)
    confidence = ranked_by = None
    if strategy is Pick.uncertain:  # before anything is written: refused without @live
        stack = require_live(config.project.mlflow, config.taxonomy.name, paths,
                             "--strategy uncertain")
        confidence = partial(node_confidence, stack, node=args.node, root=paths.root)
        ranked_by = stack.title
    batch = export_batch(read_manifest(paths.manifest), args.node, args.n, strategy,
                         config.taxonomy, source, paths.label_batches,
                         config.project.crowd.url_ttl_s, config.project.seed, confidence,
                         ranked_by)
    folder = _shown(paths.label_batches / batch.batch, paths)
    print(f"batch {batch.batch}: {len(batch.tasks(paths.label_batches))} images of "
          f"{args.node} in {folder}/ (mturk_input.csv, label_studio_tasks.json)")


def _label_import(args: argparse.Namespace) -> None:
    from taxonomist.labels.crowd import import_answers

    config, paths = compose_config(args.config_dir), _paths(args)
    method = config.project.crowd.aggregation
    print(import_answers(args.file, paths, method).summary(args.file, method))
    print(f"wrote {_shown(paths.labels / 'crowd.csv', paths)}; {_NEXT_INGEST}")


def _label_apply(args: argparse.Namespace) -> None:
    from taxonomist.data.manifest import read_manifest
    from taxonomist.labels.decisions import apply_decisions

    config, paths = compose_config(args.config_dir), _paths(args)
    count = apply_decisions(args.file, read_manifest(paths.manifest), config.taxonomy, paths)
    print(f"{count} decisions in {_shown(paths.labels / 'expert.csv', paths)}; {_NEXT_INGEST}")


def _label_queue(args: argparse.Namespace) -> None:
    from taxonomist.data.images import ImagePolicy
    from taxonomist.data.manifest import read_manifest
    from taxonomist.labels.live import load_live
    from taxonomist.labels.queue_page import apply_command, label_queue, write_queue

    config, paths = compose_config(args.config_dir), _paths(args)
    node = args.node or config.taxonomy.root
    config.require_inner_node(node, source="--node")
    if args.limit < 1:
        raise DataError(f"--limit: expected a positive number of images, got {args.limit}")
    stack = load_live(config.project.mlflow, config.taxonomy.name, paths)
    page = label_queue(read_manifest(paths.manifest), node, config.taxonomy, paths, stack,
                       args.limit)
    write_queue(page, paths, ImagePolicy.from_config(config.project.data))
    print(f"{len(page.rows)} of {page.total} queued images in "
          f"{_shown(paths.label_queue, paths)} (guessed by {page.stack or 'no live stack'}); "
          f"decide in {_shown(paths.label_decisions, paths)}, then: {apply_command(paths)}")


def _label_history(args: argparse.Namespace) -> None:
    from taxonomist.data.history import describe_history, find_image, read_history
    from taxonomist.data.manifest import read_manifest

    paths = _paths(args)
    where = _shown(paths.manifest, paths)
    image = find_image(args.image, read_manifest(paths.manifest), where)
    print(describe_history(image, read_history(paths.label_history)))


def _add_augment_preview_verb(verbs) -> None:
    """Not a DVC stage: it reads the cache and writes a picture, so no stale-params check."""
    preview = verbs.add_parser(
        "augment-preview", help="write a PNG grid of one node's augmented training images"
    )
    preview.add_argument("node", help="an inner node of the taxonomy")
    preview.add_argument("--n", type=int, default=32, help="how many images (default 32)")
    preview.add_argument("--out", type=Path, help="default: reports/augment/NODE.png")
    preview.set_defaults(run=_augment_preview)


def _augment_preview(args: argparse.Namespace) -> None:
    config, paths = compose_config(args.config_dir), _paths(args)
    _require_node(config, args)
    from taxonomist.train.preview import augment_preview

    out = augment_preview(args.node, config, paths, args.n, args.out)
    print(f"{args.node}: augmented training images in {out}")


def _add_sweep_verb(verbs) -> None:
    """Not a DVC stage: trials publish nothing; ``--apply`` edits conf/, like a person."""
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

    config, paths = compose_config(args.config_dir, args.project_overrides), _paths(args)
    _require_node(config, args)  # typos first: the sweep's imports take seconds
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


def _add_repro_verb(verbs) -> None:
    """Not a stage: it runs the stages, as ``dvc repro`` does, and records them in dvc.lock."""
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
    repro.set_defaults(run=_repro)


def _repro(args: argparse.Namespace) -> None:
    from taxonomist.config import resolve_config_dir
    from taxonomist.runner import load_runner_config, reproduce

    config_dir = resolve_config_dir(args.config_dir)
    config = load_runner_config(config_dir, args.runner)
    result = reproduce(args.root, args.targets, config, args.jobs, main, config_dir=config_dir)
    print(f"ran {len(result.ran)}, restored {len(result.restored)} from the run-cache, "
          f"{len(result.skipped)} unchanged; dvc.lock is up to date")


def _add_serve_verb(verbs) -> None:
    """Not a DVC stage: it serves whatever holds @live, so no stale-params check."""
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


if __name__ == "__main__":
    sys.exit(main())
