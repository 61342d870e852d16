"""MLflow's registry webhooks: subscribe to alias events, and verify a delivery.

MLflow 3 (SQL backends only) POSTs a JSON event to each subscribed URL when an alias is
set or deleted (``mlflow/server/handlers.py``, ``_set_registered_model_alias``), or a
version is registered (``_create_model_version``). Each
delivery is signed as in ``mlflow/webhooks/delivery.py``:

- ``X-MLflow-Delivery-Id``: a fresh UUID per delivery;
- ``X-MLflow-Timestamp``: Unix seconds when it was sent;
- ``X-MLflow-Signature``: ``v1,`` and the base64 HMAC-SHA256, keyed by the webhook's
  secret, of ``<delivery id>.<timestamp>.<body>``.

:class:`DeliveryVerifier` accepts a delivery only if the signature is the secret's (else
:class:`ForgedDelivery`), it was sent within ``max_age_s`` and its id was not seen before
(else :class:`StaleDelivery`): an altered body or header breaks the signature, and a
replayed one is either too old or already seen.

What the MLflow server needs to send to a URL like ``http://127.0.0.1:8080``: its
``MLFLOW_WEBHOOK_ALLOWED_SCHEMES`` lists ``https`` only by default, and it refuses
private and loopback addresses unless ``MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true``
(``mlflow/utils/validation.py``, ``_validate_webhook_url``; ``mlflow/webhooks/ssrf.py``).
It caches the list of subscriptions for ``MLFLOW_WEBHOOK_CACHE_TTL`` seconds (60), so
a new subscription may miss the events of its first minute: polling catches those.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.webhooks.constants import (
    WEBHOOK_DELIVERY_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_SIGNATURE_VERSION,
    WEBHOOK_TIMESTAMP_HEADER,
)

from taxonomist.errors import TaxonomistError
from taxonomist.tracking.client import Client

ALIAS_ENTITY, VERSION_ENTITY = "model_version_alias", "model_version"
# what taxonomist serve follows: alias moves, and new versions (to load them ahead)
EVENTS = (f"{ALIAS_ENTITY}.created", f"{ALIAS_ENTITY}.deleted", f"{VERSION_ENTITY}.created")
HEADERS = (WEBHOOK_DELIVERY_ID_HEADER, WEBHOOK_TIMESTAMP_HEADER, WEBHOOK_SIGNATURE_HEADER)


class ForgedDelivery(Exception):
    """Not signed with the webhook's secret: unsigned, forged, or altered on the way."""


class StaleDelivery(Exception):
    """Signed, but sent too long ago (or in the future), or already delivered once."""


class SubscriptionError(TaxonomistError):
    """The tracking server would not create or update the webhook."""


