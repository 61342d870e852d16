from __future__ import annotations

from pathlib import Path

import pytest

from taxonomist.config.schema import RetryConfig
from taxonomist.notify import EmailNotifier, MissingSecretError, Notification, NotifyError
from tests.notify.conftest import FAST, Mailbox, free_port

TO = ["lead@example.com", "oncall@example.com"]


def emailer(box: Mailbox, retry: RetryConfig = FAST, **kwargs) -> EmailNotifier:
    return EmailNotifier(box.host, "taxonomist@example.com", TO, box.port,
                         starttls=False, retry=retry, timeout=5.0, **kwargs)


def test_sends_the_title_the_text_and_the_card(
    mailbox, note: Notification, card: Path
) -> None:
    box = mailbox()
    card.with_suffix(".pdf").write_bytes(b"%PDF-1.4 tiny")
    emailer(box).send(note)

    (envelope,) = box.envelopes
    assert envelope.mail_from == "taxonomist@example.com"
    assert envelope.rcpt_tos == TO
    (message,) = box.messages
    assert message["Subject"] == note.title
    assert message["To"] == ", ".join(TO)
    assert message.get_body(("plain",)).get_content().splitlines() == note.text.splitlines()
    html, pdf = message.iter_attachments()
    assert (html.get_filename(), html.get_content_type()) == ("model_card.html", "text/html")
    assert html.get_content().encode() == card.read_bytes()
    assert (pdf.get_filename(), pdf.get_content()) == ("model_card.pdf", b"%PDF-1.4 tiny")


def test_retries_a_try_again_later_answer(mailbox, note: Notification) -> None:
    box = mailbox(fail=2)  # 451 twice, then accepted
    emailer(box).send(note)
    assert box.attempts == 3
    assert len(box.messages) == 1


def test_gives_up_after_the_configured_attempts(mailbox, note: Notification) -> None:
    box = mailbox(fail=99)
    with pytest.raises(NotifyError, match=r"email: could not send through 127\.0\.0\.1:\d+ in "
                                          r"3 attempt\(s\): 451 4\.3\.0 Try again later"):
        emailer(box, RetryConfig(attempts=3, backoff=0.01, max_backoff=0.05)).send(note)
    assert box.attempts == 3 and box.messages == []


def test_a_permanent_refusal_is_not_retried(mailbox, note: Notification) -> None:
    box = mailbox(fail=99, code="554 5.7.1 Message rejected")
    with pytest.raises(NotifyError, match=r"in 1 attempt\(s\): 554 5\.7\.1 Message rejected"):
        emailer(box).send(note)
    assert box.attempts == 1


def test_an_unreachable_server_fails_after_the_bounded_attempts(note: Notification) -> None:
    port = free_port()
    notifier = EmailNotifier("127.0.0.1", "t@example.com", TO, port, starttls=False,
                             retry=RetryConfig(attempts=2, backoff=0.01))
    with pytest.raises(NotifyError, match=rf"127\.0\.0\.1:{port} in 2 attempt\(s\): "
                                          r"ConnectionRefusedError.*\n  hint: check email\.host"):
        notifier.send(note)


def test_logs_in_with_the_credentials_from_the_environment(
    mailbox, note: Notification, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = mailbox()
    monkeypatch.setenv("TAXONOMIST_SMTP_USER", "bot")
    monkeypatch.setenv("TAXONOMIST_SMTP_PASSWORD", "right")
    emailer(box).send(note)
    assert box.logins == [("bot", "right")]
    assert len(box.messages) == 1


def test_a_refused_login_is_final_and_names_the_variables(
    mailbox, note: Notification, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = mailbox()
    monkeypatch.setenv("MY_USER", "bot")
    monkeypatch.setenv("MY_PASSWORD", "wrong")
    with pytest.raises(NotifyError, match=r"in 1 attempt\(s\): 535 .*\n  hint: the server "
                                          r"refused the login in MY_USER / MY_PASSWORD"):
        emailer(box, user_env="MY_USER", password_env="MY_PASSWORD").send(note)
    assert box.messages == []


@pytest.mark.parametrize(("present", "missing"), [
    ("TAXONOMIST_SMTP_USER", "TAXONOMIST_SMTP_PASSWORD"),
    ("TAXONOMIST_SMTP_PASSWORD", "TAXONOMIST_SMTP_USER"),
])
def test_half_a_login_names_the_missing_variable_before_connecting(
    note: Notification, monkeypatch: pytest.MonkeyPatch, present: str, missing: str
) -> None:
    monkeypatch.setenv(present, "x")
    # nothing listens on this port: a connection attempt would fail differently
    notifier = EmailNotifier("127.0.0.1", "t@example.com", TO, free_port(), starttls=False)
    with pytest.raises(MissingSecretError, match=f"email: {missing} is not set, but {present}"):
        notifier.send(note)


def test_starttls_against_a_server_without_it_is_final(mailbox, note: Notification) -> None:
    box = mailbox()
    notifier = EmailNotifier(box.host, "t@example.com", TO, box.port, starttls=True, retry=FAST)
    with pytest.raises(NotifyError, match=r"in 1 attempt\(s\).*\n  hint: the server offers no "
                                          r"STARTTLS"):
        notifier.send(note)


@pytest.mark.parametrize("key", ["host", "sender", "to"])
def test_an_empty_address_is_a_config_error(note: Notification, key: str) -> None:
    fields = {"host": "127.0.0.1", "sender": "t@example.com", "to": TO, key: "" if key != "to"
              else []}
    with pytest.raises(NotifyError, match=rf"email\.{key} is empty\n  hint: set email\.{key} "
                                          r"in conf/notify/email\.yaml"):
        EmailNotifier(**fields).send(note)


def test_a_missing_card_is_named_in_the_body(mailbox, note: Notification, card: Path) -> None:
    box = mailbox()
    card.unlink()
    emailer(box).send(note)
    (message,) = box.messages
    assert list(message.iter_attachments()) == []
    assert f"No model card at {card}; none attached." in message.get_content()
