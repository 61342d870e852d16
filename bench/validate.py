"""Time the validate stage on a synthetic manifest against plain pandas versions of its checks.

    python -m bench.validate              # 100,000 images, from the repository root
    python -m bench.validate --images 20000 --repeat 1

The manifest looks like a car-photo project: a two-level taxonomy (10 makes x 10 models,
11 classifiers), sets of 1-4 photos whose perceptual hashes are 0-3 bits apart, a few
hundred near-duplicates across sets (some across train and test), five sources with one
model taken almost only by one of them, two years of dates and three label sources.
Splits keep whole sets together (65/15/20).

Both sides find the same things: per node and split counts against min/recommended,
imbalance, missing/duplicate ids and labels, unknown labels, images in no split,
malformed phashes, sets across splits, near-duplicates across sets (both use
:func:`taxonomist.checks.hashes.close_pairs`; there is no pandas way to search Hamming
distances), one-source and one-month classes, and split divergence. The pandas side
stops at boolean masks; validate also words messages, runs great-expectations and
writes the JSON report (and, in the second timing, the Data Docs). Writes
``bench/results/validate.json`` (tables ``timing`` and ``found``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

from bench.record import BenchRun, Figure, Table, add_results_option, ratio
from taxonomist.checks import validate
from taxonomist.checks.dataset import month_of
from taxonomist.checks.hashes import close_pairs, parse_hex
from taxonomist.checks.report import ValidationReport
from taxonomist.config.schema import ClassifierConfig
from taxonomist.taxonomy import Taxonomy

MAKES, MODELS = 10, 10
SOURCES = ("dealer", "auction", "crowd-app", "press", "archive")
TAXONOMY = Taxonomy.from_tree(
    "cars",
    {"car": {f"make{m}": [f"make{m}-model{k}" for k in range(MODELS)] for m in range(MAKES)}},
    "bench",
)
CLASSIFIERS = {
    node: ClassifierConfig(min_images=20, recommended_images=1000, max_imbalance=10.0)
    for node in TAXONOMY.inner_nodes
}


def synthetic(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A manifest of ``n`` images and its splits (see the module docstring)."""
    rng = np.random.default_rng(seed)
    set_sizes = rng.integers(1, 5, size=n)
    set_of = np.repeat(np.arange(n), set_sizes)[:n]
    n_sets = set_of[-1] + 1
    leaves = np.array(TAXONOMY.leaves)
    label = leaves[rng.integers(0, len(leaves), size=n_sets)][set_of]
    base = rng.integers(0, 2**63, size=n_sets, dtype=np.int64).astype(np.uint64)[set_of]
    flips = np.uint64(1) << rng.integers(0, 64, size=(n, 3)).astype(np.uint64)
    keep = rng.integers(0, 2, size=(n, 3)).astype(np.uint64)
    phash = base ^ np.bitwise_or.reduce(flips * keep, axis=1)
    copies = rng.choice(n, size=(300, 2), replace=False)  # near-duplicates across sets
    phash[copies[:, 1]] = phash[copies[:, 0]] ^ np.uint64(1)
    source = np.array(SOURCES)[rng.integers(0, len(SOURCES), size=n_sets)][set_of]
    source[label == "make3-model7"] = "press"  # a one-source class
    day = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, n_sets), "D")
    manifest = pd.DataFrame(
        {
            "id": [f"{i:064x}" for i in range(n)],
            "path": [f"images/{i:06d}.jpg" for i in range(n)],
            "label": label,
            "source": source,
            "set_id": [f"set{s:06d}" for s in set_of],
            "taken_at": day.strftime("%Y-%m-%d")[set_of],
            "width": 640,
            "height": 480,
            "stored": True,
            "label_source": np.array(["import", "crowd", "expert"])[rng.integers(0, 3, n)],
            "phash": [f"{h:016x}" for h in phash],
        }
    )
    which = np.array(["train", "val", "test"])[
        np.searchsorted([0.65, 0.80], rng.random(n_sets), side="right")
    ]
    splits = manifest[["id", "set_id", "label"]].assign(split=which[set_of])
    return manifest, splits


