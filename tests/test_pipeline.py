from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from taxonomist.cli import main
from taxonomist.config import Paths, compose_config
from taxonomist.errors import StaleParamsError
from taxonomist.pipeline import check_current, diff_generated, dvc_yaml, write
from tests.conftest import REPO


def test_committed_params_and_dvc_yaml_are_current(monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    assert diff_generated(compose_config(REPO / "conf"), Paths(REPO)) == ""


def test_one_train_and_evaluate_stage_per_inner_node(project: Path) -> None:
    stages = dvc_yaml(compose_config())["stages"]
    assert stages["train"]["foreach"] == ["digit", "round", "straight", "curved"]
    assert stages["evaluate"]["foreach"] == stages["train"]["foreach"]
    assert stages["train"]["do"]["deps"] == ["data/cache"]  # not a folder of images


def test_train_params_are_only_what_training_reads(project: Path) -> None:
    params = dvc_yaml(compose_config())["stages"]["train"]["do"]["params"]
    assert "nodes.${item}.classifier.epochs" in params
    assert "nodes.${item}.classifier.backbone" in params
    assert "nodes.${item}.classifier.threshold" not in params  # the stack reads it
    assert not any(p.startswith("nodes.round") for p in params)


def test_params_yaml_has_one_section_per_node(project: Path) -> None:
    config = compose_config()
    write(config, Paths(project))
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert list(params["nodes"]) == ["digit", "round", "straight", "curved"]
    assert params["nodes"]["round"]["classes"] == ["zero", "six", "eight", "nine"]
    assert params["nodes"]["round"]["classifier"]["epochs"] == 8


def test_stale_params_are_refused_with_the_command_to_run(project: Path) -> None:
    write(compose_config(), Paths(project))
    (project / "conf" / "classifiers" / "round.yaml").write_text("epochs: 3\n")
    with pytest.raises(StaleParamsError, match="run `taxonomist pipeline`") as err:
        check_current(compose_config(), Paths(project))
    assert re.search(r"-\s+epochs: 8\n\+\s+epochs: 3", str(err.value))


def test_every_stage_refuses_to_run_on_stale_params(project: Path, capsys) -> None:
    write(compose_config(), Paths(project))
    (project / "conf" / "classifiers" / "round.yaml").write_text("epochs: 3\n")
    assert main(["train", "round"]) == 2
    assert "run `taxonomist pipeline`" in capsys.readouterr().err
    assert not (project / "models").exists()


def test_check_flag_exits_nonzero_with_a_diff(project: Path, capsys) -> None:
    assert main(["pipeline", "--check"]) == 1
    assert "+++ params.yaml (from conf/)" in capsys.readouterr().out
    assert main(["pipeline"]) == 0
    assert main(["pipeline", "--check"]) == 0
