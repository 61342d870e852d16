from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxonomist.cli import main
from taxonomist.config import NotifyConfig, Paths, compose_config
from taxonomist.config.schema import EmailConfig, RetryConfig
from taxonomist.errors import ConfigError
from taxonomist.notify import (
    Broadcast,
    DeliveryError,
    EmailNotifier,
    Notification,
    Notifier,
    OutboxNotifier,
    SlackNotifier,
    channel_names,
    notifier_for,
)
from taxonomist.pipeline import write
from tests.notify.conftest import Mailbox
from tests.test_notify import promotion

TINY = RetryConfig(attempts=2, backoff=0.01, max_backoff=0.05)


def slack_and_email(box: Mailbox) -> NotifyConfig:
    return NotifyConfig(
        kind="slack", channels=["email"], retry=TINY,
        email=EmailConfig(host=box.host, port=box.port, sender="t@example.com",
                          to=["lead@example.com"], starttls=False),
    )


@pytest.mark.parametrize(("kind", "channels", "names"), [
    ("outbox", [], ["outbox"]),
    ("slack", [], ["outbox", "slack"]),
    ("outbox", ["slack", "email"], ["outbox", "slack", "email"]),
    ("email", ["slack", "email", "outbox"], ["outbox", "email", "slack"]),
])
def test_the_outbox_always_comes_first_and_each_channel_once(
    kind: str, channels: list[str], names: list[str], tmp_path: Path
) -> None:
    cfg = NotifyConfig(kind=kind, channels=channels)
    assert channel_names(cfg) == names
    notifier = notifier_for(cfg, tmp_path)
    if names == ["outbox"]:
        assert isinstance(notifier, OutboxNotifier)
    else:
        assert isinstance(notifier, Broadcast) and list(notifier.notifiers) == names
        kinds = {"outbox": OutboxNotifier, "slack": SlackNotifier, "email": EmailNotifier}
        assert all(isinstance(n, kinds[name]) for name, n in notifier.notifiers.items())


def test_an_unknown_channel_names_its_position_and_suggests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"conf/notify/slack\.yaml: channels\[1\]: unknown "
                                          r"notifier kind 'emial'; valid kinds: outbox, slack, "
                                          r"email\n  hint: did you mean 'email'\? list valid"):
        notifier_for(NotifyConfig(kind="slack", channels=["outbox", "emial"]), tmp_path)


def test_a_failing_channel_does_not_stop_the_others(
    mailbox, note: Notification, tmp_path: Path
) -> None:
    box = mailbox()
    notifier = notifier_for(slack_and_email(box), tmp_path)  # no TAXONOMIST_SLACK_WEBHOOK
    with pytest.raises(DeliveryError) as err:
        notifier.send(note)
    assert str(err.value).splitlines()[:3] == [
        "1 of 3 notification channel(s) failed (delivered: outbox, email); "
        "the decision itself is unchanged",
        "  slack: TAXONOMIST_SLACK_WEBHOOK is not set",
        "    hint: export the Slack incoming-webhook URL in TAXONOMIST_SLACK_WEBHOOK "
        "(or name another variable in slack.webhook_env)",
    ]
    assert list(err.value.failures) == ["slack"] and err.value.delivered == ["outbox", "email"]
    assert json.loads((tmp_path / "reports/outbox.jsonl").read_text())["decision"] == "promote"
    assert [m["Subject"] for m in box.messages] == [note.title]


def test_an_unexpected_error_in_one_channel_is_reported_with_its_name(
    note: Notification, tmp_path: Path
) -> None:
    class Broken(Notifier):
        def send(self, notification: Notification) -> None:
            raise PermissionError("reports/outbox.jsonl is read-only")

    sent: list[Notification] = []

    class Recorder(Notifier):
        def send(self, notification: Notification) -> None:
            sent.append(notification)

    with pytest.raises(DeliveryError, match="outbox: PermissionError: reports/outbox.jsonl"):
        Broadcast({"outbox": Broken(), "slack": Recorder()}).send(note)
    assert sent == [note]


@pytest.mark.parametrize("choice", ["outbox", "slack", "email"])
def test_each_notify_yaml_composes(project: Path, choice: str) -> None:
    cfg = compose_config(overrides=[f"notify={choice}"]).project.notify
    assert cfg.kind == choice and cfg.outbox == "reports/outbox.jsonl"
    assert cfg.slack.webhook_env == "TAXONOMIST_SLACK_WEBHOOK"
    assert (cfg.email.user_env, cfg.email.password_env) == (
        "TAXONOMIST_SMTP_USER", "TAXONOMIST_SMTP_PASSWORD")


def test_the_notify_stage_sends_everywhere_then_fails_naming_the_channel(
    project: Path, mailbox, capsys: pytest.CaptureFixture[str]
) -> None:
    box = mailbox()
    (project / "conf/notify/team.yaml").write_text(
        "kind: slack\nchannels: [email]\nretry: {attempts: 2, backoff: 0.01}\n"
        f"email: {{host: {box.host}, port: {box.port}, sender: t@example.com,"
        " to: [lead@example.com], starttls: false}\n"
    )
    config_yaml = project / "conf/config.yaml"
    config_yaml.write_text(config_yaml.read_text().replace("notify: outbox", "notify: team"))
    paths = Paths(project)
    write(compose_config(), paths)
    paths.promotion.parent.mkdir(parents=True, exist_ok=True)
    paths.promotion.write_text(json.dumps(promotion("promote", live=True)))
    paths.model_card.write_text("<html>card</html>")

    assert main(["notify"]) == 2
    err = capsys.readouterr().err
    assert "taxonomist notify: error: 1 of 3 notification channel(s) failed" in err
    assert "slack: TAXONOMIST_SLACK_WEBHOOK is not set" in err
    assert len(paths.root.joinpath("reports/outbox.jsonl").read_text().splitlines()) == 1
    (message,) = box.messages
    assert [a.get_filename() for a in message.iter_attachments()] == ["model_card.html"]
