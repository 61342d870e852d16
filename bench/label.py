"""The crowd round trip at 10,000 images x 3 workers, each step against a plain baseline.

    python -m bench.label                   # 10,000 images, from the repository root
    python -m bench.label --images 2000     # a quick look
    python -m bench.label --aggregations one_coin_dawid_skene --digits /tmp/digits

A project of ``--images`` small JPEGs (``bench/ingest.py``'s car project: 100 models
under 10 makes) is ingested, then, in one run:

- ``label export MAKE``: a batch per make (its 10 models the answers) with presigned S3
  URLs (signed locally with V4, as for AWS; no request is made) against the same batches
  with ``file://`` URLs;
- ``label import``: a Mechanical Turk results CSV of 3 answers per image from a pool of
  simulated workers of known accuracy, aggregated by majority vote (the baseline),
  one-coin Dawid-Skene (the default), Dawid-Skene and MACE: time, and how often each
  gets the true label;
- ``label queue``: the expert's page at its default limit and with every image: build
  time against decoding the same images once (what any page of thumbnails pays), and the
  page's size (HTML plus thumbnails). No live stack: the stack's columns stay empty; the
  out-of-fold doubt is computed as the command computes it;
- the live stack as one more annotator, on the digits sample with a stack trained by
  ``taxonomist repro`` (``bench/label_stack.py``; ``--digits DIR`` keeps that project).

Writes ``bench/results/label.json`` (tables ``export``, ``import``, ``queue``, ``stack``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bench.crowd import simulated_answers
from bench.ingest import TAXONOMY, write_images
from bench.label_stack import report_stack, stack_figures, stack_table
from bench.record import BenchRun, Figure, Table, add_results_option, ratio
from taxonomist.config import Aggregation, Paths
from taxonomist.data import FolderSource, ImagePolicy, ingest
from taxonomist.data.sources.s3 import S3Source
from taxonomist.labels.batch import Batch, Pick, export_batch
from taxonomist.labels.crowd import import_answers
from taxonomist.labels.live import stored_image
from taxonomist.labels.out_of_fold import PixelNeighbours
from taxonomist.labels.queue_page import label_queue, write_queue

MAKES = TAXONOMY.children[TAXONOMY.root]  # one batch per make, as one HIT type per make
TTL_S = 3600
WORKERS_PER_IMAGE = 3
POOL = 60  # simulated workers; each image goes to 3 of them at random
QUEUE_LIMIT = 200  # `taxonomist label queue`'s default


def timed(step: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = step()
    return time.perf_counter() - start, value


def ingested_project(n: int, work: Path) -> Paths:
    """``n`` images written and ingested; every label still the import's own."""
    folder = work / "source"
    write_images(n, 32, folder)
    listed = pd.read_csv(folder / "manifest.csv")
    listed.assign(label_source="import").to_csv(folder / "manifest.csv", index=False)
    paths = Paths(work / "project")
    ingest(FolderSource(folder, "manifest.csv"), TAXONOMY, paths, ImagePolicy())
    return paths


