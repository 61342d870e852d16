"""The notifier interface and the errors a channel reports."""

from __future__ import annotations

import abc
import os
import re

from taxonomist.errors import TaxonomistError
from taxonomist.notify.message import Notification

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Notifier(abc.ABC):
    """A channel that delivers notifications. Subclasses implement :meth:`send`.

    Example:
        >>> class Printer(Notifier):
        ...     def send(self, notification: Notification) -> None:
        ...         print(notification.title)
    """

    @abc.abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver one notification; raise :class:`NotifyError` if it could not be delivered."""


class NotifyError(TaxonomistError):
    """One channel could not deliver a notification.

    Args:
        channel: the channel that failed, e.g. ``"slack"``.
        problem: what went wrong, e.g. ``"webhook answered 404 no_service"``.
        hint: what to check, when there is something specific to say.
    """

    def __init__(self, channel: str, problem: str, hint: str = "") -> None:
        self.channel, self.problem, self.hint = channel, problem, hint
        message = f"{channel}: {problem}"
        super().__init__(f"{message}\n  hint: {hint}" if hint else message)


class MissingSecretError(NotifyError):
    """A secret the channel needs is not in the environment; raised before any network call."""


def secret_from_env(channel: str, variable: str, key: str, what: str) -> str | None:
    """Read a secret from the environment variable named in the config.

    Args:
        channel: the channel asking, for the error message.
        variable: the variable's name, from ``key`` in ``conf/notify/<kind>.yaml``.
        key: the dotted config key that names the variable, e.g. ``"slack.webhook_env"``.
        what: what the secret is, e.g. ``"the Slack incoming-webhook URL"``.

    Returns:
        The value, or None when the variable is unset or empty.

    Raises:
        NotifyError: ``variable`` is not a variable name (someone put the secret itself in
            YAML); the message does not repeat the value.
    """
    if not _VARIABLE_NAME.fullmatch(variable or ""):
        raise NotifyError(
            channel,
            f"{key} must name an environment variable, got a value that is not a name",
            f"put {what} in an environment variable and its NAME in {key}; "
            "secrets never go in YAML (and rotate this one if it was committed)",
        )
    return os.environ.get(variable) or None


def require_secret(channel: str, variable: str, key: str, what: str) -> str:
    """Like :func:`secret_from_env`, but a missing value is an error naming the variable.

    Raises:
        MissingSecretError: ``variable`` is unset or empty.
    """
    value = secret_from_env(channel, variable, key, what)
    if value is None:
        raise MissingSecretError(
            channel,
            f"{variable} is not set",
            f"export {what} in {variable} (or name another variable in {key})",
        )
    return value
