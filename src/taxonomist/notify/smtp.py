"""Email: the decision as a plain-text message over SMTP, with the model card attached."""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from taxonomist.config.schema import RetryConfig
from taxonomist.notify.base import MissingSecretError, Notifier, NotifyError, secret_from_env
from taxonomist.notify.message import Notification

CHANNEL = "email"
CONFIG_FILE = "conf/notify/email.yaml"


class EmailNotifier(Notifier):
    """Sends each notification by SMTP, retrying transient failures with backoff.

    Connection errors, timeouts, a dropped connection and 4xx ("try again later") answers
    are retried (tenacity, up to ``retry.attempts`` tries in all, waits doubling from
    ``retry.backoff`` up to ``retry.max_backoff``); a 5xx answer, a refused login or a
    server without STARTTLS is final. The login, when the server needs one, comes from
    the environment only.

    Args:
        host: the SMTP server.
        sender: the From address.
        to: the recipients.
        port: 587 (submission, with STARTTLS) unless the server says otherwise.
        starttls: upgrade to TLS before logging in and sending.
        user_env: the NAME of the variable holding the login; unset: no login.
        password_env: the NAME of the variable holding the password.
        retry: how many tries and how long to wait between them.
        timeout: seconds per connection.
    """

    def __init__(
        self,
        host: str,
        sender: str,
        to: Sequence[str],
        port: int = 587,
        starttls: bool = True,
        user_env: str = "TAXONOMIST_SMTP_USER",
        password_env: str = "TAXONOMIST_SMTP_PASSWORD",
        retry: RetryConfig | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender, self.to = host, port, sender, list(to)
        self.starttls, self.timeout = starttls, timeout
        self.user_env, self.password_env = user_env, password_env
        self.retry = retry or RetryConfig()

    def send(self, notification: Notification) -> None:
        self._check_addresses()
        login = self._login()  # before any network call: a missing secret fails here
        message = email_message(notification, self.sender, self.to)
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential(multiplier=self.retry.backoff, max=self.retry.max_backoff),
            retry=retry_if_exception(is_transient),
            reraise=True,
        )
        try:
            retrying(self._deliver, message, login)
        except (smtplib.SMTPException, OSError) as err:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise NotifyError(
                CHANNEL,
                f"could not send through {self.host}:{self.port} in {attempts} attempt(s): "
                f"{_describe(err)}",
                self._hint(err),
            ) from None

    def _deliver(self, message: EmailMessage, login: tuple[str, str] | None) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if login:
                smtp.login(*login)
            refused = smtp.send_message(message)
        if refused:  # some recipients got it; retrying would send them a second copy
            raise NotifyError(
                CHANNEL,
                f"the server refused {_refused(refused)}; the others were sent the message",
                f"check the addresses in email.to in {CONFIG_FILE}",
            )

    def _check_addresses(self) -> None:
        for key, value in (("host", self.host), ("sender", self.sender), ("to", self.to)):
            if not value:
                raise NotifyError(
                    CHANNEL, f"email.{key} is empty", f"set email.{key} in {CONFIG_FILE}"
                )

    def _login(self) -> tuple[str, str] | None:
        user = secret_from_env(CHANNEL, self.user_env, "email.user_env", "the SMTP login")
        password = secret_from_env(
            CHANNEL, self.password_env, "email.password_env", "the SMTP password"
        )
        if user and password:
            return user, password
        if user or password:
            missing, present = (
                (self.password_env, self.user_env) if user else (self.user_env, self.password_env)
            )
            raise MissingSecretError(
                CHANNEL,
                f"{missing} is not set, but {present} is",
                f"export both {self.user_env} and {self.password_env}, or neither for a "
                "server that needs no login",
            )
        return None

    def _hint(self, err: BaseException) -> str:
        if isinstance(err, smtplib.SMTPAuthenticationError):
            return f"the server refused the login in {self.user_env} / {self.password_env}"
        if isinstance(err, smtplib.SMTPNotSupportedError) and "STARTTLS" in str(err):
            return (
                "the server offers no STARTTLS; use its submission port (587), or set "
                f"email.starttls: false in {CONFIG_FILE} only for a relay on a trusted network"
            )
        if isinstance(err, smtplib.SMTPNotSupportedError):
            return (
                f"the server offers no login here; unset {self.user_env} for a relay that "
                "needs none (many servers offer it only after STARTTLS)"
            )
        if isinstance(err, smtplib.SMTPSenderRefused):
            return f"the server refused email.sender; check it in {CONFIG_FILE}"
        if isinstance(err, smtplib.SMTPRecipientsRefused):
            return f"check the addresses in email.to in {CONFIG_FILE}"
        if isinstance(err, OSError) and not isinstance(err, smtplib.SMTPException):
            return (
                f"check email.host and email.port in {CONFIG_FILE}, and that this machine "
                "can reach the server"
            )
        return ""

    def __repr__(self) -> str:
        return f"EmailNotifier({self.host!r}, {self.port}, to={self.to!r})"


def email_message(notification: Notification, sender: str, to: Sequence[str]) -> EmailMessage:
    """The message: the title as subject, the text as body, the model card attached.

    A PDF next to the card (``model_card.pdf`` beside ``model_card.html``) is attached
    too. A card that is missing is named in the body rather than failing the send: the
    decision still reaches people.
    """
    message = EmailMessage()
    message["Subject"] = notification.title
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="taxonomist")
    cards = _cards(Path(notification.card_path))
    missing = "" if cards else f"\n\n(No model card at {notification.card_path}; none attached.)"
    message.set_content(notification.text + missing + "\n")
    for card in cards:
        kind = mimetypes.guess_type(card.name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        message.add_attachment(
            card.read_bytes(), maintype=maintype, subtype=subtype, filename=card.name
        )
    return message


def is_transient(err: BaseException) -> bool:
    """Whether trying again later may succeed: network trouble or a 4xx SMTP answer."""
    if isinstance(err, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(err, smtplib.SMTPResponseException):
        return 400 <= err.smtp_code < 500
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in err.recipients.values())
    if isinstance(err, smtplib.SMTPException | NotifyError):
        return False  # e.g. no STARTTLS, no AUTH: the same next time
    return isinstance(err, OSError)  # refused, unreachable, timed out, name lookup


def _cards(card: Path) -> list[Path]:
    pdf = card.with_suffix(".pdf")
    return [p for p in dict.fromkeys([card, pdf]) if p.is_file()]


def _describe(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        return f"{err.smtp_code} {_text(err.smtp_error)}"
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return f"every recipient refused: {_refused(err.recipients)}"
    return f"{type(err).__name__}: {err}"


def _refused(recipients: dict[str, tuple[int, bytes | str]]) -> str:
    return ", ".join(f"{who} ({code} {_text(why)})" for who, (code, why) in recipients.items())


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
