"""The notify stage: tell every configured channel what the promote stage decided."""

from __future__ import annotations

from taxonomist.config import Config, Paths
from taxonomist.contracts.promotion import PromotionRecord
from taxonomist.notify.channels import notifier_for
from taxonomist.notify.message import Notification, notification_from_promotion


def notify(config: Config, paths: Paths) -> Notification:
    """Send the decision in ``reports/promotion.json`` to every configured channel.

    A channel that fails never stops the others, and never changes the decision: that is
    already in promotion.json and the registry. The outbox line is written first, always.
    If any channel failed, this raises after all were tried, so the stage exits non-zero
    with each failure on stderr: ``dvc repro`` then shows it, records no lock for the
    stage and runs it again next time, rather than people silently not hearing of a
    release. Each failed run appends one more outbox line, the record of each attempt.

    Returns:
        The notification every channel was given.

    Raises:
        DeliveryError: one or more channels failed (each is named).
        DataError: promotion.json is missing or broken.
    """
    record = PromotionRecord.read(paths.promotion)
    notification = notification_from_promotion(record, paths.model_card)
    notifier_for(config.project.notify, paths.root).send(notification)
    return notification
