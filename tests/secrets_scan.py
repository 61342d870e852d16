"""The secrets scan: does a file or a log hold a secret, plainly, URL-quoted or
base64-encoded, or an S3 signature (a logged presigned URL)? Used on the pipeline's
outputs (tests/faults/test_secrets.py), the server's (tests/deploy/test_image.py; its API
keys), and on what the webhook's secret and the MLflow users' passwords could reach: the
server's log, the project, the MLflow server's store and log
(tests/serve/test_webhook_mlflow.py, tests/test_basic_auth.py)."""

from __future__ import annotations

import base64
from urllib.parse import quote

SIGNATURES = (b"X-Amz-Signature", b"X-Amz-Credential", b"Signature=")


def forms(secret: str) -> list[bytes]:
    """What a leak of ``secret`` looks like: as is, URL-quoted, base64-encoded."""
    raw = secret.encode()
    return [raw, quote(secret, safe="").encode(), base64.b64encode(raw)]


def leaks(data: bytes, secrets: dict[str, str]) -> list[str]:
    """The names of the ``secrets`` (name: value) found in ``data``, and any signature."""
    found = [name for name, secret in secrets.items() if any(f in data for f in forms(secret))]
    return found + [s.decode() for s in SIGNATURES if s in data]
