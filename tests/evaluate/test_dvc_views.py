"""What DVC shows of the metrics files: scalars only, 120 columns, a diff after a change.

The files are written by the stages' own writers, then read by the real `dvc` in a
fresh git repository declaring them as `dvc.yaml` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.compare import show_metrics

from taxonomist.config import Paths
from taxonomist.contracts.metrics import STACK_HEADLINE
from taxonomist.evaluate.hierarchy import stack_metrics, stack_outcomes
from taxonomist.evaluate.node import write_outputs
from taxonomist.pipeline import plot_declarations
from taxonomist.stack.build import write_stack_views, write_stopping_views
from taxonomist.taxonomy import Taxonomy
from tests.stack.made_up import stopping_report

DVC = str(Path(sys.executable).with_name("dvc"))
# the sample's tree: its longest node name ('straight') sets the Path column
TREE = Taxonomy.from_tree("digits", {"digit": {
    "round": ["zero", "six", "eight", "nine"], "straight": ["one", "four", "seven"],
    "curved": ["two", "three", "five"],
}})
TERMINAL = 120


def write_views(paths: Paths, wrong: int = 1) -> list[Path]:
    """Every metrics file the evaluate and stack stages write, on a made-up test split
    where the stack and each node get ``wrong`` images wrong."""
    for node in TREE.inner_nodes:
        kids = list(TREE.children[node])
        y_true = kids * 3
        y_pred = [kids[1]] * wrong + y_true[wrong:]
        metrics = {"accuracy": 0.9, "macro_f1": 0.8888, "ece": 0.0123, "n_test": len(y_true),
                   "classes": kids, "per_class": {k: {"precision": 1.0, "recall": 0.5,
                                                      "f1": 0.6667, "support": 3}
                                                  for k in kids}}
        write_outputs(paths, node, metrics, y_true, y_pred, kids)
    labels = list(TREE.leaves) * 2
    walks = [TREE.path(leaf)[1:] for leaf in labels]
    walks[:wrong] = [["round"]] * wrong
    outcomes = stack_outcomes(TREE, labels, walks)
    write_stack_views(paths, TREE, stack_metrics(TREE, outcomes, walks), outcomes)
    write_stopping_views(paths, stopping_report(TREE.inner_nodes, risk=0.05 * wrong))
    return [paths.node_metrics(n) for n in TREE.inner_nodes] + [paths.stack_metrics]


def test_metrics_files_hold_only_scalars(tmp_path: Path) -> None:
    for path in write_views(Paths(tmp_path)):
        data = json.loads(path.read_text())
        nested = {k: v for k, v in data.items() if not isinstance(v, int | float)}
        assert not nested, f"{path.name}: dvc would print these as columns: {nested}"
    stack = json.loads(Paths(tmp_path).stack_metrics.read_text())
    assert tuple(stack) == STACK_HEADLINE
    assert stack["leaf_accuracy"] == 0.95  # 19 of 20 leaves: the first walk stopped early


def test_per_class_figures_are_plots(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    write_views(paths)
    round_rows = (paths.node_plots("round") / "per_class.csv").read_text().splitlines()
    assert round_rows[:2] == ["class,precision,recall,f1,support", "zero,1.0,0.5,0.6667,3"]
    stack_rows = (paths.node_plots("_stack") / "per_class.csv").read_text().splitlines()
    assert stack_rows[0] == "class,recall" and len(stack_rows) == 1 + len(TREE.leaves)
    depth = (paths.node_plots("_stack") / "depth.csv").read_text().splitlines()
    assert depth == ["depth,accuracy,images", "1,1.0,20", "2,0.95,20"]  # one stopped early


def dvc(repo: Path, *args: str) -> str:
    env = os.environ | {"DVC_NO_ANALYTICS": "1", "COLUMNS": str(TERMINAL)}
    done = subprocess.run([DVC, *args], cwd=repo, env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git + DVC repository with the metrics files committed."""
    files = write_views(Paths(tmp_path))
    metrics = [str(f.relative_to(tmp_path)) for f in files]
    plots = plot_declarations(TREE.inner_nodes)  # as `taxonomist pipeline` declares them
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"metrics": metrics, "plots": plots}))
    git(tmp_path, "init", "-q")
    dvc(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "metrics")
    return tmp_path


def assert_fits(table: str) -> None:
    lines = table.splitlines()
    assert len(lines) == 1 + len(TREE.inner_nodes) + 1  # the header, the nodes, the stack
    assert "hierarchical_f1" in lines[0] and "ece" in lines[0]
    widest = max(lines, key=len)
    assert len(widest) <= TERMINAL, f"{len(widest)} columns:\n{widest}"


def test_dvc_metrics_table_fits_the_terminal(tmp_path: Path, capsys) -> None:
    """DVC's own table code (what `dvc metrics show` prints), without a repository."""
    files = write_views(Paths(tmp_path))
    data = {str(f.relative_to(tmp_path)): {"data": json.loads(f.read_text())} for f in files}
    show_metrics({"workspace": {"data": data}}, precision=5, round_digits=True)
    assert_fits(capsys.readouterr().out)


@pytest.mark.slow
def test_dvc_metrics_show_fits_the_terminal(repo: Path) -> None:
    assert_fits(dvc(repo, "metrics", "show"))


@pytest.mark.slow
def test_dvc_metrics_diff_shows_a_change_against_the_last_commit(repo: Path) -> None:
    write_views(Paths(repo), wrong=2)
    diff = dvc(repo, "metrics", "diff", "--json")
    changed = json.loads(diff)["metrics/stack.json"]
    assert (changed["leaf_accuracy"]["old"], changed["leaf_accuracy"]["new"]) == (0.95, 0.9)
    assert changed["coverage"]["diff"] == pytest.approx(-0.05)
    drawn = json.loads(dvc(repo, "plots", "diff", "--json"))["data"]
    depth = drawn["plots/_stack/depth.csv"][0]["content"]["data"]["values"]
    assert {(v["rev"], v["depth"], v["accuracy"]) for v in depth} >= {
        ("HEAD", "2", "0.95"), ("workspace", "2", "0.9")}
    assert "plots/round/per_class.csv" in drawn and "plots/round/confusion.csv" in drawn


@pytest.mark.slow
def test_dvc_plots_draw_the_risk_coverage_curves_in_one_figure(repo: Path) -> None:
    write_views(Paths(repo), wrong=2)
    drawn = json.loads(dvc(repo, "plots", "diff", "--json"))["data"]
    curves = drawn["risk_coverage"][0]["content"]["data"]["values"]
    files = {v["filename"] for v in curves}  # DVC drops the prefix the files share
    assert files == {"risk_coverage.csv", *(f"risk_coverage/{n}.csv" for n in TREE.inner_nodes)}
    stack = {(v["rev"], v["coverage"], v["risk"]) for v in curves
             if v["filename"] == "risk_coverage.csv"}
    assert {("HEAD", "1.0", "0.05"), ("workspace", "1.0", "0.1")} <= stack
    assert "plots/_stack/calibration.csv" in drawn
