"""35 classifiers from YAML to a promoted stack: serial `dvc repro` vs `taxonomist repro`.

In one run, on two copies of one fresh project (same seed, same data):

1. serial ``dvc repro`` (every stage a new process), then ``taxonomist repro --jobs N``,
   each from nothing to a promoted stack: wall time and peak RSS of the biggest process;
2. the fixed cost of one stage process (imports, config, MLflow connection) against the
   same in a warm worker, and their share of each run;
3. a no-op ``dvc repro``, ``dvc status`` and ``taxonomist repro`` on the finished project;
4. new images of one deep leaf, then ``taxonomist repro``: time and the nodes retrained
   (target: only the leaf's ancestors);
5. what the run was for: the promoted stack's leaf accuracy beside the flat network's and
   the SVC's on the same test images, and the stack's accuracy per depth
   (:func:`bench.seeds.figures`).

The sample's images are written once by ``taxonomist sample`` into ``incoming/`` and the
project reads them as a folder (``data=folder``), so that step 4 can add images the way
a user does. Targets: full parallel run <= 15 min, no-op < 5 s.

Usage::

    python -m bench.scale                       # the 35-node vehicles sample
    python -m bench.scale --experiment none     # the 4-node digits, for a quick look
    python -m bench.scale --epochs 1 --jobs 2 --keep /tmp/scale-bench

Writes ``bench/results/scale.json`` (tables ``runs`` and ``accuracy``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from PIL import Image, ImageOps

from bench.record import BenchRun, Figure, Table, add_results_option, ratio
from bench.seeds import figures
from bench.shell import sh

REPO = Path(__file__).resolve().parents[1]
NEW_VIEWS = 6  # images added to one leaf in step 4
# What a stage process does before its own work: the imports, the config, MLflow.
STAGE_PREAMBLE = """
import time; start = time.perf_counter()
from pathlib import Path
from taxonomist.cli import main
import taxonomist.train.fit, taxonomist.evaluate.node
from taxonomist.config import Paths, compose_config
from taxonomist.pipeline import check_current
from taxonomist.tracking.runs import RunLog
config = compose_config(); paths = Paths(Path.cwd()); check_current(config, paths)
RunLog.for_project(config.project.mlflow, paths).ensure_experiment()
print(time.perf_counter() - start)
"""
IN_WORKER = """
import time
from pathlib import Path
from taxonomist.config import Paths, compose_config
from taxonomist.pipeline import check_current
from taxonomist.tracking.runs import RunLog
import taxonomist.train.fit, taxonomist.evaluate.node
compose_config()
times = []
for _ in range(5):
    start = time.perf_counter()
    config = compose_config(); paths = Paths(Path.cwd()); check_current(config, paths)
    RunLog.for_project(config.project.mlflow, paths).ensure_experiment()
    times.append(time.perf_counter() - start)
print(min(times))
"""


# Runs ``cmd`` and then prints the largest resident set (KiB on Linux) of any process
# below it: a fresh wrapper per measured run, so the runs do not share one maximum.
RSS_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
    "sys.exit(code)"
)


def sh_peak(cmd: list[str], cwd: Path) -> tuple[float, str, float]:
    """Like :func:`sh`, plus the peak RSS (MiB) of the biggest process it ran."""
    seconds, out = sh([sys.executable, "-c", RSS_WRAPPER, *cmd], cwd)
    kib = float(re.findall(r"peak_rss_kib (\d+)", out)[-1])
    return seconds, out, kib / 1024


def make_project(root: Path, overrides: list[str], epochs: int | None) -> None:
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("overrides.yaml"))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"],
                ["dvc", "config", "core.analytics", "false"]):
        sh(cmd, root)
    sh(["taxonomist", "pipeline", *overrides], root)  # the sample's own data settings
    params = yaml.safe_load((root / "params.yaml").read_text())
    sample = dict(params["data"])
    sh(["taxonomist", "sample"], root)  # its images, once, as a user's folder
    shutil.move(root / sample["root"], root / "incoming")
    folder = [*overrides, "data=folder", "data.root=incoming"]
    if epochs is not None:
        folder += [f"classifiers.{node}.epochs={epochs}" for node in inner_nodes(root)]
    sh(["taxonomist", "pipeline", "--reset", *folder], root)
    sh(["git", "add", "-A"], root)
    sh(["git", "-c", "user.email=b@b", "-c", "user.name=bench", "commit", "-qm", "bench"], root)


def inner_nodes(root: Path) -> dict[str, dict]:
    """Each inner node's params (``params/<node>.json``), by node."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((root / "params").glob("*.json"))}


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


