"""Overrides that last: recorded in conf/overrides.yaml, applied by every command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from taxonomist.cli import main
from taxonomist.config import Paths, compose_config
from taxonomist.config.overrides import merge_overrides, read_recorded
from taxonomist.errors import ConfigError
from taxonomist.pipeline import check_current


def record(project: Path, *overrides: str) -> None:
    (project / "conf" / "overrides.yaml").write_text(yaml.safe_dump({"overrides": overrides}))


@pytest.mark.parametrize(
    ("recorded", "given", "result", "replaced", "dropped"),
    [
        # nothing given: every recorded override stays
        (["data=folder", "data.root=/a"], [], ["data=folder", "data.root=/a"], [], []),
        # the same key again replaces its value, the others stay
        (["data=folder", "data.root=/a"], ["data.root=/b"],
         ["data=folder", "data.root=/b"], ["data.root=/a"], []),
        # a new choice of a group drops the settings of the old choice, not the others
        (["data=folder", "data.root=/a", "seed=3"], ["data=s3", "data.bucket=b"],
         ["seed=3", "data=s3", "data.bucket=b"], ["data=folder"], ["data.root=/a"]),
        (["trainer=gpu"], ["classifiers.round.epochs=2"],
         ["trainer=gpu", "classifiers.round.epochs=2"], [], []),
        # a key given twice on one command line: the last value wins, as in Hydra
        (["seed=3"], ["seed=4", "trainer=gpu", "seed=5"],
         ["trainer=gpu", "seed=5"], ["seed=3"], []),
    ],
)
def test_given_overrides_merge_into_the_recorded_ones_by_key(
    project: Path, recorded, given, result, replaced, dropped
) -> None:
    change = merge_overrides(project / "conf", tuple(recorded), given)
    assert (list(change.result), list(change.replaced), list(change.dropped)) == (
        result, replaced, dropped)


def test_reset_drops_every_recorded_override(project: Path) -> None:
    change = merge_overrides(project / "conf", ("seed=3", "trainer=gpu"), ["seed=4"], reset=True)
    assert (change.result, change.dropped) == (("seed=4",), ("seed=3", "trainer=gpu"))


def test_every_command_composes_with_the_recorded_overrides(project: Path) -> None:
    record(project, "seed=7", "classifiers.round.epochs=2")
    config = compose_config()
    assert (config.project.seed, config.classifiers["round"].epochs) == (7, 2)
    assert config.overrides == ("seed=7", "classifiers.round.epochs=2")
    assert compose_config(overrides=["seed=8"]).project.seed == 8
    assert compose_config(recorded=False).project.seed == 42


def test_pipeline_records_its_overrides_and_stages_accept_them(project: Path, capsys) -> None:
    assert main(["pipeline", "seed=7", "trainer=gpu"]) == 0
    assert read_recorded(project / "conf") == ("seed=7", "trainer=gpu")
    header = (project / "params.yaml").read_text().splitlines()[1]
    assert header == "# With the overrides in conf/overrides.yaml: seed=7 trainer=gpu"
    check_current(compose_config(), Paths(project))  # what every stage does first
    assert main(["pipeline", "--check"]) == 0
    capsys.readouterr()
    assert main(["pipeline"]) == 0
    assert "keeping the overrides recorded in conf/overrides.yaml: seed=7 trainer=gpu" in (
        capsys.readouterr().out)


def test_reset_says_what_it_drops_and_removes_the_record(project: Path, capsys) -> None:
    main(["pipeline", "seed=7"])
    assert main(["pipeline", "--reset"]) == 0
    assert "dropping recorded overrides: seed=7" in capsys.readouterr().out
    assert not (project / "conf" / "overrides.yaml").exists()
    assert "seed: 42" in (project / "params.yaml").read_text()


def test_a_hand_edited_record_makes_the_generated_files_stale(project: Path, capsys) -> None:
    main(["pipeline", "seed=7"])
    record(project, "seed=9")
    assert main(["pipeline", "--check"]) == 1
    assert "-seed: 7\n+seed: 9" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("overrides: seed=7\n", r"conf/overrides.yaml: overrides: expected a list"),
        ("overrides: [7]\n", r"expected a list of Hydra overrides"),
        ("overrides: [seed]\n", r"conf/overrides.yaml: Error parsing override 'seed'"),
        ("overrides: [seed=1, seed=2]\n", r"conf/overrides.yaml: seed: given more than once"),
        ("overrides: [\n", r"conf/overrides.yaml: not valid YAML"),
    ],
)
def test_a_broken_record_names_the_file(project: Path, text: str, message: str) -> None:
    (project / "conf" / "overrides.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        compose_config()


def test_an_unquoted_regex_override_says_how_to_quote_it(project: Path, capsys) -> None:
    assert main(["pipeline", "data.path_pattern=(?P<label>.+)/x"]) == 2
    err = capsys.readouterr().err
    assert "the command line: Error parsing override" in err
    assert "\"data.path_pattern='(?P<label>[^/]+)/.+'\"" in err
    assert not (project / "conf" / "overrides.yaml").exists()