class DeliveryVerifier:
    """Checks deliveries of one webhook, remembering the ids seen within ``max_age_s``.

    Args:
        secret: the webhook's secret, as given to :func:`subscribe`.
        max_age_s: how old (or how far ahead of this clock) a delivery may be.
        clock: Unix seconds now (tests move it).
    """

    def __init__(self, secret: str, max_age_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._key, self.max_age_s, self.clock = secret.encode(), max_age_s, clock
        self._seen: dict[str, float] = {}  # delivery id -> its timestamp
        self._lock = threading.Lock()

    def verify(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The delivery's event, once its signature, age and id are checked.

        Raises:
            ForgedDelivery: a header is missing or the signature is not the secret's.
            StaleDelivery: sent outside ``max_age_s`` of now, or its id was seen before.
        """
        missing = [name for name in HEADERS if not headers.get(name)]
        if missing:
            raise ForgedDelivery(f"unsigned: no {', '.join(missing)} header")
        delivery, sent = headers[WEBHOOK_DELIVERY_ID_HEADER], headers[WEBHOOK_TIMESTAMP_HEADER]
        if not self._signed(delivery, sent, body, headers[WEBHOOK_SIGNATURE_HEADER]):
            raise ForgedDelivery(f"the {WEBHOOK_SIGNATURE_HEADER} header is not this "
                                 "webhook's signature of the delivery")
        self._admit(delivery, _seconds(sent))
        try:
            return json.loads(body)
        except ValueError:  # signed by the secret's holder, yet not JSON
            raise ForgedDelivery("the signed body is not JSON") from None

    def _signed(self, delivery: str, sent: str, body: bytes, signatures: str) -> bool:
        expected = sign(self._key, delivery, sent, body)
        # One or more space-separated "v1,<base64>" (Standard Webhooks); any may match.
        found = [s.encode() for s in signatures.split()]
        return any(hmac.compare_digest(expected, candidate) for candidate in found)

    def _admit(self, delivery: str, sent: float) -> None:
        now = self.clock()
        if abs(now - sent) > self.max_age_s:
            raise StaleDelivery(f"sent {now - sent:.0f} s from now, outside the "
                                f"{self.max_age_s:g} s a delivery is accepted")
        with self._lock:
            self._seen = {d: t for d, t in self._seen.items() if now - t <= self.max_age_s}
            if delivery in self._seen:
                raise StaleDelivery(f"delivery {delivery} was received before (a replay)")
            self._seen[delivery] = sent


def sign(key: bytes, delivery: str, sent: str, body: bytes) -> bytes:
    """The ``X-MLflow-Signature`` MLflow sends for these values (``v1,<base64>``)."""
    digest = hmac.new(key, b".".join([delivery.encode(), sent.encode(), body]),
                      hashlib.sha256).digest()
    return f"{WEBHOOK_SIGNATURE_VERSION},{base64.b64encode(digest).decode()}".encode()


def alias_moved(event: Mapping[str, Any], model: str, alias: str) -> bool:
    """Whether ``event`` says ``alias`` of ``model`` was set or deleted."""
    data = _data_of(event, ALIAS_ENTITY, model)
    return data is not None and data.get("alias") == alias


def version_registered(event: Mapping[str, Any], model: str) -> str | None:
    """The version of ``model`` that ``event`` says was registered, else None."""
    data = _data_of(event, VERSION_ENTITY, model)
    if data is None or event.get("action") != "created" or data.get("version") is None:
        return None
    return str(data["version"])


def _data_of(event: Mapping[str, Any], entity: str, model: str) -> Mapping[str, Any] | None:
    data = event.get("data")
    if event.get("entity") != entity or not isinstance(data, Mapping):
        return None
    return data if data.get("name") == model else None


def subscribe(client: Client, model: str, url: str, secret: str) -> str:
    """Have the tracking server POST its :data:`EVENTS` to ``url``, signed with ``secret``.

    The webhook is found by its URL and updated (events, secret, active), or created, so
    starting again never subscribes twice. Events of every model are sent; the receiver
    keeps those of ``model``.

    Returns:
        The webhook's id.

    Raises:
        SubscriptionError: the server refused (on basic-auth, webhooks are admin-only).
    """
    try:
        for hook in _all_webhooks(client):
            if hook.url == url:
                client.update_webhook(hook.webhook_id, events=list(EVENTS),
                                      secret=secret, status="ACTIVE")
                return hook.webhook_id
        return client.create_webhook(
            _hook_name(model), url, list(EVENTS), secret=secret,
            description=f"taxonomist serve: follows @live of {model}",
        ).webhook_id
    except MlflowException as err:
        raise SubscriptionError(
            f"could not subscribe {url} to alias events at {client.tracking_uri}: "
            f"{str(err.message).splitlines()[0][:300]}\n  hint: on mlflow server --app-name "
            "basic-auth only an admin may create webhooks (docs/security.md)"
        ) from err


def _all_webhooks(client: Client) -> list[Any]:
    hooks, token = [], None
    while True:
        page = client.list_webhooks(max_results=100, page_token=token)
        hooks.extend(page)
        token = page.token
        if not token:
            return hooks


def _hook_name(model: str) -> str:
    # letters, digits, '.', '_', '-'; under 63 characters (MLflow's _validate_webhook_name)
    kept = "".join(c if c.isalnum() or c in "._-" else "-" for c in model)
    return f"taxonomist-serve-{kept}"[:62].rstrip("._-")


def _seconds(sent: str) -> float:
    try:
        return float(int(sent))
    except ValueError:
        raise StaleDelivery(f"the timestamp {sent[:40]!r} is not Unix seconds") from None
