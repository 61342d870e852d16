"""Real servers on 127.0.0.1 for the notifiers to talk to, and a notification to send."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from taxonomist.config.schema import RetryConfig
from taxonomist.notify import Notification, notification_from_promotion
from tests.test_notify import promotion_record

WEBHOOK_PATH = "/services/T0000/B0000/not-a-real-secret"
FAST = RetryConfig(attempts=4, backoff=0.01, max_backoff=0.05)  # retries in milliseconds


def free_port() -> int:
    """A port nothing listens on (the OS picks it; we close it again at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Webhook:
    """An HTTP server that records every POST and answers from a script.

    ``answers`` are ``(status, body, headers)`` served in order; after them, 200 "ok".
    """

    answers: list[tuple[int, str, dict[str, str]]]
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def answer(self) -> tuple[int, str, dict[str, str]]:
        return self.answers.pop(0) if self.answers else (200, "ok", {})


def _handler(webhook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's spelling)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            webhook.received.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
            )
            status, text, headers = webhook.answer()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def webhook() -> Iterator[Callable[..., Webhook]]:
    """Start a :class:`Webhook`: ``webhook((503, "down", {}), ...)``."""
    servers: list[ThreadingHTTPServer] = []

    def start(*answers: tuple[int, str, dict[str, str]]) -> Webhook:
        hook = Webhook(list(answers))
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        servers.append(server)
        hook.url = f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}"
        return hook

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    """An aiosmtpd handler that records each message; the first ``fail`` DATA get ``code``."""

    fail: int = 0
    code: str = "451 4.3.0 Try again later"
    attempts: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.attempts += 1
        if self.attempts <= self.fail:
            return self.code
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        # handled=False: aiosmtpd answers a refusal with 535 itself
        return AuthResult(success=auth_data.password == b"right", handled=False)

    @property
    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


@pytest.fixture
def mailbox() -> Iterator[Callable[..., Mailbox]]:
    """Start an SMTP server (aiosmtpd) on 127.0.0.1: ``mailbox(fail=2)``."""
    controllers: list[Controller] = []

    def start(fail: int = 0, code: str = "451 4.3.0 Try again later") -> Mailbox:
        box = Mailbox(fail=fail, code=code, port=free_port())
        controller = Controller(
            box, hostname=box.host, port=box.port,
            authenticator=box.authenticate, auth_require_tls=False,
        )
        controller.start()
        controllers.append(controller)
        return box

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def card(tmp_path: Path) -> Path:
    path = tmp_path / "reports" / "model_card.html"
    path.parent.mkdir(parents=True)
    path.write_text("<html><body><h1>digits.stack v3</h1></body></html>", encoding="utf-8")
    return path


@pytest.fixture
def note(card: Path) -> Notification:
    """A promotion over a live v2, pointing at a real card file."""
    return notification_from_promotion(promotion_record("promote", live=True), card)


@pytest.fixture(autouse=True)
def _no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from an environment without the notifiers' secrets."""
    for name in ("TAXONOMIST_SLACK_WEBHOOK", "TAXONOMIST_SMTP_USER", "TAXONOMIST_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