def add_views_of_one_leaf(root: Path, leaf: str) -> None:
    """``NEW_VIEWS`` new images of ``leaf``: mirrored copies of its own, as new sets."""
    manifest = root / "incoming" / "manifest.csv"
    lines = manifest.read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
    theirs = [r for r in rows if r["label"] == leaf][:NEW_VIEWS]
    with manifest.open("a") as out:
        for n, row in enumerate(theirs):
            source = root / "incoming" / row["path"]
            path = f"{Path(row['path']).parent}/bench-new-{n}.png"
            ImageOps.mirror(Image.open(source)).save(root / "incoming" / path)
            new = {**row, "path": path, "set_id": f"bench-new-{n}"}
            out.write(",".join(new[h] for h in header) + "\n")


def deepest_leaf(root: Path) -> tuple[str, list[str]]:
    """A leaf at the greatest depth, and its ancestors (the inner nodes above it)."""
    nodes = inner_nodes(root)
    parent = {c: n for n, spec in nodes.items() for c in spec["classes"]}
    leaves = [c for c in parent if c not in nodes]

    def ancestors(name: str) -> list[str]:
        return [parent[name], *ancestors(parent[name])] if name in parent else []

    leaf = max(leaves, key=lambda c: len(ancestors(c)))
    return leaf, ancestors(leaf)


def fixed_costs(root: Path) -> tuple[float, float]:
    """Seconds of a stage's preamble in a new process, and in a warm worker."""
    process = min(float(sh([sys.executable, "-c", STAGE_PREAMBLE], root)[1].split()[-1])
                  for _ in range(3))
    worker = float(sh([sys.executable, "-c", IN_WORKER], root)[1].split()[-1])
    return process, worker


def bench(args: argparse.Namespace, work: Path) -> dict:
    overrides = [] if args.experiment == "none" else [f"+experiment={args.experiment}"]
    base = work / "base"
    make_project(base, overrides, args.epochs)
    serial, parallel = work / "serial", work / "parallel"
    shutil.copytree(base, serial, symlinks=True)
    shutil.copytree(base, parallel, symlinks=True)
    result: dict = {}
    result["serial_s"], out, result["serial_peak_rss_mib"] = sh_peak(["dvc", "repro"], serial)
    result["stages"] = len(stages_run(out))
    result["parallel_s"], _, result["parallel_peak_rss_mib"] = sh_peak(
        ["taxonomist", "repro", "--jobs", str(args.jobs)], parallel)
    result["noop_dvc_repro_s"], _ = sh(["dvc", "repro"], parallel)
    result["noop_dvc_status_s"], status = sh(["dvc", "status"], parallel)
    result["noop_status_clean"] = "up to date" in status
    result["noop_taxonomist_repro_s"], _ = sh(["taxonomist", "repro"], parallel)
    result["stage_process_fixed_s"], result["stage_in_worker_fixed_s"] = fixed_costs(parallel)
    result["accuracy"] = figures(parallel)
    leaf, ancestors = deepest_leaf(parallel)
    add_views_of_one_leaf(parallel, leaf)
    result["incremental_s"], out = sh(
        ["taxonomist", "repro", "--jobs", str(args.jobs)], parallel)
    retrained = sorted(s.removeprefix("train@") for s in stages_run(out) if s.startswith("train@"))
    result |= {"leaf": leaf, "ancestors": sorted(ancestors), "retrained": retrained}
    return result


def fixed_shares(r: dict, jobs: int) -> tuple[float, float]:
    """The share of the serial and of the parallel run spent in stages' fixed costs."""
    n = r["stages"]
    serial_fixed = n * r["stage_process_fixed_s"]
    parallel_fixed = jobs * r["stage_process_fixed_s"] + n * r["stage_in_worker_fixed_s"]
    return serial_fixed / r["serial_s"], parallel_fixed / r["parallel_s"]


