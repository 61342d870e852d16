"""``taxonomist label ACTION``: not DVC stages; they read the manifest and write labels/,
which the next ingest reads."""

from __future__ import annotations

import argparse
from pathlib import Path

from taxonomist.cli.common import composed, project_paths, require_node, shown
from taxonomist.errors import DataError

_NEXT_INGEST = "next: dvc repro (ingest applies it; only the nodes it touches retrain)"


def add_label_verb(verbs: argparse._SubParsersAction) -> None:
    """``label`` and its actions: history, export, import, apply, queue."""
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
    imported = actions.add_parser("import", help="a batch's answers (and the live stack's), "
                                  "aggregated")
    imported.add_argument("file", type=Path, metavar="FILE",
                          help="a Mechanical Turk results .csv or a Label Studio .json export")
    imported.set_defaults(run=_label_import)
    apply = actions.add_parser("apply", help="the expert's decisions (a CSV)")
    apply.add_argument("file", type=Path, metavar="DECISIONS_CSV",
                       help="columns image, label and optionally excluded, suggested")
    apply.add_argument("--accept-suggestions", action="store_true",
                       help="rows still marked suggested are decisions too (you read them)")
    apply.set_defaults(run=_label_apply)
    queue = actions.add_parser("queue", help="the expert's page: disputed images, ranked")
    queue.add_argument("--node", help="only the images under this inner node (default: all)")
    queue.add_argument("--limit", type=int, default=200,
                       help="the most disputed images to show (default 200)")
    queue.set_defaults(run=_label_queue)


def _label_export(args: argparse.Namespace) -> None:
    from taxonomist.labels.batch import Pick
    from taxonomist.labels.export import export_node, refresh_batch

    config, paths = composed(args)
    if args.refresh:
        batch = refresh_batch(config, paths, args.refresh)
        print(f"batch {batch.batch}: new image URLs in {paths.label_batches / batch.batch}")
        return
    if args.node is None:
        raise DataError("give NODE (the node whose images to label), or --refresh BATCH")
    require_node(config, args.node)
    batch = export_node(config, paths, args.node, args.n, Pick(args.strategy))
    folder = shown(paths.label_batches / batch.batch, paths)
    print(f"batch {batch.batch}: {len(batch.tasks(paths.label_batches))} images of "
          f"{args.node} in {folder}/ (mturk_input.csv, label_studio_tasks.json)")


def _label_import(args: argparse.Namespace) -> None:
    from taxonomist.config import Aggregation
    from taxonomist.labels.crowd import import_answers
    from taxonomist.labels.evidence import stack_opinion
    from taxonomist.labels.live import load_live

    config, paths = composed(args)
    method = config.project.crowd.aggregation
    # only the default aggregation hears the stack: spare the others loading it
    stack = (load_live(config.project.mlflow, config.taxonomy.name, paths)
             if method is Aggregation.one_coin_dawid_skene else None)
    opinion = None if stack is None else stack_opinion(stack, paths)
    print(import_answers(args.file, paths, method, opinion).summary(args.file, method))
    print(f"wrote {shown(paths.labels / 'crowd.csv', paths)}; {_NEXT_INGEST}")


def _label_apply(args: argparse.Namespace) -> None:
    from taxonomist.data.manifest import read_manifest
    from taxonomist.labels.decisions import apply_decisions

    config, paths = composed(args)
    count = apply_decisions(args.file, read_manifest(paths.manifest), config.taxonomy, paths,
                            args.accept_suggestions)
    print(f"{count} decisions in {shown(paths.labels / 'expert.csv', paths)}; {_NEXT_INGEST}")


def _label_queue(args: argparse.Namespace) -> None:
    from taxonomist.data.images import ImagePolicy
    from taxonomist.data.manifest import read_manifest
    from taxonomist.labels.live import load_live
    from taxonomist.labels.out_of_fold import PixelNeighbours
    from taxonomist.labels.queue_page import apply_command, label_queue, write_queue

    config, paths = composed(args)
    node = args.node or config.taxonomy.root
    config.require_inner_node(node, source="--node")
    if args.limit < 1:
        raise DataError(f"--limit: expected a positive number of images, got {args.limit}")
    stack = load_live(config.project.mlflow, config.taxonomy.name, paths)
    policy = ImagePolicy.from_config(config.project.data)
    page = label_queue(read_manifest(paths.manifest), node, config.taxonomy, paths, stack,
                       args.limit, PixelNeighbours(config.project.baseline.svc.size), policy)
    write_queue(page, paths, policy)
    print(f"{len(page.rows)} of {page.total} queued images in "
          f"{shown(paths.label_queue, paths)} (guessed by {page.stack or 'no live stack'}); "
          f"decide in {shown(paths.label_decisions, paths)}, then: {apply_command(paths)}")


def _label_history(args: argparse.Namespace) -> None:
    from taxonomist.data.history import describe_history, find_image, read_history
    from taxonomist.data.manifest import read_manifest

    paths = project_paths(args)
    where = shown(paths.manifest, paths)
    image = find_image(args.image, read_manifest(paths.manifest), where)
    print(describe_history(image, read_history(paths.label_history)))
