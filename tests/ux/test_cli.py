"""The command line a newcomer meets: help to act on, errors that blame what was typed,
and the project found from any folder in it, as git and dvc find theirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from taxonomist.cli import build_parser, main
from taxonomist.cli.help import VERBS, verbs_of
from taxonomist.config.compose import CONFIG_DIR_ENV
from taxonomist.config.paths import find_project_root
from taxonomist.serve.server import app_from_conf

NODES = "digit, round, straight, curved"
# git and dvc from the venv first, as `make` puts them
TOOLS = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_the_top_help_says_what_it_is_and_the_first_three_commands(capsys):
    with pytest.raises(SystemExit, match="0"):
        main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "Declarative MLOps" in out
    first_steps = out[out.index("first steps"):]
    for command in ("make run", "dvc metrics show", "make ui"):
        assert f"\n  {command} " in first_steps
    assert "`dvc repro` runs these verbs for you" in out


@pytest.mark.parametrize("verb", sorted(verbs_of(build_parser())))
def test_every_verb_has_a_description_and_an_example(verb):
    sub = verbs_of(build_parser())[verb]
    assert verb in VERBS, f"add '{verb}' to taxonomist.cli.help.VERBS"
    assert sub.description and f"example:\n  taxonomist {verb}" in sub.format_help()
    if VERBS[verb].stage:
        assert "`dvc repro` runs it for you" in " ".join(sub.description.split())


def test_a_verb_that_takes_a_node_lists_them_from_a_subfolder(project: Path, monkeypatch, capsys):
    (project / "reports").mkdir()
    monkeypatch.chdir(project / "reports")
    with pytest.raises(SystemExit, match="0"):
        main(["train", "--help"])
    assert f"NODE is one of: {NODES}" in capsys.readouterr().out


def test_a_misspelt_node_blames_the_command_line_and_lists_the_nodes(project: Path, capsys):
    assert main(["train", "nosuchnode"]) == 2
    assert capsys.readouterr().err == (
        "taxonomist train: error: argument NODE: nosuchnode: not an inner node of the "
        f"taxonomy\n  hint: nodes with a classifier: {NODES}\n"
    )


def test_an_error_from_the_verb_itself_names_it_once(project: Path, capsys):
    assert main(["sweep", "round", "optim.lrr=1e-3,3e-4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("taxonomist sweep: error: ") and err.count("taxonomist sweep:") == 1
    assert "optim.lrr" in err


def test_config_dir_from_another_folder_uses_that_project_s_store(
    project: Path, tmp_path_factory, monkeypatch
):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    assert main(["--config-dir", str(project / "conf"), "history"]) == 2  # nothing registered
    assert list(elsewhere.iterdir()) == []
    assert (project / "mlflow" / "mlflow.db").is_file()


def test_the_server_s_app_from_another_folder_uses_that_project_s_store(
    project: Path, tmp_path_factory, monkeypatch
):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv(CONFIG_DIR_ENV, str(project / "conf"))  # as `serve` hands its workers
    app_from_conf()
    assert list(elsewhere.iterdir()) == []
    assert (project / "mlflow" / "mlflow.db").is_file()


def test_repro_from_another_folder_runs_that_project_s_pipeline(
    project: Path, tmp_path_factory, monkeypatch
):
    (project / "dvc.yaml").write_text(yaml.safe_dump(
        {"stages": {"only": {"cmd": "echo ran > out.txt", "outs": ["out.txt"]}}}))
    for init in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(init, cwd=project, check=True, env=TOOLS)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PATH", TOOLS["PATH"])
    assert main(["--config-dir", str(project / "conf"), "repro"]) == 0
    assert (project / "out.txt").read_text() == "ran\n"
    assert "only" in yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert list(elsewhere.iterdir()) == []


def test_outside_any_project_a_verb_says_so_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["history"]) == 2
    err = capsys.readouterr().err
    assert "not inside a taxonomist project: no conf/config.yaml here or in any folder" in err
    assert "--config-dir" in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("start", ["", "reports/data", "conf/classifiers"])
def test_the_project_root_is_the_nearest_folder_holding_conf(project: Path, start):
    (project / start).mkdir(parents=True, exist_ok=True)
    assert find_project_root(start=project / start) == project
    assert find_project_root(project / "conf", start=Path("/")) == project