def pandas_checks(manifest: pd.DataFrame, splits: pd.DataFrame) -> dict[str, int]:
    """The same checks with pandas and numpy only: how many rows fail each."""
    images = manifest.merge(splits[["id", "split"]], on="id", how="left")
    lookup = pd.DataFrame(
        [(lab, node, TAXONOMY.child_for_label(node, lab)) for lab in TAXONOMY.nodes
         for node in TAXONOMY.path(lab)[:-1]],
        columns=["label", "node", "class"],
    )
    images["month"] = month_of(images["taken_at"])
    rows = images[["label", "split", "source", "month", "label_source"]].merge(lookup, on="label")
    found = _manifest_checks(images)
    found |= _count_checks(rows)
    found |= _bias_checks(rows)
    found |= _leak_checks(images)
    return found


def _manifest_checks(images: pd.DataFrame) -> dict[str, int]:
    return {
        "missing_id": int(images["id"].isna().sum() + images["id"].eq("").sum()),
        "duplicate_id": int(images["id"].duplicated(keep=False).sum()),
        "missing_label": int(images["label"].isna().sum() + images["label"].eq("").sum()),
        "unknown_label": int((~images["label"].isin(TAXONOMY.nodes)).sum()),
        "no_split": int(images["split"].isna().sum()),
        "bad_phash": int((~images["phash"].str.fullmatch("[0-9a-fA-F]{16}")).sum()),
    }


def _count_checks(rows: pd.DataFrame) -> dict[str, int]:
    every = pd.MultiIndex.from_tuples(
        [(n, c, s) for n in TAXONOMY.inner_nodes for c in TAXONOMY.children[n]
         for s in ("train", "val", "test")], names=["node", "class", "split"],
    )
    per_split = rows.groupby(["node", "class", "split"]).size().reindex(every, fill_value=0)
    total = per_split.groupby(level=["node", "class"]).sum()
    ratio = total.groupby(level="node").max() / total.groupby(level="node").min()
    return {
        "min_images": int((per_split < 20).sum() + (total < 20).sum()),
        "recommended_images": int((total < 1000).sum()),
        "max_imbalance": int((ratio > 10).sum()),
    }


def _bias_checks(rows: pd.DataFrame) -> dict[str, int]:
    found = {}
    for column in ("source", "month"):
        per_class = rows.groupby(["node", "class", column]).size()
        share = per_class / per_class.groupby(level=["node", "class"]).transform("sum")
        per_node = rows.groupby(["node", column]).size()
        node_share = per_node / per_node.groupby(level="node").transform("sum")
        top = share.groupby(level=["node", "class"]).idxmax()
        top_share = share.loc[top.to_numpy()].to_numpy()
        node_of_top = node_share.loc[[(n, v) for n, _, v in top.to_numpy()]].to_numpy()
        found[f"{column}_share"] = int(((top_share > 0.9) & (node_of_top <= 0.9)).sum())
    for column in ("class", "source"):
        counts = rows.groupby(["node", "split", column]).size().unstack(fill_value=0)
        dist = counts.div(counts.sum(axis=1), axis=0)
        train = dist.xs("train", level="split")
        others = dist.drop(index="train", level="split")
        base = train.reindex(others.index.get_level_values("node")).to_numpy()
        distance = jensenshannon(others.to_numpy(), base, axis=1, base=2)
        found[f"{column}_divergence"] = int((distance > 0.2).sum())
    return found


