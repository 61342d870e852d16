"""The same sweep through Optuna and through submitit's local executor."""

from __future__ import annotations

import json

import yaml

from tests.sweep.conftest import sweep, sweep_runs


def test_optuna_maximises_accuracy_with_an_in_memory_study(sweep_project, capsys) -> None:
    lr = "optim.lr=tag(log, interval(0.0003, 0.03))"
    optuna = ["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.seed=0"]
    code, out, _ = sweep(capsys, [lr, *optuna], ["--metric", "val_acc"])
    assert code == 0
    parent, children = sweep_runs(sweep_project, "best_val_acc", descending=True)
    assert parent.data.tags["taxonomist.sweep.sweeper"] == "optuna"
    assert len(children) == 2
    assert all(0.0003 <= json.loads(c.data.tags["taxonomist.sweep.values"])["optim.lr"] <= 0.03
               for c in children)
    table = out[out.index("ranked by best_val_acc (higher is better)") :].splitlines()
    accuracy = [float(line.split()[2]) for line in table[2:4]]
    assert accuracy == sorted(accuracy, reverse=True)
    assert {line.split()[-3] for line in table[2:4]} == {c.info.run_id[:8] for c in children}
    (results,) = (sweep_project / "sweeps" / "round").glob("*/optimization_results.yaml")
    best = yaml.safe_load(results.read_text())["best_value"]
    assert best == max(c.data.metrics["best_val_acc"] for c in children)  # Optuna maximised


def test_submitit_local_runs_each_trial_as_a_job(sweep_project, capsys) -> None:
    launcher = ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"]
    code, out, _ = sweep(capsys, ["optim.lr=0.01,0.0003", *launcher])
    assert code == 0
    parent, children = sweep_runs(sweep_project)
    assert parent.data.tags["taxonomist.sweep.launcher"] == "submitit_local"
    assert len(children) == 2  # the parent's id reached the jobs through the environment
    jobs = list((sweep_project / "sweeps" / "round").glob("*/.submitit/*/*_result.pkl"))
    assert len(jobs) == 2  # each trial ran as its own submitit job
    assert not (sweep_project / "models").exists()
    assert "ranked by best_val_loss" in out
