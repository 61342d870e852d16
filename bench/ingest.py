"""Time ingest and validate on N synthetic JPEGs against plain baselines, in one run.

    python -m bench.ingest                   # 100,000 images, from the repository root
    python -m bench.ingest --images 10000    # a quick look

The images are small real JPEGs (32x32 by default) named by a manifest shaped like
``bench/validate.py``'s car project: sets of 1-4 views of one scene (their perceptual
hashes a few bits apart), five sources, two years of dates, three label sources.

Figures, each with its target:

- ingest images/s over a plain loop that reads each file, hashes it with hashlib and
  verifies it with PIL (target: at least 0.8x). Ingest does more per image — a full
  decode, normalisation, a perceptual hash, a content-addressed copy and a journal line —
  and spreads the decoding over the machine's cores;
- validate (great-expectations, no Data Docs) over vectorised pandas versions of the same
  checks, on the manifest ingest wrote (target: within 3x);
- peak memory (RSS) of the ingest and validate process (target: under 2 GiB).

Ingest and validate run in a child process so its peak memory is theirs alone. Writes
``bench/results/ingest.json`` (table ``speed``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from bench.record import REPO, BenchRun, Figure, Table, add_results_option, ratio
from bench.validate import CLASSIFIERS, TAXONOMY, best_of, pandas_checks, synthetic
from taxonomist.checks import validate
from taxonomist.config import Paths
from taxonomist.config.schema import SplitConfig
from taxonomist.data import FolderSource, ImagePolicy, ingest, split

SOURCE_COLUMNS = ["path", "label", "source", "set_id", "taken_at", "label_source"]


def write_images(n: int, size: int, folder: Path, seed: int = 0) -> None:
    """``n`` JPEGs and ``manifest.csv`` in ``folder``; the views of a set share a scene."""
    manifest, _ = synthetic(n, seed)
    rng = np.random.default_rng(seed)
    scenes = {}
    for row in tqdm(manifest.itertuples(), total=n, desc="write JPEGs", unit="img"):
        if row.set_id not in scenes:  # a smooth scene, so its views hash alike
            scenes[row.set_id] = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        view = Image.fromarray(scenes[row.set_id]).resize((size, size), Image.BILINEAR)
        noisy = np.asarray(view, np.int16) + rng.integers(-6, 7, (size, size, 3))
        file = folder / row.path
        file.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(file, quality=90)
    manifest[SOURCE_COLUMNS].to_csv(folder / "manifest.csv", index=False)


def baseline_loop(folder: Path) -> float:
    """Images/s of read + sha256 + ``PIL.Image.verify``, one file after another."""
    paths = pd.read_csv(folder / "manifest.csv", usecols=["path"])["path"]
    start = time.perf_counter()
    for path in paths:
        data = (folder / path).read_bytes()
        hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    return len(paths) / (time.perf_counter() - start)


def ingest_and_validate(folder: Path, project: Path) -> dict[str, float]:
    """Ingest ``folder`` into ``project``, split it, then time validate against pandas."""
    paths = Paths(project)
    start = time.perf_counter()
    result = ingest(FolderSource(folder, "manifest.csv"), TAXONOMY, paths, ImagePolicy())
    ingest_s = time.perf_counter() - start
    splits = split(SplitConfig(), 0, paths)
    manifest = pd.read_parquet(paths.manifest)
    import great_expectations  # noqa: F401  (paid once per stage run, not per check)

    out = project / "validation.json"
    report = validate(manifest, splits, TAXONOMY, CLASSIFIERS, out, data_docs=False)
    validate_s, _ = best_of(1, lambda: validate(
        manifest, splits, TAXONOMY, CLASSIFIERS, out, data_docs=False))
    pandas_s, _ = best_of(1, lambda: pandas_checks(manifest, splits))
    return {
        "added": result.added, "rejected": result.rejected, "ingest_s": ingest_s,
        "validate_s": validate_s, "pandas_s": pandas_s, "errors": len(report.errors),
        "near_duplicates": report.near_duplicates["pairs"],
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _in_child(folder: Path, project: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.ingest", "--child", str(folder), str(project)]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _verdict(name: str, value: float, target: str, met: bool, detail: str) -> str:
    return f"{name}: {value:.2f} (target {target}: {'met' if met else 'MISSED'}) — {detail}"


def speed_table(figures: dict[str, float], baseline: float) -> Table:
    """Ingest's rate, validate's time and the peak memory, each against its baseline."""
    rate = figures["added"] / figures["ingest_s"]
    loop = "a loop reading, hashing (sha256) and verifying (PIL) each file"
    gx = figures["validate_s"] / figures["pandas_s"]
    peak_gib = figures["peak_mib"] / 1024
    return Table("speed", ("measured", "taxonomist", "baseline", "ratio", "target"), [
        ("ingest", Figure(rate, "img/s", digits=0), Figure(baseline, "img/s", digits=0),
         ratio(rate / baseline, loop), _target("≥ 0.8×", rate >= 0.8 * baseline)),
        ("validate (great-expectations, no Data Docs)", Figure(figures["validate_s"], "s"),
         Figure(figures["pandas_s"], "s"), ratio(gx, "pandas versions of the same checks"),
         _target("≤ 3×", gx <= 3)),
        (f"peak memory, ingest + split + validate of {figures['added']:,.0f} images",
         Figure(peak_gib, "GiB", digits=2), None, None, _target("< 2 GiB", peak_gib < 2)),
    ])


def _target(target: str, met: bool) -> str:
    return f"{target}: {'met' if met else 'MISSED'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=32, help="width and height in pixels")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    add_results_option(parser)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(ingest_and_validate(*args.child)))
        return 0
    run = BenchRun.start("ingest", args.results_dir, args)

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    folder = work / "source"
    write_images(args.images, args.size, folder)
    baseline = baseline_loop(folder)
    figures = _in_child(folder, work / "project")
    rate = figures["added"] / figures["ingest_s"]
    print(f"ingested {figures['added']:.0f} images ({figures['rejected']:.0f} rejected) in "
          f"{figures['ingest_s']:.1f} s; validate: {figures['errors']:.0f} error(s), "
          f"{figures['near_duplicates']:.0f} near-duplicate pairs; files in {work}")
    print(_verdict("ingest / baseline loop", rate / baseline, ">= 0.8x", rate >= 0.8 * baseline,
                   f"{rate:.0f} vs {baseline:.0f} images/s"))
    ratio = figures["validate_s"] / figures["pandas_s"]
    print(_verdict("validate / pandas checks", ratio, "<= 3x", ratio <= 3,
                   f"{figures['validate_s']:.2f} vs {figures['pandas_s']:.2f} s"))
    print(_verdict("peak memory, GiB", figures["peak_mib"] / 1024, "< 2", figures["peak_mib"]
                   < 2048, f"ingest + split + validate of {figures['added']:.0f} images"))
    run.write([speed_table(figures, baseline)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
