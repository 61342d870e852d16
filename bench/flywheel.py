"""The label loop measured end to end: noise in, one expert round, accuracy back.

    python -m bench.flywheel                            # 40 digits per class, 30 epochs
    python -m bench.flywheel --per-class 20 --epochs 4  # a quick look at the wiring

One project of the digits sample (``--per-class`` originals per digit, 2-3 views each)
is ingested and split once, with its true labels, then copied three times:

- **A**, clean: ``taxonomist repro`` (``dvc repro``'s stages, in 2 warm workers) -> stack
  A;
- **B**, the same with ``--noise`` of the sets relabelled in the source manifest before
  training, (a) each to a random other digit and (b) to its most confusable sibling
  (3<->5, 4<->9, 1<->7: the mistakes a crowd really makes), then ``taxonomist repro``
  -> stack B. Every node trains ``--epochs`` epochs without early stopping, so the stack fits
  its train split, noise included (the train accuracy on the noisy labels is printed);
- **C** (on the ``--expert-round`` kind): ``taxonomist label queue --limit 2N`` on B
  (N planted images), a simulated expert who is always right decides each of its rows,
  ``taxonomist label apply``, ``taxonomist repro`` -> stack C.

The split is frozen before the noise, so A, B and C are tested on the same images, each
against its true label. Printed and written to ``bench/results/flywheel.json``: the
share of the planted images in the queue's top N and top 2N rows (targets: >= 60 % and
>= 80 %), A, B and C leaf accuracy (target: C within 0.5 points of A), the rows the
expert read, the planted errors left, and what the queue cost against B's repro.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.record import BenchRun, Figure, Table, add_results_option, ratio
from bench.scale import REPO, inner_nodes, sh
from bench.verify import registered_uri, served_answers
from taxonomist.config import DataConfig, compose_config, resolve_tracking_uri
from taxonomist.config.paths import Paths
from taxonomist.data.sample import DIGIT_NAMES, write_sample
from taxonomist.tracking.client import tracking_at

# The most confusable sibling of each digit that has one.
CONFUSABLE = {"three": "five", "five": "three", "four": "nine", "nine": "four",
              "one": "seven", "seven": "one"}
NOISE_KINDS = ("random", "confusable")
SOURCE = "incoming"
MIN_IMAGES = 3
# dvc.yaml's stages, run by the project's parallel runner: the same stages as `dvc repro`
# in warm workers, which saves a stage's start-up 40 times over on the shared cores
REPRO = ["taxonomist", "repro", "--jobs", "2"]


@dataclass(frozen=True)
class Loop:
    """One noise kind's run: B, the expert round, C."""

    kind: str
    planted: int  # images relabelled
    top_n: float  # share of the planted images in the queue's top N rows
    top_2n: float
    train_fit: float  # B's leaf accuracy on its own (noisy) train labels
    accuracy_b: float
    repro_b_s: float
    queue_s: float
    round: Round | None  # None: no expert round on this kind (``--expert-round``)


@dataclass(frozen=True)
class Round:
    """The expert's round on B and the stack C it gives."""

    accuracy_c: float
    rows_read: int
    left: int  # planted images still mislabelled after the round


def base_project(root: Path, per_class: int, epochs: int, seed: int) -> pd.DataFrame:
    """A git + DVC project reading the sample from ``incoming/`` (a folder source), every
    node at ``epochs`` epochs without early stopping, ingested and split; its source
    manifest (the true labels)."""
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("overrides.yaml"))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    write_sample(DataConfig(per_class=per_class), seed, root / SOURCE)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"],
                ["dvc", "config", "core.analytics", "false"],
                ["taxonomist", "pipeline", "data=folder", f"data.root={SOURCE}"]):
        sh(cmd, root)
    # few originals per digit: a few images of a class in val or test is enough here
    fit = [f"classifiers.{node}.{key}={value}" for node in inner_nodes(root)
           for key, value in (("epochs", epochs), ("patience", epochs), ("min_images", MIN_IMAGES))]
    sh(["taxonomist", "pipeline", "data=folder", f"data.root={SOURCE}", *fit], root)
    sh(["git", "add", "-A"], root)
    sh(["git", "-c", "user.email=b@b", "-c", "user.name=bench", "commit", "-qm", "bench"], root)
    sh(["dvc", "repro", "split"], root)
    return pd.read_csv(root / SOURCE / "manifest.csv")


