"""``taxonomist rollback``: move ``@live`` back by hand, and tell people why.

Two steps, so the caller can report the move before anyone is told of it (a channel
that then fails does not hide that ``@live`` already moved)::

    rolled = roll_back_live(config, paths, to=None, reason="six misread on the new scanner")
    notification = announce_rollback(config, paths, rolled)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from taxonomist.config import Config, Paths
from taxonomist.notify import Notification, notification_from_rollback, notifier_for
from taxonomist.report.card import CARD_NAME, LIVE_FOLDER
from taxonomist.tracking.client import client_for
from taxonomist.tracking.live_alias import LiveEvent, current_actor, rollback, version_metrics
from taxonomist.tracking.lock import promotion_lock
from taxonomist.tracking.names import stack_model_name
from taxonomist.tracking.permissions import permission_needed


@dataclass(frozen=True)
class RolledBack:
    """A finished move of ``@live`` back to an earlier version.

    Attributes:
        model: the registered stack, e.g. ``"digits.stack"``.
        event: the recorded move (``previous`` is the version rolled back from).
        card: the model card of the version now live.
        card_note: why ``reports/live/`` was left as it was, or None when it was updated.
        metrics: the scalar metrics of the version now live, {} if unknown.
    """

    model: str
    event: LiveEvent
    card: Path
    card_note: str | None
    metrics: dict[str, float]


def roll_back_live(config: Config, paths: Paths, *, to: str | None, reason: str) -> RolledBack:
    """Move ``@live`` of the stack back, under the promotion lock, and point reports/live/.

    Args:
        config: the composed config (the taxonomy, MLflow, the lock's timeout).
        paths: the project layout; ``reports/<version>/`` is copied to ``reports/live/``.
        to: the version to put live (``"3"`` or ``"v3"``); None: the previous live one.
        reason: why, for the history and the message; required.

    Raises:
        RegistryError: ``to`` does not exist or is live already, or there is nothing to
            roll back to; the message lists the versions there are.
        RegistryPermissionError: the tracking server refused the move to this user.
    """
    client = client_for(config.project.mlflow, paths)
    name = stack_model_name(config.taxonomy.name)
    # the same lock as promote: a rollback never interleaves with a promotion's move
    with (permission_needed(name, "EDIT", f"move @live of {name} back"),
          promotion_lock(client, name, config.project.promotion.lock_timeout_s)):
        event = rollback(client, name, to=to, reason=reason, actor=current_actor())
    version = str(event.version)
    card, note = point_live_card(paths, version)
    return RolledBack(name, event, card, note, version_metrics(client, name, version))


def announce_rollback(config: Config, paths: Paths, rolled: RolledBack) -> Notification:
    """Send the rollback to every configured channel (see :func:`taxonomist.notify.notify`).

    Raises:
        DeliveryError: one or more channels failed (each is named).
    """
    notification = notification_from_rollback(
        rolled.model, rolled.event, rolled.card, rolled.metrics, config.project.promotion.metric
    )
    notifier_for(config.project.notify, paths.root).send(notification)
    return notification


def point_live_card(paths: Paths, version: str) -> tuple[Path, str | None]:
    """Make reports/live/ describe ``version``, if its card is here.

    Returns:
        The card of ``version`` (in reports/live/ when copied there), and a note saying
        why reports/live/ was left as it was, or None.
    """
    kept, live = paths.reports / version, paths.reports / LIVE_FOLDER
    if not (kept / CARD_NAME).is_file():
        where = kept.relative_to(paths.root)
        return kept / CARD_NAME, f"no {where}/{CARD_NAME} here, so reports/live/ is left as it was"
    shutil.rmtree(live, ignore_errors=True)
    shutil.copytree(kept, live)
    return live / CARD_NAME, None