def presigning_source() -> S3Source:
    """The project's images as if under ``s3://bench-photos/``: presigning is local, so
    no store needs to answer (the endpoint is a closed port)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    return S3Source("bench-photos", "", "manifest.csv", endpoint_url="http://127.0.0.1:9",
                    region="us-east-1")


def export_all(paths: Paths) -> tuple[dict[str, float], list[Batch]]:
    """A batch per make (its 10 models are the answers), once with ``file://`` URLs and
    once presigned; the presigned batches are the ones sent out."""
    manifest = pd.read_parquet(paths.manifest)

    def export(source: FolderSource | S3Source) -> list[Batch]:
        return [export_batch(manifest, make, len(manifest), Pick.random, TAXONOMY, source,
                             paths.label_batches, TTL_S, seed=0) for make in MAKES]

    file_s, _ = timed(lambda: export(FolderSource(paths.root, "unused.csv")))
    s3_s, batches = timed(lambda: export(presigning_source()))
    return {"export_file_s": file_s, "export_s3_s": s3_s}, batches


def import_all(file: Path, paths: Paths, truth: pd.Series, methods: list[Aggregation]
               ) -> dict[str, float]:
    """Import time per aggregation method, and the share of images it labels right."""
    figures = {}
    for method in methods:
        seconds, _ = timed(lambda m=method: import_answers(file, paths, m))
        crowd = pd.read_csv(paths.labels / "crowd.csv", dtype=str).set_index("id")["label"]
        figures[f"import_{method.value}_s"] = seconds
        figures[f"accuracy_{method.value}"] = float((crowd.reindex(truth.index) == truth).mean())
    return figures


def queue_figures(paths: Paths, limit: int) -> dict[str, float]:
    """Build time of the page at ``limit``, decoding the same images once, its size."""
    manifest = pd.read_parquet(paths.manifest)
    policy = ImagePolicy()
    root = TAXONOMY.root
    build_s, page = timed(lambda: label_queue(manifest, root, TAXONOMY, paths, None, limit,
                                              PixelNeighbours(), policy))
    write_s, _ = timed(lambda: write_queue(page, paths, policy))
    decode_s, _ = timed(lambda: [stored_image(paths.root / stored, policy).load()
                                 for stored in page.rows["stored"]])
    thumbnails = sum(f.stat().st_size for f in paths.label_queue_thumbnails.iterdir())
    return {"rows": len(page.rows), "queue_s": build_s + write_s, "decode_s": decode_s,
            "html_kib": paths.label_queue.stat().st_size / 1024,
            "thumbnails_kib": thumbnails / 1024}


def report(n: int, export: dict, crowd: dict, queues: list[dict]) -> None:
    answers = n * WORKERS_PER_IMAGE
    print(f"| {n:,} images x {WORKERS_PER_IMAGE} workers | seconds | against the baseline |")
    print("|---|---|---|")
    print(f"| `label export MAKE`, {len(MAKES)} batches, presigned S3 URLs | "
          f"{export['export_s3_s']:.2f} | "
          f"{export['export_s3_s'] / export['export_file_s']:.2f}x the same with file:// URLs "
          f"({export['export_file_s']:.2f} s) |")
    baseline = crowd["import_majority_vote_s"]
    for method in measured(crowd):
        seconds, right = crowd[f"import_{method.value}_s"], crowd[f"accuracy_{method.value}"]
        print(f"| `label import`, {answers:,} answers, {method.value} | {seconds:.2f} | "
              f"{seconds / baseline:.2f}x majority vote; true label on {right:.1%} of images |")
    for q in queues:
        print(f"| `label queue --limit {q['rows']}` | {q['queue_s']:.2f} | "
              f"{q['queue_s'] / q['decode_s']:.1f}x decoding its {q['rows']:,} images once "
              f"({q['decode_s']:.2f} s); page {q['html_kib']:.0f} KiB + thumbnails "
              f"{q['thumbnails_kib']:.0f} KiB |")


def measured(crowd: dict) -> list[Aggregation]:
    """The aggregations ``crowd`` (:func:`import_all`'s figures) has timed."""
    return [method for method in Aggregation if f"import_{method.value}_s" in crowd]


def tables(n: int, export: dict, crowd: dict, queues: list[dict]) -> list[Table]:
    """The figures :func:`report` prints, as the result file's tables."""
    file_urls = f"the same batches with `file://` URLs ({export['export_file_s']:.2f} s)"
    exported = Table("export", ("step", "time", "against the baseline"), [
        (f"`label export MAKE`, {len(MAKES)} batches, presigned S3 URLs",
         Figure(export["export_s3_s"], "s", digits=2),
         ratio(export["export_s3_s"] / export["export_file_s"], file_urls)),
    ])
    baseline = crowd["import_majority_vote_s"]
    imported = Table(
        "import", ("aggregation", f"`label import`, {n * WORKERS_PER_IMAGE:,} answers",
                   "against the baseline", "true label"),
        [(f"`{method.value}`", Figure(crowd[f"import_{method.value}_s"], "s", digits=2),
          ratio(crowd[f"import_{method.value}_s"] / baseline, "majority vote"),
          Figure(100 * crowd[f"accuracy_{method.value}"], "%", digits=1))
         for method in measured(crowd)])
    queued = Table("queue", ("page", "time", "against the baseline", "page size", "thumbnails"), [
        (f"`label queue --limit {q['rows']}`", Figure(q["queue_s"], "s", digits=2),
         ratio(q["queue_s"] / q["decode_s"], f"decoding its {q['rows']:,} images once "
               f"({q['decode_s']:.2f} s)", digits=1),
         Figure(q["html_kib"], "KiB", digits=0), Figure(q["thumbnails_kib"], "KiB", digits=0))
        for q in queues])
    return [exported, imported, queued]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--aggregations", nargs="+", type=Aggregation,
                        default=list(Aggregation), metavar="METHOD",
                        help="the aggregations timed (default all; majority_vote, the "
                        "baseline, always)")
    parser.add_argument("--digits", type=Path, help="the digits project of table `stack`: "
                        "made and trained there when it is not yet (default: in a temp dir)")
    parser.add_argument("--stack-images", type=int, default=300,
                        help="images per batch of table `stack` (default 300)")
    add_results_option(parser)
    args = parser.parse_args(argv)
    methods = sorted({Aggregation.majority_vote, *args.aggregations}, key=list(Aggregation).index)
    run = BenchRun.start("label", args.results_dir, args)
    with tempfile.TemporaryDirectory(prefix="bench-label-") as work:
        paths = ingested_project(args.images, Path(work))
        export, batches = export_all(paths)
        accuracy = np.random.default_rng(0).uniform(0.45, 0.95, POOL)
        file, truth = simulated_answers(batches, paths, accuracy, WORKERS_PER_IMAGE)
        crowd = import_all(file, paths, truth, methods)
        queues = [queue_figures(paths, limit) for limit in (QUEUE_LIMIT, args.images)]
        heard = stack_figures(args.digits or Path(work) / "digits", args.stack_images)
    report(args.images, export, crowd, queues)
    report_stack(heard, args.stack_images)
    run.write([*tables(args.images, export, crowd, queues),
               stack_table(heard, args.stack_images)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
