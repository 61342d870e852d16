"""Tell people what the promote stage decided.

Every channel is a :class:`Notifier` that fills in one hook, :meth:`Notifier.send`:

- ``outbox``: one JSON line per decision, appended to a file. Always written: it is the
  record, and the one tests read.
- ``slack``: a Block Kit message to an incoming webhook (:class:`SlackNotifier`).
- ``email``: an SMTP message with the model card attached (:class:`EmailNotifier`).

``conf/notify/<kind>.yaml`` picks them (``kind: slack``, or ``channels: [slack, email]``);
secrets come only from environment variables the YAML names. A channel that fails is
reported and never stops the others (:class:`Broadcast`).

:func:`notify` is the stage; what it does, by hand::

    record = PromotionRecord.read(paths.promotion)
    notification = notification_from_promotion(record, paths.model_card)
    notifier_for(config.project.notify, paths.root).send(notification)
"""

from taxonomist.notify.base import MissingSecretError, Notifier, NotifyError
from taxonomist.notify.channels import (
    NOTIFIERS,
    Broadcast,
    DeliveryError,
    channel_names,
    notifier_for,
)
from taxonomist.notify.message import (
    Notification,
    notification_from_promotion,
    notification_from_rollback,
)
from taxonomist.notify.outbox import OutboxNotifier
from taxonomist.notify.slack import SlackNotifier, slack_message
from taxonomist.notify.smtp import EmailNotifier, email_message
from taxonomist.notify.stage import notify

__all__ = [
    "NOTIFIERS",
    "Broadcast",
    "DeliveryError",
    "EmailNotifier",
    "MissingSecretError",
    "Notification",
    "Notifier",
    "NotifyError",
    "OutboxNotifier",
    "SlackNotifier",
    "channel_names",
    "email_message",
    "notification_from_promotion",
    "notification_from_rollback",
    "notifier_for",
    "notify",
    "slack_message",
]
