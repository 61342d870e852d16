"""Peak memory of the cache stage: 50,000 images at 224 px, written a chunk at a time.

    python -m bench.cache_memory                      # 50,000 images, 224 px
    python -m bench.cache_memory --images 5000 --size 128

A synthetic project: a manifest of ``--images`` rows (sets of one, 70/15/15 splits, two
classes under one root) whose stored images are ``--distinct`` 256 px JPEG files, each
used by many rows, so the bench spends its time in the cache stage rather than in writing
sources. The cache is built by :func:`taxonomist.data.build_cache` in a child process,
whose peak resident memory (``ru_maxrss``) is the figure; a split of 35,000 images at
224 px is 4.9 GiB, which is what a cache built in memory would hold at least. Writes
about 9 GiB (the root's cache plus the stack's val and test) under ``--dir``, deleted
at the end unless ``--keep``. Writes ``bench/results/cache_memory.json`` (table
``memory``).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.record import REPO, BenchRun, Figure, Table, add_results_option
from taxonomist.config import Paths
from taxonomist.contracts.cache import SPLITS, images_file
from taxonomist.data import build_cache
from taxonomist.taxonomy import Taxonomy

TAXONOMY = Taxonomy.from_tree("bench", {"vehicle": ["car", "other"]}, "bench")
GIB = 2**30
TARGET_GIB = 2.0
BUILT = "built.json"  # the child's figures, in the project root


def make_project(root: Path, images: int, distinct: int, seed: int = 0) -> Paths:
    """Stored JPEGs, a manifest and splits, as ingest and split would leave them."""
    paths = Paths(root)
    rng = np.random.default_rng(seed)
    stored = []
    for n in range(distinct):
        file = paths.images / f"{n:02x}"[:2] / f"{n:064x}.jpg"
        file.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((256, 256), Image.Resampling.BICUBIC).save(file)
        stored.append(file.relative_to(root).as_posix())
    ids = [f"{n:064x}" for n in range(images)]
    manifest = pd.DataFrame({
        "id": ids, "path": [f"in/{i}.jpg" for i in range(images)],
        "label": np.array(["car", "other"])[np.arange(images) % 2],
        "source": "cam", "set_id": ids, "taken_at": "2024-05-01",
        "width": 256, "height": 256, "stored": [stored[i % distinct] for i in range(images)],
    })
    manifest.to_parquet(paths.manifest, index=False)
    split = rng.choice(np.array(SPLITS), size=images, p=[0.7, 0.15, 0.15])
    pd.DataFrame({"id": ids, "split": split}).to_parquet(paths.splits, index=False)
    return paths


def build(root: Path, size: int) -> None:
    """The measured part, in this (child) process."""
    started = time.perf_counter()
    result = build_cache(TAXONOMY, {"vehicle": size}, Paths(root))
    seconds = time.perf_counter() - started
    written = sum(images_file(Paths(root), node, split).stat().st_size
                  for node in result.counts for split in result.counts[node])
    print(f"built {result.summary()} in {seconds:.0f} s, {written / GIB:.1f} GiB written")
    (root / BUILT).write_text(json.dumps({"seconds": seconds, "written_gib": written / GIB}))


def memory_table(peak_gib: float, in_memory_gib: float, built: dict[str, float]) -> Table:
    """The cache stage's peak memory against the target and against holding a split."""
    met = "met" if peak_gib < TARGET_GIB else "MISSED"
    return Table("memory", ("measured", "value", "note"), [
        ("peak RSS of the cache stage", Figure(peak_gib, "GiB", digits=2),
         f"target < {TARGET_GIB:g} GiB: {met}"),
        ("the train split alone, if held in memory", Figure(in_memory_gib, "GiB", digits=1),
         "what a cache built in memory holds at least"),
        ("cache written (the root's, and the stack's val and test)",
         Figure(built["written_gib"], "GiB", digits=1), None),
        ("time to build it, one process", Figure(built["seconds"], "s", digits=0), None),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--distinct", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    add_results_option(parser)
    args = parser.parse_args()
    if args.child:
        build(args.child, args.size)
        return
    run = BenchRun.start("cache_memory", args.results_dir, args)
    root = Path(tempfile.mkdtemp(prefix="cache-bench-", dir=args.dir))
    try:
        make_project(root, args.images, args.distinct)
        subprocess.run([sys.executable, "-m", "bench.cache_memory", "--child", str(root),
                        "--size", str(args.size)], check=True, cwd=REPO)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: kB
        train = int((pd.read_parquet(Paths(root).splits)["split"] == "train").sum())
        in_memory = train * args.size * args.size * 3
        print(f"{args.images} images at {args.size} px: peak RSS {peak / GIB:.2f} GiB "
              f"(the train split alone, held in memory: {in_memory / GIB:.1f} GiB); "
              f"target < {TARGET_GIB:g} GiB: {'met' if peak < TARGET_GIB * GIB else 'MISSED'}")
        built = json.loads((root / BUILT).read_text())
        run.write([memory_table(peak / GIB, in_memory / GIB, built)])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
