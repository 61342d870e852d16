from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from taxonomist.cli import main
from taxonomist.config import Balance, compose_config
from taxonomist.config.schema import Head
from taxonomist.errors import ConfigError


def edit(path: Path, **changes) -> None:
    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    data.update(changes)
    path.write_text(yaml.safe_dump(data))


def test_composes_the_shipped_config(project: Path) -> None:
    config = compose_config()
    assert config.taxonomy.inner_nodes == ["digit", "round", "straight", "curved"]
    assert config.classifiers["round"].epochs == 8  # from round.yaml
    assert config.classifiers["curved"].epochs == 6  # from _default.yaml
    assert config.classifiers["digit"].balance is Balance.weights


def test_hydra_and_classifier_overrides(project: Path) -> None:
    config = compose_config(overrides=["trainer=gpu", "seed=7", "classifiers.curved.epochs=2"])
    assert config.project.trainer.accelerator == "gpu"
    assert config.project.seed == 7
    assert config.classifiers["curved"].epochs == 2
    assert config.classifiers["straight"].epochs == 6


@pytest.mark.parametrize(
    ("file", "changes", "message"),
    [
        ("data/sample.yaml", {"colour": "red"}, r"conf/data/sample.yaml: data.colour: unknown key"),
        ("config.yaml", {"seed": "abc"}, r"conf/config.yaml: seed: .*abc"),
        ("classifiers/_default.yaml", {"epochs": "many"}, r"_default.yaml: epochs: .*many"),
        ("classifiers/round.yaml", {"epoch": 3}, r"(?s)round.yaml: epoch: unknown key.*'epochs'"),
        ("classifiers/round.yaml", {"balance": "magic"}, r"round.yaml: balance: .*magic"),
        ("classifiers/six.yaml", {"epochs": 3}, r"six.yaml: 'six' is a leaf class"),
        ("classifiers/truck.yaml", {"epochs": 3}, r"truck.yaml: 'truck' is not in the taxonomy"),
        ("taxonomy/digits.yaml", {"tree": {}}, r"digits.yaml: tree: expected exactly one root"),
        (
            "taxonomy/digits.yaml",
            {"tree": {"digit": {"round": ["six", "nine"], "curved": ["six", "two"]}}},
            r"digits.yaml: tree.digit.\w+.six: class 'six' is used twice",
        ),
        (
            "taxonomy/digits.yaml",
            {"tree": {"digit": {"round": ["six"], "curved": ["two", "five"]}}},
            r"'round' has one child",
        ),
    ],
)
def test_bad_config_names_file_key_and_fix(project: Path, file, changes, message) -> None:
    edit(project / "conf" / file, **changes)
    with pytest.raises(ConfigError, match=message):
        compose_config()


def test_cli_prints_config_errors_without_traceback(project: Path, capsys) -> None:
    edit(project / "conf" / "classifiers" / "_default.yaml", epochs="many")
    assert main(["pipeline"]) == 2
    err = capsys.readouterr().err
    assert "conf/classifiers/_default.yaml: epochs" in err
    assert "Traceback" not in err


def test_missing_conf_dir_says_how_to_point_at_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="--config-dir"):
        compose_config()


@pytest.mark.parametrize(("node", "source"), [("six", "dvc.yaml"), ("animal", "taxonomist sweep")])
def test_a_node_without_a_classifier_is_refused_with_the_inner_nodes(
    project: Path, node: str, source: str
) -> None:
    config = compose_config()
    config.require_inner_node("round", source)  # an inner node passes
    expected = rf"(?s){source}: {node}: not an inner node.*classifier: digit, round"
    with pytest.raises(ConfigError, match=expected):
        config.require_inner_node(node, source)


@pytest.mark.parametrize(
    ("head", "classical"),
    [(Head.linear, False), (Head.mlp, False), (Head.knn, True), (Head.svm, True),
     (Head.logreg, True)],
)
def test_head_kind_says_which_heads_scikit_learn_fits(head: Head, classical: bool) -> None:
    assert head.is_classical is classical


def test_a_recomposed_config_sees_an_edit_that_keeps_size_and_mtime(project: Path) -> None:
    """A worker composes once per state of conf/: an edit is a new state even when the
    file's size and mtime are the same (a save within the clock's tick)."""
    own = project / "conf" / "classifiers" / "round.yaml"
    own.write_text("epochs: 3\n")
    assert compose_config().classifiers["round"].epochs == 3
    stat = own.stat()
    own.write_text("epochs: 4\n")
    os.utime(own, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert compose_config().classifiers["round"].epochs == 4


def test_each_caller_gets_its_own_config_to_change(project: Path) -> None:
    first = compose_config()
    first.classifiers["round"].epochs = 99
    first.project.split.test = 0.9
    again = compose_config()
    assert again.classifiers["round"].epochs == 8 and again.project.split.test == 0.2
