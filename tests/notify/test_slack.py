from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import urllib3

from taxonomist.config.schema import RetryConfig
from taxonomist.notify import MissingSecretError, Notification, NotifyError, SlackNotifier
from tests.notify.conftest import FAST, WEBHOOK_PATH, free_port

ENV = "TAXONOMIST_SLACK_WEBHOOK"


def all_text(payload: dict) -> str:
    """Every piece of mrkdwn in a Block Kit message, in order."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        texts += [block["text"]["text"]] if "text" in block else []
        texts += [f["text"] for f in block.get("fields", [])]
    return "\n".join(texts)


def test_retries_after_two_503s_then_posts_a_readable_message(
    webhook, note: Notification, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = webhook((503, "busy", {}), (503, "busy", {}))
    monkeypatch.setenv(ENV, hook.url)
    SlackNotifier(retry=FAST).send(note)

    assert len(hook.received) == 3  # two 503s, then the 200
    assert {r["path"] for r in hook.received} == {WEBHOOK_PATH}
    payload = hook.received[-1]["json"]
    assert payload == hook.received[0]["json"]  # the same message each time
    assert payload["text"] == f":white_check_mark: {note.title}"
    text = all_text(payload)
    assert "*Decision*\npromote" in text
    assert "*Model*\ndigits.stack v3" in text
    assert "*leaf_accuracy*\n0.962" in text and "*n_test*\n80" in text
    assert "Live before, v2: leaf_accuracy 0.950" in text
    assert "(leaf_accuracy improved)" in text  # the reason
    assert f"Model card: `{note.card_path}`" in text
    assert payload["blocks"][1]["fields"][2]["text"].startswith("*leaf_accuracy*")  # first


def test_gives_up_after_the_configured_attempts_without_leaking_the_url(
    webhook, note: Notification, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = webhook(*[(503, "down", {})] * 10)
    monkeypatch.setenv(ENV, hook.url)
    with pytest.raises(NotifyError, match=r"slack: webhook answered 503 'down' after 3 "
                                          r"attempt\(s\)\n  hint: Slack is rate-limiting") as err:
        SlackNotifier(retry=RetryConfig(attempts=3, backoff=0.01, max_backoff=0.05)).send(note)
    assert len(hook.received) == 3
    assert WEBHOOK_PATH not in str(err.value)


@pytest.fixture
def naps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds urllib3's Retry asks to sleep between attempts (it does not sleep)."""
    asked: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", SimpleNamespace(sleep=asked.append,
                                                                    time=time.time))
    return asked


@pytest.mark.parametrize(("max_backoff", "nap"), [
    (5.0, 1.0),  # Retry-After: 1 is honoured ...
    (0.05, 0.05),  # ... but never beyond max_backoff
])
def test_retry_after_is_honoured_up_to_max_backoff(
    webhook, note: Notification, monkeypatch: pytest.MonkeyPatch, naps: list[float],
    max_backoff: float, nap: float,
) -> None:
    hook = webhook((429, "rate_limited", {"Retry-After": "1"}))
    monkeypatch.setenv(ENV, hook.url)
    SlackNotifier(retry=RetryConfig(attempts=2, backoff=0.01, max_backoff=max_backoff)).send(note)
    assert naps == [nap]  # one wait, before the second attempt
    assert len(hook.received) == 2


def test_a_revoked_webhook_is_not_retried(
    webhook, note: Notification, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = webhook((404, "no_service", {}))
    monkeypatch.setenv(ENV, hook.url)
    with pytest.raises(NotifyError, match=rf"answered 404 'no_service' after 1 attempt\(s\)"
                                          rf"\n  hint: the webhook was revoked or {ENV}"):
        SlackNotifier(retry=FAST).send(note)
    assert len(hook.received) == 1


def test_an_unreachable_webhook_fails_after_the_bounded_attempts(
    note: Notification, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}")
    with pytest.raises(NotifyError, match=r"could not reach the webhook in 2 attempt\(s\): "
                                          r".*Connection refused") as err:
        SlackNotifier(retry=RetryConfig(attempts=2, backoff=0.01)).send(note)
    assert WEBHOOK_PATH not in str(err.value)


@pytest.mark.parametrize("variable", [ENV, "TEAM_RELEASES_HOOK"])
def test_a_missing_webhook_names_the_variable_before_any_request(
    webhook, note: Notification, variable: str
) -> None:
    hook = webhook()
    with pytest.raises(MissingSecretError, match=rf"slack: {variable} is not set\n"
                                                 rf"  hint: export the Slack incoming-webhook"):
        SlackNotifier(webhook_env=variable, retry=FAST).send(note)
    assert hook.received == []


def test_a_url_in_place_of_the_variable_name_is_refused_and_not_repeated(
    note: Notification,
) -> None:
    url = f"https://hooks.slack.com{WEBHOOK_PATH}"
    with pytest.raises(NotifyError, match="slack.webhook_env must name an environment "
                                          "variable") as err:
        SlackNotifier(webhook_env=url).send(note)
    assert url not in str(err.value) and "secrets never go in YAML" in str(err.value)


def test_card_url_becomes_a_link(webhook, note: Notification, monkeypatch) -> None:
    hook = webhook()
    monkeypatch.setenv(ENV, hook.url)
    SlackNotifier(card_url="https://ci.example.com/{model}/{version}/card.html").send(note)
    assert ("<https://ci.example.com/digits.stack/3/card.html|Open the model card>"
            in all_text(hook.received[0]["json"]))


def test_mrkdwn_markup_in_the_reason_is_escaped(webhook, card, monkeypatch) -> None:
    from taxonomist.notify import notification_from_promotion
    from tests.test_notify import promotion_record

    hook = webhook()
    monkeypatch.setenv(ENV, hook.url)
    note = notification_from_promotion(
        promotion_record("needs_investigation", live=True, reason="recall <0.5 & falling"), card)
    SlackNotifier().send(note)
    payload = hook.received[0]["json"]
    assert payload["text"].startswith(":mag: ")
    assert "recall &lt;0.5 &amp; falling" in all_text(payload)
