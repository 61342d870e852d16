"""Slack: one Block Kit message per decision, posted to an incoming webhook."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from taxonomist.config.schema import RetryConfig
from taxonomist.contracts.promotion import Outcome
from taxonomist.notify.base import Notifier, NotifyError, require_secret
from taxonomist.notify.message import Notification

CHANNEL = "slack"
# Slack answers 429 when rate-limited and 5xx when it could not take the message; both
# mean "not posted", so posting again cannot duplicate it. Other 4xx answers are final.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ICONS = {Outcome.PROMOTE: ":white_check_mark:", Outcome.REJECT: ":x:"}  # else: a human looks
MAX_FIELDS = 10  # Block Kit's limits: fields in one section, ...
MAX_TEXT = 3000  # ... and characters in one section's text


class SlackNotifier(Notifier):
    """Posts each notification to a Slack incoming webhook, retrying with backoff.

    The webhook URL is a secret: it is read from the environment at each send, never from
    YAML, and never repeated in an error message. Retries are urllib3's :class:`Retry` on
    a requests adapter: connection errors, 429 and 5xx are retried up to
    ``retry.attempts`` tries in all, waits doubling up to ``retry.max_backoff`` (urllib3
    retries the first failure at once); a ``Retry-After`` header is honoured, capped at
    ``retry.max_backoff``.

    Args:
        webhook_env: the NAME of the variable that holds the webhook URL.
        retry: how many tries and how long to wait between them.
        card_url: where people open the card, with ``{model}`` and ``{version}`` filled
            in; None shows the card's path instead.
        timeout: seconds per request.

    Example::

        # export TAXONOMIST_SLACK_WEBHOOK=https://hooks.slack.com/services/...
        slack = SlackNotifier(card_url="https://ci.example.com/{model}/{version}/card.html")
        slack.send(notification)  # NotifyError, naming what to check, if it cannot
    """

    def __init__(
        self,
        webhook_env: str = "TAXONOMIST_SLACK_WEBHOOK",
        retry: RetryConfig | None = None,
        card_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.webhook_env = webhook_env
        self.retry = retry or RetryConfig()
        self.card_url = card_url
        self.timeout = timeout

    def send(self, notification: Notification) -> None:
        url = self._webhook_url()  # before any network call: a missing secret fails here
        payload = slack_message(notification, self._card_link(notification))
        with self._session() as session:
            try:
                response = session.post(url, json=payload, timeout=self.timeout)
            except requests.RequestException as err:
                raise NotifyError(
                    CHANNEL,
                    f"could not reach the webhook in {self.retry.attempts} attempt(s): "
                    f"{_redact(_reason(err), url)}",
                    "check the network from this machine to Slack and the host in "
                    f"{self.webhook_env}",
                ) from None
        if response.status_code != 200:
            raise self._rejected(response)

    def _webhook_url(self) -> str:
        url = require_secret(
            CHANNEL, self.webhook_env, "slack.webhook_env", "the Slack incoming-webhook URL"
        )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise NotifyError(
                CHANNEL,
                f"{self.webhook_env} does not hold an http(s) URL",
                "copy the webhook URL (https://hooks.slack.com/services/…) from the Slack "
                "app's 'Incoming Webhooks' page",
            )
        return url

    def _card_link(self, notification: Notification) -> str:
        if not self.card_url:
            return str(notification.card_path)
        try:
            return self.card_url.format(model=notification.model, version=notification.version)
        except (KeyError, IndexError, ValueError) as err:
            raise NotifyError(
                CHANNEL,
                f"slack.card_url has a placeholder it cannot fill: {err}",
                "use only {model} and {version} in slack.card_url",
            ) from None

    def _session(self) -> requests.Session:
        retry = Retry(
            total=self.retry.attempts - 1,
            allowed_methods=None,  # POST too: a 429/5xx or refused connection posted nothing
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.retry.backoff,
            backoff_max=self.retry.max_backoff,
            retry_after_max=self.retry.max_backoff,
            raise_on_status=False,  # hand back the last answer, so the error can quote it
        )
        session = requests.Session()
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        return session

    def _rejected(self, response: requests.Response) -> NotifyError:
        retries = getattr(response.raw, "retries", None)
        attempts = len(retries.history) + 1 if retries is not None else 1
        status, body = response.status_code, response.text.strip()[:200]
        if status in RETRY_STATUSES:
            hint = (
                "Slack is rate-limiting or failing; check https://slack-status.com, then "
                "run the stage again (raise notify.retry.attempts if this recurs)"
            )
        elif status in (403, 404, 410):
            hint = f"the webhook was revoked or {self.webhook_env} holds a wrong URL"
        else:
            hint = "Slack refused the message; its answer above says why"
        return NotifyError(
            CHANNEL, f"webhook answered {status} {body!r} after {attempts} attempt(s)", hint
        )

    def __repr__(self) -> str:
        return f"SlackNotifier(webhook_env={self.webhook_env!r})"


def slack_message(notification: Notification, card_link: str) -> dict[str, Any]:
    """The Block Kit message for one notification.

    Args:
        notification: what to say.
        card_link: an ``http(s)`` URL to the model card (shown as a link), or its path.

    Returns:
        The JSON body for the webhook: ``text`` (what notifications and screen readers
        show) and ``blocks`` (the title, the key numbers, the details and the card).
    """
    icon = ICONS.get(notification.decision, ":mag:")
    details = [
        _escape(line)
        for line in notification.text.splitlines()
        if not line.startswith("Model card:")  # shown below, as a link where there is one
    ]
    return {
        "text": f"{icon} {notification.title}",
        "blocks": [
            _section(f"{icon} *{_escape(notification.title)}*"),
            {"type": "section", "fields": _fields(notification)},
            _section("\n".join(details)[:MAX_TEXT]),
            _section(_card_line(card_link)),
        ],
    }


def _fields(notification: Notification) -> list[dict[str, str]]:
    pairs = [
        ("Decision", notification.decision),
        ("Model", f"{notification.model} v{notification.version}"),
    ]
    metrics = sorted(notification.metrics.items(), key=lambda kv: kv[0] != notification.metric)
    pairs += [(name, _number(value)) for name, value in metrics]
    return [_mrkdwn(f"*{_escape(k)}*\n{_escape(v)}") for k, v in pairs[:MAX_FIELDS]]


def _card_line(card_link: str) -> str:
    if urlsplit(card_link).scheme in ("http", "https"):
        return f":page_facing_up: <{card_link}|Open the model card>"
    return f":page_facing_up: Model card: `{_escape(card_link)}`"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _number(value: float) -> str:
    # counts (n_test) read as whole numbers; rates in [0, 1] keep three decimals
    return str(int(value)) if float(value).is_integer() and abs(value) > 1 else f"{value:.3f}"


def _escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as markup; these three must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reason(err: requests.RequestException) -> str:
    cause = err.args[0] if err.args else err
    return str(getattr(cause, "reason", cause))


def _redact(text: str, url: str) -> str:
    path = urlsplit(url).path
    text = text.replace(url, "<webhook URL>")
    return text.replace(path, "<webhook path>") if len(path) > 1 else text
