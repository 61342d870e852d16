"""The headline: the stack against one flat network and an SVC, over seeds.

For each seed, a fresh project goes from YAML to a promoted stack (``taxonomist
pipeline seed=S``, ``taxonomist repro``): the seed draws the sample (vehicles), the split
and every network's initialisation. All three are scored on the same test images of
that seed; per seed this reads

- the stack's leaf accuracy with every walk taken to a leaf (its configured decoding,
  ``plots/_stack/decoding.csv``), what the baselines are scored as, and with its stops
  (``metrics/stack.json``: an early stop counts as a miss), and its accuracy per depth
  (``plots/_stack/depth.csv``);
- the flat network's and the SVC's (``metrics/_flat.json``, ``metrics/_svc.json``);
- the mean tree distance of the mistakes ("sensibly wrong"), the stack's from its
  decoding table and the flat network's recomputed here from ``models/_flat`` on the
  stack's test cache.

Across seeds: the mean with a 95 % t interval, and the paired t-test of the stack
against each baseline (the same seed is one pair). Writes
``bench/results/seeds_<sample>.json``.

Usage::

    python -m bench.seeds                                  # digits, seeds 42 1 2 3 4
    python -m bench.seeds --sample vehicles --seeds 42 1 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bench.record import REPO, BenchRun, Figure, Table, add_results_option
from bench.shell import sh
from taxonomist.config import Paths, compose_config
from taxonomist.contracts.cache import load_stack_test
from taxonomist.evaluate.baselines import on_leaves, predict_flat
from taxonomist.taxonomy import Taxonomy

EXPERIMENTS = {"digits": [], "vehicles": ["+experiment=vehicles"]}
# What a project has once `taxonomist repro` went through the stack and the baselines
FINISHED = ("metrics/stack.json", "metrics/_flat.json", "metrics/_svc.json",
            "plots/_stack/decoding.csv")


def run_seed(work: Path, sample: str, seed: int, jobs: int) -> dict[str, float]:
    """One project from nothing to a promoted stack at ``seed``; its figures. A project
    that finished in ``work`` before (``--keep``, a run cut short) is read, not run again."""
    root = work / f"{sample}-{seed}"
    if all((root / name).is_file() for name in FINISHED):
        return figures(root)
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("overrides.yaml"))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"],
                ["taxonomist", "pipeline", *EXPERIMENTS[sample], f"seed={seed}"],
                ["taxonomist", "repro", "--jobs", str(jobs)]):
        sh(cmd, root)
    return figures(root)


def figures(root: Path) -> dict[str, float]:
    """What :func:`run_seed` reads from a finished project (see the module)."""
    metrics = root / "metrics"
    stack = json.loads((metrics / "stack.json").read_text())
    decodings = pd.read_csv(root / "plots" / "_stack" / "decoding.csv")
    config = compose_config(root / "conf")
    decoding = config.classifiers[config.taxonomy.root].stopping.decoding.value
    full = decodings[(decodings["decoding"] == decoding) & (decodings["stopping"] == "none")]
    found = {
        "stack": float(full["leaf_accuracy"].iloc[0]),
        "stack_with_stops": float(stack["leaf_accuracy"]),
        "coverage": float(stack["coverage"]),
        "stack_mistake_distance": float(full["mistake_severity"].iloc[0]),
        "flat": json.loads((metrics / "_flat.json").read_text())["leaf_accuracy"],
        "svc": json.loads((metrics / "_svc.json").read_text())["leaf_accuracy"],
        "flat_mistake_distance": flat_mistake_distance(root, config.taxonomy),
    }
    depths = pd.read_csv(root / "plots" / "_stack" / "depth.csv")
    return found | {f"accuracy_depth_{row.depth}": float(row.accuracy)
                    for row in depths.itertuples()}


def flat_mistake_distance(root: Path, taxonomy: Taxonomy) -> float:
    """The flat network's mean tree distance over its mistakes on the stack's test images."""
    test = on_leaves(load_stack_test(Paths(root)), taxonomy.leaves)
    predicted = predict_flat(Paths(root), test.images)
    distances = [taxonomy.distance(p, t) for p, t in zip(predicted, test.index["label"],
                                                         strict=True) if p != t]
    return float(np.mean(distances)) if distances else 0.0


def interval(values: list[float]) -> Figure:
    """The mean of ``values`` with its 95 % t interval."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return Figure(mean, "", digits=4)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    return Figure(mean, "", digits=4, interval=(float(low), float(high)))


def paired(stack: list[float], baseline: list[float]) -> tuple[Figure, str]:
    """The stack's mean gain over a baseline (95 % interval) and the paired t-test's
    verdict at 5 %: better, worse, or a tie."""
    gain = interval([s - b for s, b in zip(stack, baseline, strict=True)])
    if len(stack) < 2 or np.allclose(stack, baseline):
        return gain, "tie (identical)" if np.allclose(stack, baseline) else "one seed: no test"
    p = float(stats.ttest_rel(stack, baseline).pvalue)
    verdict = "tie" if p >= 0.05 else ("better" if gain.value > 0 else "worse")
    return gain, f"{verdict} (paired t-test p = {p:.3f})"


def tables(runs: dict[int, dict[str, float]]) -> list[Table]:
    seeds = sorted(runs)
    column = {key: [runs[s][key] for s in seeds] for key in runs[seeds[0]]}
    headline = Table("headline", ("model", "leaf accuracy", "mistakes' tree distance",
                                  "against the stack"), [
        ("the stack", interval(column["stack"]), interval(column["stack_mistake_distance"]),
         None),
        ("one flat network", interval(column["flat"]), interval(column["flat_mistake_distance"]),
         "stack {:+.4f}: {}".format(*_gain(column["stack"], column["flat"]))),
        ("SVC on grey pixels", interval(column["svc"]), None,
         "stack {:+.4f}: {}".format(*_gain(column["stack"], column["svc"]))),
        ("the stack with its stops", interval(column["stack_with_stops"]), None,
         f"coverage {np.mean(column['coverage']):.3f}"),
    ])
    depths = sorted(k for k in column if k.startswith("accuracy_depth_"))
    by_depth = Table("depth", ("depth", "stack accuracy"), [
        (key.removeprefix("accuracy_depth_"), interval(column[key])) for key in depths])
    per_seed = Table("per_seed", ("seed", "stack", "flat", "svc"), [
        (str(s), Figure(runs[s]["stack"], "", digits=4), Figure(runs[s]["flat"], "", digits=4),
         Figure(runs[s]["svc"], "", digits=4)) for s in seeds])
    return [headline, by_depth, per_seed]


def _gain(stack: list[float], baseline: list[float]) -> tuple[float, str]:
    gain, verdict = paired(stack, baseline)
    return gain.value, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", choices=sorted(EXPERIMENTS), default="digits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    add_results_option(parser)
    args = parser.parse_args()
    run = BenchRun.start(f"seeds_{args.sample}", args.results_dir, args)
    with tempfile.TemporaryDirectory(prefix="seeds-bench-") as temp:
        work = args.keep or Path(temp)
        runs = {}
        for seed in args.seeds:
            runs[seed] = run_seed(work, args.sample, seed, args.jobs)
            print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in runs[seed].items()),
                  flush=True)
    written = tables(runs)
    print(json.dumps([table.as_json() for table in written], indent=1))
    run.write(written)


if __name__ == "__main__":
    main()