def plant(root: Path, source: pd.DataFrame, kind: str, share: float, seed: int) -> set[str]:
    """Relabel ``share`` of the sets of ``source`` (the true source manifest) in
    ``root``'s copy of it; the paths relabelled."""
    rng = np.random.default_rng(seed)
    eligible = source if kind == "random" else source[source["label"].isin(list(CONFUSABLE))]
    sets = eligible["set_id"].unique()
    chosen = set(rng.choice(sets, round(share * source["set_id"].nunique()), replace=False))
    noisy = source.copy()
    for set_id in chosen:
        rows = noisy["set_id"] == set_id
        true = noisy.loc[rows, "label"].iloc[0]
        others = [d for d in DIGIT_NAMES if d != true]
        noisy.loc[rows, "label"] = CONFUSABLE[true] if kind == "confusable" else rng.choice(others)
    noisy.to_csv(root / SOURCE / "manifest.csv", index=False)
    return set(noisy.loc[noisy["set_id"].isin(chosen), "path"])


def leaf_accuracy(root: Path, truth: pd.Series, split: str, against: pd.Series | None = None
                  ) -> float:
    """The stack the last repro registered, served, on ``split``'s images: the
    share answered with their label in ``against`` (by path; default ``truth``)."""
    paths = Paths(root)
    splits = pd.read_parquet(paths.splits, columns=["id", "split"])
    manifest = pd.read_parquet(paths.manifest, columns=["id", "path", "stored"])
    rows = manifest.merge(splits[splits["split"] == split], on="id")
    with tracking_at(resolve_tracking_uri(compose_config(paths.conf).project.mlflow.tracking_uri,
                                          paths)):
        answers = served_answers(registered_uri(paths), root, rows["stored"])
    labels = (truth if against is None else against).reindex(rows["path"]).to_numpy()
    return float(np.mean(answers == labels))


def timed_sh(cmd: list[str], root: Path) -> float:
    start = time.perf_counter()
    sh(cmd, root)
    return time.perf_counter() - start


def expert_round(root: Path, truth: pd.Series, limit: int) -> pd.DataFrame:
    """``label queue --limit``, every row decided right, ``label apply``; the queue."""
    sh(["taxonomist", "label", "queue", "--limit", str(limit)], root)
    queue = pd.read_csv(root / "reports" / "labels" / "decisions.csv", dtype=str,
                        keep_default_na=False)
    decided = queue.assign(label=truth.reindex(queue["path"]).to_numpy(), suggested="")
    decided.to_csv(root / "expert_decisions.csv", index=False)
    sh(["taxonomist", "label", "apply", "expert_decisions.csv"], root)
    return queue


def loop(base: Path, work: Path, source: pd.DataFrame, kind: str, args: argparse.Namespace
         ) -> Loop:
    """B, and the expert round and C where asked, for one noise kind, from a copy of the
    split project."""
    root = work / kind
    shutil.copytree(base, root, symlinks=True)
    truth = source.set_index("path")["label"]
    planted = plant(root, source, kind, args.noise, args.seed)
    repro_b_s = timed_sh(REPRO, root)
    noisy = pd.read_csv(root / SOURCE / "manifest.csv").set_index("path")["label"]
    train_fit = leaf_accuracy(root, truth, "train", against=noisy)
    accuracy_b = leaf_accuracy(root, truth, "test")
    n = len(planted)
    start = time.perf_counter()
    queue = expert_round(root, truth, 2 * n)
    queue_s = time.perf_counter() - start
    ranked = list(queue["path"])
    done = (after_round(root, truth, planted, len(queue))
            if args.expert_round in (kind, "both") else None)
    return Loop(kind, n, len(planted & set(ranked[:n])) / n,
                len(planted & set(ranked[:2 * n])) / n, train_fit, accuracy_b, repro_b_s,
                queue_s, done)


