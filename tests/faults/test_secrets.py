"""No secret reaches an output, a record or a log.

The project's secrets come from the environment only: the AWS secret key (here used by
`dvc push` to moto's S3), the Slack webhook URL and the SMTP password (both used by the
notify stage). After the pipeline has run through notify — three killed runs included
(:func:`~tests.faults.conftest.killed_thrice`, shared with ``test_killed_repro.py``) —
no file under the project (the
MLflow store, DVC's cache and git included) and nothing any command printed holds one,
plainly, URL-quoted or base64-encoded; nor does anything hold an S3 signature, as a
logged presigned URL would. (The API keys `taxonomist serve` demands are scanned for in
what a running server writes, logs and answers: tests/deploy/test_image.py.)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.faults.conftest import AWS_SECRET, SMTP_PASSWORD, WEBHOOK_PATH, KilledThrice
from tests.secrets_scan import leaks


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_no_secret_reaches_an_output_a_record_or_a_log(killed_thrice: KilledThrice) -> None:
    repro_project = killed_thrice.project
    repro_project.run("dvc", "push")
    secrets = {
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "the Slack webhook URL": repro_project.webhook.url,
        "the Slack webhook's secret path": urlsplit(repro_project.webhook.url).path,
        "TAXONOMIST_SMTP_PASSWORD": SMTP_PASSWORD,
    }
    assert WEBHOOK_PATH in secrets["the Slack webhook URL"]
    assert repro_project.webhook.received, "notify never posted to Slack: nothing was tested"
    assert ("faults", SMTP_PASSWORD) in repro_project.mailbox.logins, "notify never logged in"
    files = [p for p in repro_project.root.rglob("*") if p.is_file()]
    assert any("mlflow" in p.parts for p in files) and any(p.name == "dvc.lock" for p in files)
    found = {str(p.relative_to(repro_project.root)): leaks(p.read_bytes(), secrets)
             for p in files}
    assert {path: what for path, what in found.items() if what} == {}
    for n, log in enumerate(repro_project.logs):
        assert leaks(log.encode(), secrets) == [], f"command #{n} printed a secret:\n{log}"


def test_the_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    """The scan itself can fail: a card that quotes the webhook URL is caught."""
    card = tmp_path / "model_card.html"
    card.write_text(f"<a href='{quote('http://x' + WEBHOOK_PATH, safe='')}'>card</a>")
    assert leaks(card.read_bytes(), {"webhook": "http://x" + WEBHOOK_PATH}) == ["webhook"]
