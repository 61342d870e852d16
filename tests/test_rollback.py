"""``taxonomist rollback`` and ``taxonomist history`` on a real sqlite-backed registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from taxonomist.cli import main
from taxonomist.config import Paths, compose_config
from taxonomist.rollback import announce_rollback, roll_back_live
from taxonomist.tracking.live_alias import (
    PROMOTE,
    ROLLBACK,
    RegistryError,
    history,
    live_version,
    move_live,
    rollback,
)
from tests.registry_store import NAME, make_registry


@pytest.fixture
def client(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> MlflowClient:
    return make_registry(tmp_path_factory, tmp_path)


@pytest.fixture
def registry_project(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> MlflowClient:
    """The project's own registry (mlflow/mlflow.db, the default), with v1 then v2 live."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")  # the actor is then $USER
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("USER", "ana")
    client = make_registry(tmp_path_factory, project)
    promote(client, "1", "2")
    return client


def promote(client: MlflowClient, *versions: str) -> None:
    for version in versions:
        move_live(client, NAME, version, reason=f"v{version} better", actor="ci", kind=PROMOTE)


def back(client: MlflowClient, to: str | None = None) -> str:
    return rollback(client, NAME, reason="six misread", actor="ana", to=to).version


def test_rollback_goes_to_the_previous_live_version_and_tags_both(client: MlflowClient) -> None:
    promote(client, "1", "2")
    event = rollback(client, NAME, reason="six misread on the new scanner", actor="ana")
    assert (event.version, event.previous, event.kind) == ("1", "2", ROLLBACK)
    assert live_version(client, NAME) == "1"
    now, left = (client.get_model_version(NAME, v).tags for v in ("1", "2"))
    assert (now["live_kind"], now["live_by"]) == (ROLLBACK, "ana")
    assert now["live_reason"] == left["live_until_reason"] == "six misread on the new scanner"
    assert (left["live_until_by"], left["live_until"]) == ("ana", event.at)


def test_rolling_back_twice_goes_further_back_not_forward(client: MlflowClient) -> None:
    promote(client, "1", "2", "3")
    assert [back(client), back(client)] == ["2", "1"]
    kinds = [(e.version, e.kind) for e in history(client, NAME)]
    assert kinds[-2:] == [("2", ROLLBACK), ("1", ROLLBACK)]


def test_rollback_to_a_named_version(client: MlflowClient) -> None:
    promote(client, "1")
    assert back(client, to="v3") == "3"


@pytest.mark.parametrize(("live", "to", "message"), [
    (["1", "2"], "9", r"digits\.stack has no version '9'\n.*v1, v2 \(live\), v3"),
    (["1", "2"], "2", r"v2 already holds 'live': nothing to roll back"),
    ([], None, r"nothing holds 'live' of digits\.stack.*\n.*pass --to VERSION"),
    (["1"], None, r"no version of digits\.stack was live before v1.*\n.*v1 \(live\), v2, v3"),
])
def test_a_rollback_that_cannot_be_done_says_why(
    client: MlflowClient, live: list[str], to: str | None, message: str
) -> None:
    promote(client, *live)
    with pytest.raises(RegistryError, match=message):
        back(client, to)
    assert live_version(client, NAME) == (live[-1] if live else None)


def test_roll_back_live_moves_under_the_lock_and_points_reports_live(
    registry_project: MlflowClient, project: Path
) -> None:
    kept = project / "reports" / "1" / "model_card.html"
    kept.parent.mkdir(parents=True)
    kept.write_text("<html>v1</html>")
    rolled = roll_back_live(compose_config(), Paths(project), to=None, reason="six misread")
    assert (rolled.model, rolled.event.version, rolled.event.previous) == (NAME, "1", "2")
    assert (rolled.event.kind, rolled.event.actor) == (ROLLBACK, "ana")
    assert live_version(registry_project, NAME) == "1"
    assert rolled.card == project / "reports" / "live" / "model_card.html"
    assert rolled.card.read_text() == "<html>v1</html>" and rolled.card_note is None
    assert rolled.metrics == {"leaf_accuracy": 0.95}
    assert registry_project.search_registered_models(f"name='{NAME}.promotion-lock'") == []


def test_roll_back_live_without_a_kept_card_leaves_reports_live_and_says_so(
    registry_project: MlflowClient, project: Path
) -> None:
    live = project / "reports" / "live" / "model_card.html"
    live.parent.mkdir(parents=True)
    live.write_text("<html>v2</html>")
    rolled = roll_back_live(compose_config(), Paths(project), to="v1", reason="six misread")
    assert rolled.card == project / "reports" / "1" / "model_card.html"
    assert rolled.card_note == (
        "no reports/1/model_card.html here, so reports/live/ is left as it was"
    )
    assert live.read_text() == "<html>v2</html>"


def test_announce_rollback_writes_the_outbox_line(
    registry_project: MlflowClient, project: Path
) -> None:
    config, paths = compose_config(), Paths(project)
    rolled = roll_back_live(config, paths, to=None, reason="six misread")
    notification = announce_rollback(config, paths, rolled)
    [line] = (project / "reports" / "outbox.jsonl").read_text().splitlines()
    assert json.loads(line) == notification.as_dict()
    assert notification.title == "digits.stack rolled back to v1 (from v2) by ana: six misread"


def test_cli_rollback_moves_live_notifies_and_points_reports_live(
    registry_project: MlflowClient, project: Path, capsys: pytest.CaptureFixture
) -> None:
    kept = project / "reports" / "1" / "model_card.html"
    kept.parent.mkdir(parents=True)
    kept.write_text("<html>v1</html>")
    assert main(["rollback", "--reason", "six misread"]) == 0
    assert live_version(registry_project, NAME) == "1"
    assert (project / "reports" / "live" / "model_card.html").read_text() == "<html>v1</html>"
    [line] = (project / "reports" / "outbox.jsonl").read_text().splitlines()
    sent = json.loads(line)
    assert sent["decision"] == ROLLBACK and sent["version"] == "1"
    assert sent["title"] == "digits.stack rolled back to v1 (from v2) by ana: six misread"
    assert sent["metrics"] == {"leaf_accuracy": 0.95}
    assert "moved from v2 back to v1" in capsys.readouterr().out


def test_cli_rollback_error_names_the_versions(
    registry_project: MlflowClient, capsys: pytest.CaptureFixture
) -> None:
    assert main(["rollback", "--to", "12", "--reason", "x"]) == 2
    err = capsys.readouterr().err
    assert "taxonomist rollback: error: digits.stack has no version '12'" in err
    assert "v1, v2 (live), v3" in err


def test_cli_history_is_a_table_of_who_when_why_and_metric(
    registry_project: MlflowClient, capsys: pytest.CaptureFixture
) -> None:
    registry_project.set_model_version_tag(NAME, "2", "difference_vs_live", "0.012")
    main(["rollback", "--reason", "six misread"])
    capsys.readouterr()
    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("digits.stack: versions that held @live")
    assert lines[1].split() == ["when", "(UTC)", "version", "move", "by", "leaf_accuracy",
                                "vs", "live", "why"]
    rows = [line.split() for line in lines[2:]]
    assert [r[2:6] for r in rows] == [
        ["v1", "promote", "ci", "0.9500"],
        ["v2", "promote", "ci", "0.9620"],
        ["v1", "←", "rollback", "ana"],
    ]
    assert rows[1][6:] == ["+0.0120", "v2", "better"]
    assert rows[2][-2:] == ["six", "misread"]