def after_round(root: Path, truth: pd.Series, planted: set[str], rows_read: int) -> Round:
    """The pipeline again on the expert's decisions: stack C, and the planted errors left."""
    sh(REPRO, root)
    labels = pd.read_parquet(Paths(root).manifest, columns=["path", "label"]).set_index("path")
    wrong = sorted(planted)
    left = int((labels["label"].reindex(wrong) != truth.reindex(wrong)).sum())
    return Round(leaf_accuracy(root, truth, "test"), rows_read, left)


def report(accuracy_a: float, repro_a_s: float, loops: list[Loop]) -> None:
    print(f"A (clean): leaf accuracy {accuracy_a:.2%} on the clean test labels; "
          f"repro {repro_a_s:.0f} s")
    for r in loops:
        print(f"{r.kind}: {r.planted} planted images; queue top N {r.top_n:.0%} (target >= 60 %)"
              f", top 2N {r.top_2n:.0%} (target >= 80 %); B fits its noisy train labels at "
              f"{r.train_fit:.2%} (want >= 99 %); B {r.accuracy_b:.2%}; label queue "
              f"{r.queue_s:.1f} s = {r.queue_s / r.repro_b_s:.1%} of B's repro "
              f"({r.repro_b_s:.0f} s)")
        if r.round is not None:
            c = r.round
            print(f"  one expert round: read {c.rows_read} rows, {c.left} planted errors left; "
                  f"C {c.accuracy_c:.2%} (A - C = {100 * (accuracy_a - c.accuracy_c):.2f} "
                  "points, target <= 0.5)")


def tables(accuracy_a: float, repro_a_s: float, loops: list[Loop]) -> list[Table]:
    found = Table("queue", ("planted noise", "images planted", "in the top N rows",
                            "in the top 2N rows", "B's fit of its noisy train labels",
                            "`label queue`"), [
        (f"`{r.kind}`", Figure(r.planted, ""), Figure(100 * r.top_n, "%", digits=0),
         Figure(100 * r.top_2n, "%", digits=0), Figure(100 * r.train_fit, "%", digits=1),
         ratio(r.queue_s / r.repro_b_s, f"B's `taxonomist repro` ({r.repro_b_s:.0f} s)",
               digits=3))
        for r in loops])
    rows = [("A: clean labels", None, Figure(100 * accuracy_a, "%", digits=2), None, None)]
    for r in loops:
        rows.append((f"B: `{r.kind}` noise", None, Figure(100 * r.accuracy_b, "%", digits=2),
                     Figure(100 * (r.accuracy_b - accuracy_a), "points", "A", digits=2),
                     Figure(r.planted, "")))
        if r.round is not None:
            c = r.round
            rows.append((f"C: B (`{r.kind}`) + one expert round", Figure(c.rows_read, ""),
                         Figure(100 * c.accuracy_c, "%", digits=2),
                         Figure(100 * (c.accuracy_c - accuracy_a), "points", "A", digits=2),
                         Figure(c.left, "")))
    loop_table = Table("loop", ("stack", "rows the expert read", "leaf accuracy (clean test)",
                                "against A", "planted errors left"), rows)
    return [found, loop_table]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=40, help="originals per digit")
    parser.add_argument("--epochs", type=int, default=30, help="every node, no early stop")
    parser.add_argument("--noise", type=float, default=0.05, help="share of the sets relabelled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--expert-round", choices=[*NOISE_KINDS, "both"], default="confusable",
                        help="the noise kind(s) the expert round and stack C are run on")
    parser.add_argument("--keep", type=Path, help="build the projects here and keep them")
    add_results_option(parser)
    args = parser.parse_args(argv)
    run = BenchRun.start("flywheel", args.results_dir, args)
    with tempfile.TemporaryDirectory(prefix="bench-flywheel-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        source = base_project(work / "base", args.per_class, args.epochs, args.seed)
        clean = work / "clean"
        shutil.copytree(work / "base", clean, symlinks=True)
        repro_a_s = timed_sh(REPRO, clean)
        accuracy_a = leaf_accuracy(clean, source.set_index("path")["label"], "test")
        loops = [loop(work / "base", work, source, kind, args) for kind in NOISE_KINDS]
    report(accuracy_a, repro_a_s, loops)
    run.write(tables(accuracy_a, repro_a_s, loops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