def runs_table(r: dict, jobs: int) -> Table:
    """:func:`report`'s rows as the result file's table."""
    serial_share, parallel_share = fixed_shares(r, jobs)
    only = r["retrained"] == r["ancestors"]
    return Table("runs", ("measured", "value", "against the serial baseline", "note"), [
        ("serial `dvc repro`, YAML → promoted stack", Figure(r["serial_s"], "s", digits=0),
         None, None),
        (f"`taxonomist repro --jobs {jobs}`", Figure(r["parallel_s"], "s", digits=0),
         ratio(r["serial_s"] / r["parallel_s"], "faster"), "target ≤ 900 s"),
        ("fixed cost of one stage process", Figure(r["stage_process_fixed_s"], "s", digits=1),
         Figure(100 * serial_share, "%", "of the serial run", digits=0),
         f"{r['stages']} stages"),
        ("the same in a warm worker", Figure(r["stage_in_worker_fixed_s"], "s", digits=2),
         Figure(100 * parallel_share, "%", "of the parallel run", digits=0), "target ≤ 20 %"),
        ("no-op `dvc repro`", Figure(r["noop_dvc_repro_s"], "s", digits=1),
         ratio(r["noop_dvc_repro_s"] / r["stage_process_fixed_s"],
               "one stage process's fixed cost"), "target < 5 s"),
        ("no-op `dvc status`", Figure(r["noop_dvc_status_s"], "s", digits=1), None,
         "clean" if r["noop_status_clean"] else "NOT CLEAN"),
        ("no-op `taxonomist repro`", Figure(r["noop_taxonomist_repro_s"], "s", digits=1),
         None, None),
        (f"+{NEW_VIEWS} images of leaf `{r['leaf']}`, `taxonomist repro`",
         Figure(r["incremental_s"], "s", digits=0), None,
         f"retrained {', '.join(r['retrained']) or 'nothing'}: "
         + ("its ancestors, only those" if only else "NOT only its ancestors")),
        ("peak RSS, serial", Figure(r["serial_peak_rss_mib"], "MiB", digits=0), None,
         "largest single process"),
        ("peak RSS, parallel", Figure(r["parallel_peak_rss_mib"], "MiB", digits=0), None,
         "largest single process"),
    ])


def accuracy_table(r: dict) -> Table:
    """The promoted stack against both baselines on the same test images, and by depth."""
    found = r["accuracy"]
    depths = sorted(k for k in found if k.startswith("accuracy_depth_"))
    return Table("accuracy", ("model", "leaf accuracy", "note"), [
        ("the stack, every walk to a leaf", Figure(found["stack"], "", digits=4),
         f"mistakes' mean tree distance {found['stack_mistake_distance']:.2f}"),
        ("the stack with its stops", Figure(found["stack_with_stops"], "", digits=4),
         f"coverage {found['coverage']:.3f}"),
        ("one flat network", Figure(found["flat"], "", digits=4),
         f"mistakes' mean tree distance {found['flat_mistake_distance']:.2f}"),
        ("SVC on grey pixels", Figure(found["svc"], "", digits=4), None),
        *((f"the stack at depth {key.removeprefix('accuracy_depth_')}",
           Figure(found[key], "", digits=4), None) for key in depths),
    ])


def report(r: dict, jobs: int) -> None:
    n = r["stages"]
    serial_share, parallel_share = fixed_shares(r, jobs)
    rows = [
        ("serial `dvc repro`, YAML -> promoted stack", f"{r['serial_s']:.0f} s", "1.00x"),
        (f"`taxonomist repro --jobs {jobs}`", f"{r['parallel_s']:.0f} s",
         f"{r['serial_s'] / r['parallel_s']:.2f}x faster (target <= 900 s)"),
        ("fixed cost of one stage process", f"{r['stage_process_fixed_s']:.1f} s",
         f"{n} stages: {serial_share:.0%} of the serial run"),
        ("the same in a warm worker", f"{r['stage_in_worker_fixed_s']:.2f} s",
         f"{parallel_share:.0%} of the parallel run (target <= 20%)"),
        # Against one stage's start-up, so machines of different speed compare.
        ("no-op `dvc repro`", f"{r['noop_dvc_repro_s']:.1f} s",
         f"{r['noop_dvc_repro_s'] / r['stage_process_fixed_s']:.2f}x one stage process's "
         "fixed cost (target < 5 s)"),
        ("no-op `dvc status`", f"{r['noop_dvc_status_s']:.1f} s",
         "clean" if r["noop_status_clean"] else "NOT CLEAN"),
        ("no-op `taxonomist repro`", f"{r['noop_taxonomist_repro_s']:.1f} s", ""),
        (f"+{NEW_VIEWS} images of leaf {r['leaf']}, `taxonomist repro`",
         f"{r['incremental_s']:.0f} s",
         f"retrained {', '.join(r['retrained']) or 'nothing'}; ancestors "
         f"{', '.join(r['ancestors'])}"
         + (" (only those)" if r["retrained"] == r["ancestors"] else " (NOT only those)")),
        ("peak RSS, serial / parallel", f"{r['serial_peak_rss_mib']:.0f} / "
         f"{r['parallel_peak_rss_mib']:.0f} MiB", "largest single process"),
    ]
    print(f"| measured ({n} stages) | value | against the serial baseline / target |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="vehicles",
                        help="conf/experiment/NAME.yaml (default vehicles); none: digits")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, help="every node's epochs (default: conf's)")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    add_results_option(parser)
    args = parser.parse_args()
    run = BenchRun.start("scale", args.results_dir, args)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        result = bench(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="scale-bench-") as work:
            result = bench(args, Path(work))
    print(json.dumps(result, indent=2))
    report(result, args.jobs)
    run.write([runs_table(result, args.jobs), accuracy_table(result)])


if __name__ == "__main__":
    main()
