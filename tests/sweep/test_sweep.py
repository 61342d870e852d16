"""`taxonomist sweep` end to end on tiny data: MLflow runs, the ranking, --apply."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from taxonomist.config import Paths, compose_config
from taxonomist.tracking.names import SWEEP_VALUES_TAG, SWEEP_WINNER_TAG
from tests.registry_store import template_db
from tests.sweep.conftest import FAST, client_for, sweep, sweep_runs
from tests.train.test_fit import fake_cache

REPO = Path(__file__).resolve().parents[2]
ROUND_YAML = "conf/classifiers/round.yaml"


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """One basic-launcher sweep of two learning rates with --apply, shared by the tests
    below (training is the slow part): the project, the exit code and the output."""
    from taxonomist.cli import main

    project = tmp_path_factory.mktemp("swept")
    shutil.copytree(REPO / "conf", project / "conf")
    fake_cache(Paths(project), {"train": 64, "val": 16, "test": 16})
    (project / "mlflow").mkdir()
    shutil.copyfile(template_db(tmp_path_factory), project / "mlflow" / "mlflow.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(["sweep", "round", "optim.lr=0.01,0.0003", *FAST, "-m", "--apply"])
    return project, code, out.getvalue()


def test_each_trial_is_a_child_run_of_one_parent(swept) -> None:
    project, code, _ = swept
    assert code == 0
    parent, children = sweep_runs(project)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["taxonomist.stage"] == "sweep"
    assert parent.data.params["optim.lr"] == "0.01,0.0003"  # the sweep, as typed
    assert parent.data.tags[SWEEP_WINNER_TAG] == children[0].info.run_id
    assert len(children) == 2
    values = [json.loads(c.data.tags[SWEEP_VALUES_TAG]) for c in children]
    assert sorted(v["optim.lr"] for v in values) == [0.0003, 0.01]
    assert all(v["epochs"] == 1 and v["backbone.name"] == "test_resnet" for v in values)
    for child in children:
        assert child.data.params["optim.lr"] in {"0.01", "0.0003"}  # trained with it
        assert {"best_val_loss", "best_val_acc", "val_loss"} <= set(child.data.metrics)


def test_prints_the_trials_ranked_best_first(swept) -> None:
    project, _, out = swept
    _, children = sweep_runs(project)
    table = out[out.index("ranked by best_val_loss") :].splitlines()
    assert "same in every trial: backbone.name=test_resnet image_size=16" in table[0]
    assert table[1].split() == ["rank", "best_val_loss", "best_val_acc", "optim.lr", "run"]
    for rank, (line, child) in enumerate(zip(table[2:4], children, strict=True), start=1):
        cells = line.split()
        assert cells[0] == str(rank)
        assert float(cells[1]) == pytest.approx(child.data.metrics["best_val_loss"], abs=1e-4)
        assert cells[4] == child.info.run_id[:8]


def test_publishes_nothing(swept) -> None:
    project, _, _ = swept
    assert not (project / "models").exists()
    assert not (project / "checkpoints").exists()  # trials keep theirs in sweeps/
    assert client_for(project).search_registered_models() == []
    trials = sorted((project / "sweeps" / "round").glob("*/[0-9]*"))
    assert [json.loads((t / "result.json").read_text())["values"]["optim.lr"] for t in trials] == [
        0.01, 0.0003,
    ]
    assert [p for t in trials for p in t.glob("checkpoints/*.ckpt")] == []  # cleared


def test_apply_writes_only_the_winning_swept_value_and_keeps_comments(swept) -> None:
    project, _, out = swept
    _, children = sweep_runs(project)
    winner = json.loads(children[0].data.tags[SWEEP_VALUES_TAG])["optim.lr"]
    text = (project / ROUND_YAML).read_text()
    original = (REPO / ROUND_YAML).read_text()
    assert text.startswith(original)  # comment and existing keys untouched, lines added
    # epochs=1 etc. were conditions of the sweep, not results: not written
    assert yaml.safe_load(text) == {**yaml.safe_load(original), "optim": {"lr": winner}}
    assert f"optim.lr: 0.003 -> {winner}" in out
    assert compose_config(project / "conf").classifiers["round"].optim.lr == winner


def test_a_failed_trial_fails_the_sweep_after_ranking_the_others(sweep_project, capsys) -> None:
    code, out, err = sweep(capsys, ["optim.name=adamw,no_such_optimiser"])
    assert code == 2
    assert "'no_such_optimiser' is not a torch.optim optimiser" in err
    assert "sweep round: 1 trials finished" in out and "ranked by best_val_loss" in out
    parent, children = sweep_runs(sweep_project)
    assert parent.info.status == "FAILED" and len(children) == 1


@pytest.mark.parametrize(
    ("overrides", "options", "message"),
    [
        (["optim.lrr=0.1,0.01"], [], "optim.lrr: no key 'lrr' in optim\n  hint: did you mean 'lr'"),
        (["epoch=3,4"], [], "did you mean 'epochs'?"),
        (["epochs=3,many"], [], "epochs=many: Value 'many' of type 'str' could not be converted"),
        (["+extra=1"], [], "only plain key=value overrides can sweep a node"),
        (["hydra/sweeper=optuna"], [], "nothing to sweep: no key of the classifier definition"),
        (
            ["optim.lr=0.1,0.01", "hydra.sweeper.storage=sqlite:///optuna.db"],
            [],
            "optuna 2.10 (pinned by hydra-optuna-sweeper) cannot open a database",
        ),
        (["optim.lr=0.1,0.01"], ["--with", "trainer=ddp"], "would start the whole sweep again"),
        (
            ["optim.lr=0.1,0.01", "hydra/sweeper=optuna", "hydra.sweeper.direction=minimize"],
            ["--metric", "val_acc"],
            "the sweeper goes for ['minimize'] but the trials are scored by val_acc",
        ),
    ],
)
def test_refuses_what_cannot_work_before_training(
    sweep_project, capsys, overrides, options, message
) -> None:
    code, _, err = sweep(capsys, overrides, options)
    assert code == 2
    assert message in err
    assert not (sweep_project / "models").exists()


def test_refuses_a_leaf(sweep_project, capsys) -> None:
    from taxonomist.cli import main

    assert main(["sweep", "six", "epochs=1,2"]) == 2
    assert "six: not an inner node of the taxonomy" in capsys.readouterr().err
