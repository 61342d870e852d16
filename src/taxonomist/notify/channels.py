"""From ``conf/notify/*.yaml`` to the notifiers that deliver one decision."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from taxonomist.config import NotifyConfig
from taxonomist.errors import ConfigError, TaxonomistError
from taxonomist.notify.base import Notifier, NotifyError
from taxonomist.notify.message import Notification
from taxonomist.notify.outbox import OutboxNotifier
from taxonomist.notify.slack import SlackNotifier
from taxonomist.notify.smtp import EmailNotifier

OUTBOX = "outbox"


def _slack(cfg: NotifyConfig, root: Path) -> Notifier:
    slack = cfg.slack
    return SlackNotifier(slack.webhook_env, cfg.retry, slack.card_url, slack.timeout)


def _email(cfg: NotifyConfig, root: Path) -> Notifier:
    email = cfg.email
    return EmailNotifier(
        email.host, email.sender, email.to, email.port, email.starttls,
        email.user_env, email.password_env, cfg.retry, email.timeout,
    )


NOTIFIERS: dict[str, Callable[[NotifyConfig, Path], Notifier]] = {
    OUTBOX: lambda cfg, root: OutboxNotifier(root / cfg.outbox),
    "slack": _slack,
    "email": _email,
}


class DeliveryError(TaxonomistError):
    """Some channels failed; the others were still sent to.

    Args:
        failures: each failed channel's error, in the order they were tried.
        delivered: the channels that did deliver.
    """

    def __init__(self, failures: dict[str, NotifyError], delivered: list[str]) -> None:
        self.failures, self.delivered = failures, delivered
        total = len(failures) + len(delivered)
        lines = [
            f"{len(failures)} of {total} notification channel(s) failed "
            f"(delivered: {', '.join(delivered) or 'none'}); the decision itself is unchanged"
        ]
        lines += ["  " + str(err).replace("\n", "\n  ") for err in failures.values()]
        super().__init__("\n".join(lines))


class Broadcast(Notifier):
    """Sends to every channel in turn; one that fails never stops the others.

    Args:
        notifiers: channel name -> notifier, in the order to send.

    Raises:
        DeliveryError: from :meth:`send`, after every channel was tried, if any failed.
    """

    def __init__(self, notifiers: dict[str, Notifier]) -> None:
        self.notifiers = dict(notifiers)

    def send(self, notification: Notification) -> None:
        failures: dict[str, NotifyError] = {}
        for name, notifier in self.notifiers.items():
            try:
                notifier.send(notification)
            except NotifyError as err:
                failures[name] = err
            # Anything else (a full disk, a bug in one channel) is still that channel's
            # failure alone: report it with the others rather than skip the rest.
            except Exception as err:
                failures[name] = NotifyError(name, f"{type(err).__name__}: {err}")
        if failures:
            delivered = [name for name in self.notifiers if name not in failures]
            raise DeliveryError(failures, delivered)

    def __repr__(self) -> str:
        return f"Broadcast({self.notifiers!r})"


def channel_names(cfg: NotifyConfig) -> list[str]:
    """The channels to send to: the outbox (always: it is the record), ``kind``, ``channels``.

    Example:
        >>> channel_names(NotifyConfig(kind="slack", channels=["email", "slack"]))
        ['outbox', 'slack', 'email']
    """
    return list(dict.fromkeys([OUTBOX, cfg.kind, *cfg.channels]))


def notifier_for(cfg: NotifyConfig, root: Path) -> Notifier:
    """The notifier that ``conf/notify/<kind>.yaml`` asks for.

    With the outbox alone that is an :class:`OutboxNotifier`; with more channels, a
    :class:`Broadcast` that writes the outbox line first, then sends to each of the others.
    Secrets are not read here but at each send, so a missing one fails only its channel.

    Args:
        cfg: the composed ``notify`` section.
        root: the project root; relative paths in ``cfg`` are taken from here.

    Raises:
        ConfigError: ``kind`` or an entry of ``channels`` names no notifier; the message
            lists the valid kinds.
    """
    named = [("kind", cfg.kind)] + [(f"channels[{i}]", c) for i, c in enumerate(cfg.channels)]
    for key, kind in named:
        _check_kind(cfg, key, kind)
    notifiers = {name: NOTIFIERS[name](cfg, Path(root)) for name in channel_names(cfg)}
    return notifiers[OUTBOX] if len(notifiers) == 1 else Broadcast(notifiers)


def _check_kind(cfg: NotifyConfig, key: str, kind: str) -> None:
    if kind in NOTIFIERS:
        return
    close = difflib.get_close_matches(kind, NOTIFIERS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    how = "pick one with `notify=<kind>`, e.g. notify=outbox" if key == "kind" else (
        "list valid kinds in channels, e.g. channels: [slack, email]"
    )
    raise ConfigError(
        f"conf/notify/{cfg.kind}.yaml",
        key,
        f"unknown notifier kind '{kind}'; valid kinds: {', '.join(NOTIFIERS)}",
        hint + how,
    )
