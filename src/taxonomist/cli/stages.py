"""The verbs `dvc repro` runs, one per stage of dvc.yaml: compose, check, call the stage.

Every stage verb first checks that the generated params and dvc.yaml still match conf/, so
`dvc repro` never runs a stage with parameters older than the YAML a person edited. Warm
workers of ``taxonomist repro`` import this module once (``runner.backends.PRELOAD``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from taxonomist.cli.common import project_paths, require_node, shown
from taxonomist.config import Config, Paths, compose_config

Stage = Callable[[Config, Paths, argparse.Namespace], int | None]


def add_stage_verbs(verbs: argparse._SubParsersAction) -> None:
    """One verb per stage of dvc.yaml; ``train`` and ``evaluate`` take a NODE."""
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
        verbs.add_parser(verb, help=helptext).set_defaults(run=staged(stage))
    for verb, helptext, stage in (
        ("train", "train one node's classifier", _train),
        ("evaluate", "evaluate one node's classifier on the test split", _evaluate),
    ):
        sub = verbs.add_parser(verb, help=helptext)
        sub.add_argument("node", help="an inner node of the taxonomy")
        sub.set_defaults(run=staged(stage))


def staged(stage: Stage) -> Callable[[argparse.Namespace], int | None]:
    """Wrap a stage: compose, refuse stale params.yaml, then run, failing if one of the
    stage's inputs changed meanwhile (nothing is recorded for data it never saw)."""

    def run(args: argparse.Namespace) -> int | None:
        from taxonomist.contracts.inputs import stage_deps, unchanged_inputs
        from taxonomist.pipeline import check_current, dvc_yaml

        config = compose_config(args.config_dir)
        paths = project_paths(args)
        node = getattr(args, "node", None)
        if node is not None:  # a typo first, not stale params
            require_node(config, node)
        check_current(config, paths)
        name = args.verb + (f"@{node}" if node else "")
        with unchanged_inputs(paths.root, name, stage_deps(dvc_yaml(config), name)):
            return stage(config, paths, args)

    return run


def _sample(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.data import write_sample

    out = paths.root / config.project.data.root
    count = write_sample(config.project.data, config.project.seed, out, config.taxonomy)
    print(f"wrote {count} sample images and {config.project.data.manifest} to {out}")


def _ingest(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.data import ImagePolicy, Precedence, create_source, ingest

    data = config.project.data
    policy, precedence = ImagePolicy.from_config(data), Precedence.from_config(data)
    result = ingest(create_source(data, paths.root), config.taxonomy, paths, policy,
                    precedence)
    print(result.summary())


def _detect(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.data.detect import detect
    from taxonomist.data.detector import DetectSettings

    if not config.project.detect.enabled:
        print("detect: detect.enabled is false in conf/config.yaml; nothing to do")
        return
    settings = DetectSettings.from_config(config.project.detect, config.taxonomy, paths.root)
    print(f"{detect(settings, paths).summary()}; review list: {shown(paths.detect_review, paths)}")


def _detections(config: Config, paths: Paths) -> Path | None:
    """The detect stage's output when it runs: split, validate and cache join it on."""
    return paths.detections if config.project.detect.enabled else None


def _validate(config: Config, paths: Paths, args: argparse.Namespace) -> int:
    from taxonomist.checks import read_inputs, validate

    found = read_inputs(paths, _detections(config, paths))
    report = validate(
        found.manifest, found.splits, config.taxonomy, config.classifiers, paths.validation,
        rejects=found.rejects, max_distance=config.project.split.near_duplicate_distance,
        docs_dir=paths.data_docs, conf=paths.conf, classifier_dir=config.project.classifier_dir,
    )
    print(report.summary())
    return 0 if report.success else 1


def _split(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.data import split

    split(config.project.split, config.project.seed, paths, _detections(config, paths))


def _cache(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.contracts.detections import DetectedBoxes
    from taxonomist.data import build_cache

    sizes = {node: cfg.image_size for node, cfg in config.classifiers.items()}
    detections = _detections(config, paths)
    detected = DetectedBoxes(detections, config.project.detect.margin) if detections else None
    result = build_cache(config.taxonomy, sizes, paths, detected)
    print(f"{result.summary()}, in {paths.cache}/<node>/")


def _train(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.train.fit import train_node

    result = train_node(args.node, config, paths)
    print(
        f"{args.node}: best val_loss {result.best_val_loss:.4f} after {result.epochs} epochs; "
        f"registered {result.registered_model} v{result.version} (run {result.run_id})"
    )


def _evaluate(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.evaluate.node import evaluate_node

    metrics = evaluate_node(args.node, config, paths)
    print(f"{args.node}: test accuracy {metrics['accuracy']:.4f}, "
          f"macro F1 {metrics['macro_f1']:.4f} on {metrics['n_test']} images")


def _stack(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.contracts.metrics import StackMetrics
    from taxonomist.stack.build import build_stack

    version = build_stack(config, paths)
    metrics = StackMetrics.read(paths.stack_metrics)
    print(f"stack {version.name} v{version.version}: leaf accuracy "
          f"{metrics.leaf_accuracy:.4f}, hierarchical F1 {metrics.hierarchical_f1:.4f}, "
          f"distance@1 {metrics.distance_at_1:.4f}, coverage {metrics.coverage:.4f}")


def _promote(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.promote import promote

    record = promote(config, paths)
    live = f"v{record.live_after}" if record.live_after else "nothing"
    print(f"{record.registered_model} v{record.challenger.version}: "
          f"{record.verdict.decision} ({record.verdict.reason}); live is {live}")


def _baseline(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.evaluate.baselines import run_baselines

    for score in run_baselines(config, paths):
        print(f"baseline {score.name}: leaf accuracy {score.leaf_accuracy:.4f}, "
              f"macro F1 {score.macro_f1:.4f}")


def _report(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    from taxonomist.report import report

    report(config, paths)
    print(f"model card: {paths.model_card}")


def _notify(config: Config, paths: Paths, args: argparse.Namespace) -> None:
    """Send the decision to every configured channel (see :func:`taxonomist.notify.notify`)."""
    from taxonomist.notify import channel_names, notify

    notification = notify(config, paths)
    channels = ", ".join(channel_names(config.project.notify))
    print(f"notified ({channels}): {notification.title}")