def _leak_checks(images: pd.DataFrame) -> dict[str, int]:
    per_set = images.groupby("set_id")["split"].agg(["nunique", lambda s: set(s)])
    values, valid = parse_hex(images["phash"])
    unique, inverse = np.unique(values[valid], return_inverse=True)
    i, j, _ = close_pairs(unique, 4)
    groups = pd.DataFrame({"h": inverse, "set": images.loc[valid, "set_id"].to_numpy(),
                           "split": images.loc[valid, "split"].to_numpy()}).drop_duplicates()
    same = np.arange(len(unique))
    pairs = pd.DataFrame({"a": np.r_[i, same], "b": np.r_[j, same]})
    pairs = pairs.merge(groups.add_suffix("_a"), left_on="a", right_on="h_a").merge(
        groups.add_suffix("_b"), left_on="b", right_on="h_b")
    once = (pairs["a"] != pairs["b"]) | (pairs["set_a"] < pairs["set_b"])
    pairs = pairs[once & (pairs["set_a"] != pairs["set_b"])]
    cross = pairs["split_a"].ne(pairs["split_b"]) & pairs[["split_a", "split_b"]].isin(
        ["train", "test"]).all(axis=1)
    return {
        "set_leak": int((per_set["nunique"] > 1).sum()),
        "near_duplicates": len(pairs),
        "near_duplicate_leaks": int(cross.sum()),
    }


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, float]:
    """The shortest wall-clock and CPU seconds of ``repeat`` runs (CPU time is the steadier
    figure on a busy machine; both sides run in one thread)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def timing_table(timings: list[tuple[str, tuple[float, float]]]) -> Table:
    """Wall and CPU seconds of each side, and their ratio to the pandas checks (first)."""
    pandas_wall, pandas_cpu = timings[0][1]
    rows = [(name, Figure(wall, "s", digits=2), Figure(cpu, "s", digits=2),
             ratio(wall / pandas_wall, "pandas", digits=1),
             ratio(cpu / pandas_cpu, "pandas", digits=1))
            for name, (wall, cpu) in timings]
    return Table("timing", ("checks", "wall", "CPU", "wall, against pandas",
                            "CPU, against pandas"), rows)


def found_table(report: ValidationReport, import_s: float, peak_mib: float) -> Table:
    """What validate found, and what one run of it costs beside the checks."""
    near = report.near_duplicates
    return Table("found", ("measured", "value"), [
        ("errors", Figure(len(report.errors), "", digits=0)),
        ("warnings", Figure(len(report.warnings), "", digits=0)),
        ("near-duplicate pairs", Figure(near["pairs"], "", digits=0)),
        ("near-duplicate pairs across train and test", Figure(near["train_test"], "", digits=0)),
        ("`import great_expectations`, once per run", Figure(import_s, "s", digits=1)),
        ("peak memory (RSS)", Figure(peak_mib, "MiB", digits=0)),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    add_results_option(parser)
    args = parser.parse_args(argv)
    run = BenchRun.start("validate", args.results_dir, args)

    start = time.perf_counter()
    manifest, splits = synthetic(args.images)
    print(f"synthetic manifest: {len(manifest)} images, {splits['set_id'].nunique()} sets "
          f"({time.perf_counter() - start:.1f} s)")
    start = time.perf_counter()
    import great_expectations  # noqa: F401  (paid once per stage run; timed apart)

    import_s = time.perf_counter() - start
    print(f"import great_expectations: {import_s:.1f} s")
    out = Path(tempfile.mkdtemp(prefix="bench-validate-")) / "validation.json"

    def run_validate(docs: bool) -> Callable[[], object]:
        return lambda: validate(manifest, splits, TAXONOMY, CLASSIFIERS, out, data_docs=docs)

    report = validate(manifest, splits, TAXONOMY, CLASSIFIERS, out)  # warm-up
    found = pandas_checks(manifest, splits)
    pandas_s = best_of(args.repeat, lambda: pandas_checks(manifest, splits))
    gx_s = best_of(args.repeat, run_validate(False))
    docs_s = best_of(args.repeat, run_validate(True))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"validate found: {len(report.errors)} error(s), {len(report.warnings)} warning(s); "
          f"{report.near_duplicates['pairs']} near-duplicate pairs, "
          f"{report.near_duplicates['train_test']} across train/test")
    print(f"pandas found: {found}")
    print("                            wall s    CPU s   ratio to pandas (wall, CPU)")
    timings = [("pandas checks", pandas_s), ("validate (no Data Docs)", gx_s),
               ("validate (with Data Docs)", docs_s)]
    for name, (wall, cpu) in timings:
        print(f"{name:<26} {wall:7.2f}  {cpu:7.2f}   {wall / pandas_s[0]:.1f}x, "
              f"{cpu / pandas_s[1]:.1f}x")
    print(f"peak memory (RSS): {peak:.0f} MiB")
    run.write([timing_table(timings), found_table(report, import_s, peak)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
