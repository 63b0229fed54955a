"""The built-in ``email`` notifier: SMTP through the standard library, in a worker thread."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from typing import TYPE_CHECKING

import anyio.to_thread

from ..errors import ConfigurationError
from ..mail import SMTPSettings
from .base import (
    Notification,
    NotificationError,
    Notifier,
    PermanentNotificationError,
    Recipient,
    RetryableNotificationError,
)

if TYPE_CHECKING:
    from .settings import NotificationSettings

__all__ = ["EmailNotifier", "message_id"]


def message_id(dedupe_key: str, sender: str) -> str:
    """The Message-ID header for a notification: the same for every delivery of it.

    A receiving system that drops repeated Message-IDs (many do) then also
    drops the rare repeat of a crash between sending and logging.
    """
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:40]
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "chatkit.invalid"
    return f"<{digest}.notification@{domain}>"


class EmailNotifier(Notifier):
    """E-mails notifications to recipients that have an address.

    Uses `smtplib` from the standard library in a worker thread (as
    `Transcripts.email` does), with STARTTLS or implicit TLS and a login as
    `SMTPSettings` says. Each mail carries a Message-ID derived from the
    notification's dedupe key and ``Auto-Submitted: auto-generated`` (so
    auto-responders do not answer it).

    Server replies are sorted into `RetryableNotificationError` (4xx, a
    dropped or refused connection, a timeout, a refused login or sender:
    fix the settings and the next retry goes through) and
    `PermanentNotificationError` (a 5xx refusal of the recipient or of the
    message itself).

    Args:
        smtp: The mail server.

    Example:
        ```python
        smtp = SMTPSettings(host="smtp.example.com", sender="support@example.com",
                            username="support", password="...")
        kit.notifications.register(EmailNotifier(smtp))
        ```
    """

    name = "email"

    def __init__(self, smtp: SMTPSettings) -> None:
        if not isinstance(smtp, SMTPSettings):
            raise ConfigurationError("EmailNotifier needs SMTPSettings")
        self.smtp = smtp

    @classmethod
    def from_settings(cls, settings: NotificationSettings) -> EmailNotifier:
        """Build it from `NotificationSettings.smtp`.

        Raises:
            ConfigurationError: No SMTP server is configured.
        """
        if settings.smtp is None:
            raise ConfigurationError("the email notifier needs NotificationSettings.smtp")
        return cls(settings.smtp)

    def accepts(self, recipient: Recipient) -> bool:
        """Only recipients with an e-mail address."""
        return bool(recipient.email)

    def compose(self, notification: Notification) -> EmailMessage:
        """The e-mail for ``notification`` (headers and text, plus HTML when there is some).

        Raises:
            PermanentNotificationError: The address or a header cannot be written.
        """
        recipient = notification.recipient
        mail = EmailMessage()
        try:
            mail["From"] = self.smtp.sender
            mail["To"] = formataddr((recipient.name or "", recipient.email or ""))
            mail["Subject"] = " ".join(notification.subject.split())
            mail["Date"] = formatdate(localtime=False, usegmt=True)
            mail["Message-ID"] = message_id(notification.dedupe_key, self.smtp.sender)
            mail["Auto-Submitted"] = "auto-generated"
            mail.set_content(notification.text)
            if notification.html is not None:
                mail.add_alternative(notification.html, subtype="html")
            mail["Content-Language"] = notification.language
        except (ValueError, TypeError) as exc:
            raise PermanentNotificationError(
                f"cannot write the e-mail: {exc}", notifier=self.name
            ) from exc
        return mail

    async def send(self, notification: Notification) -> None:
        """Send one e-mail (one recipient, one connection).

        Raises:
            RetryableNotificationError: A temporary failure.
            PermanentNotificationError: The recipient or the message was refused.
        """
        mail = self.compose(notification)
        try:
            await anyio.to_thread.run_sync(_deliver, self.smtp, mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise _translate(exc, self.name) from exc

    def __repr__(self) -> str:
        return f"EmailNotifier(smtp={self.smtp!r})"


def _deliver(settings: SMTPSettings, mail: EmailMessage) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.use_tls:
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.starttls and not settings.use_tls:
            client.starttls(context=context)
        if settings.username and settings.password:
            client.login(settings.username, settings.password.get_secret_value())
        client.send_message(mail)


def _translate(exc: BaseException, notifier: str) -> NotificationError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        replies = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
        if codes and all(400 <= code < 500 for code in codes):
            return RetryableNotificationError(
                f"recipient refused for now: {replies}", notifier=notifier, status_code=codes[0]
            )
        return PermanentNotificationError(
            f"recipient refused: {replies}",
            notifier=notifier,
            status_code=codes[0] if codes else None,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        reply = f"{code} {_text(exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPDataError) and code >= 500:
            return PermanentNotificationError(
                f"message refused: {reply}", notifier=notifier, status_code=code
            )
        return RetryableNotificationError(
            f"{type(exc).__name__}: {reply}", notifier=notifier, status_code=code
        )
    return RetryableNotificationError(f"{type(exc).__name__}: {exc}", notifier=notifier)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
