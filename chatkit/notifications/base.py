"""The notifier contract: what a notification is, and how a notifier sends one.

```text
RemoteServiceError
└── NotificationError              a notifier could not send (``.permanent`` says whether to retry)
    ├── RetryableNotificationError     try again later (4xx, a timeout, a dropped connection)
    └── PermanentNotificationError     never try again (5xx recipient refused)
```
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import RemoteServiceError
from ..plugins import Builtin, PluginLoader

if TYPE_CHECKING:
    from .settings import NotificationSettings

__all__ = [
    "MemoryNotifier",
    "Notification",
    "NotificationError",
    "NotificationKind",
    "Notifier",
    "PermanentNotificationError",
    "Recipient",
    "RecipientKind",
    "RetryableNotificationError",
    "notifiers",
]


class NotificationKind(str, Enum):
    """What happened to the ticket."""

    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"
    """Subject, priority, owner, due date, team or a non-final status changed."""
    TICKET_RESOLVED = "ticket.resolved"
    """Solved (or closed without being solved first)."""


class RecipientKind(str, Enum):
    """Who is told."""

    CUSTOMER = "customer"
    """The ticket's contact."""
    AGENT = "agent"
    """The ticket's owner."""


class Recipient(BaseModel):
    """Someone to notify, with every address chatkit knows for them.

    Attributes:
        kind: Customer or agent.
        id: The contact's or agent's id.
        name: Their name, if known.
        email: Their e-mail address (a contact's first e-mail identity, an
            agent's ``email``); ``None`` when there is none.
        phone: A contact's first phone identity (for SMS notifiers).
        language: The language they are written to in (BCP 47, e.g. ``"tr"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RecipientKind
    id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str = "en"


class Notification(BaseModel):
    """One rendered message for one recipient about one ticket event.

    Attributes:
        kind: Created, updated or resolved.
        recipient: Who it is for.
        subject: One line (no line breaks).
        text: The plain-text body.
        html: An HTML body, when the template has one.
        language: The language of the template used (may be a fallback of
            the recipient's).
        event_id: The domain event it comes from.
        ticket_id: The ticket.
        conversation_id: The ticket's conversation, if any.
        dedupe_key: ``<event id>:<recipient kind>:<recipient id>``: the same
            on every delivery of the event, so notifiers can drop repeats
            (the e-mail notifier derives the Message-ID header from it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: NotificationKind
    recipient: Recipient
    subject: str = Field(min_length=1)
    text: str
    html: str | None = None
    language: str
    event_id: str
    ticket_id: str
    conversation_id: str | None = None
    dedupe_key: str = Field(min_length=1)


class NotificationError(RemoteServiceError):
    """A notifier could not send a notification.

    Raise `RetryableNotificationError` or `PermanentNotificationError`
    from `Notifier.send`; anything else a notifier raises counts as
    retryable too (the whole batch is retried later).

    Attributes:
        permanent: Whether retrying is pointless.
        notifier: The notifier's name (also in ``service``).
    """

    permanent: ClassVar[bool] = False

    def __init__(self, message: str, *, notifier: str, status_code: int | None = None) -> None:
        super().__init__(message, service=notifier, status_code=status_code)
        self.notifier = notifier


class RetryableNotificationError(NotificationError):
    """Sending failed for now (a 4xx reply, a timeout, a dropped connection): try again later."""


class PermanentNotificationError(NotificationError):
    """Sending can never work (the recipient was refused): recorded as failed, never retried."""

    permanent: ClassVar[bool] = True


class Notifier(ABC):
    """Sends notifications somewhere: e-mail, Slack, SMS, push.

    One required method, `send`. Raise `RetryableNotificationError` for a
    failure worth retrying and `PermanentNotificationError` for one that is
    not; return normally once the message is handed over. The same
    notification may come twice after a crash (delivery is at least once):
    use `Notification.dedupe_key` as an idempotency key where the other end
    has one.

    Plug one in with `Notifications.register(notifier)`, or publish a class
    under the entry-point group ``chatkit.notifiers`` and name it in
    `NotificationSettings.notifiers`.

    Example:
        ```python
        class SlackNotifier(Notifier):
            name = "slack"

            def __init__(self, webhook_url: str) -> None:
                self.webhook_url = webhook_url

            def accepts(self, recipient: Recipient) -> bool:
                return recipient.kind is RecipientKind.AGENT

            async def send(self, notification: Notification) -> None:
                async with httpx.AsyncClient() as client:
                    reply = await client.post(self.webhook_url, json={"text": notification.text})
                if reply.status_code >= 500 or reply.status_code == 429:
                    raise RetryableNotificationError(reply.text, notifier=self.name)
                if reply.status_code >= 400:
                    raise PermanentNotificationError(reply.text, notifier=self.name)
        ```
    """

    name: str = "notifier"
    """Unique among the kit's notifiers; part of the log's dedupe key, so keep it stable."""

    @classmethod
    def from_settings(cls, settings: NotificationSettings) -> Notifier:
        """Build the notifier named in `NotificationSettings.notifiers`.

        The default passes ``settings.options[name]`` as keyword arguments.
        """
        return cls(**settings.options.get(cls.name, {}))

    def accepts(self, recipient: Recipient) -> bool:
        """Whether this notifier can reach ``recipient`` (default: everyone)."""
        return True

    @abstractmethod
    async def send(self, notification: Notification) -> None:
        """Deliver one notification.

        Raises:
            RetryableNotificationError: Try again later.
            PermanentNotificationError: Never try again.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class MemoryNotifier(Notifier):
    """Keeps what it is given in `sent`: a test double for your own code.

    Args:
        name: Its name (default ``"memory"``).
        fail_with: Errors to raise on the next calls, one per call, before
            it starts accepting again.

    Example:
        ```python
        inbox = MemoryNotifier()
        kit.notifications.register(inbox)
        await kit.notifications.drain()
        assert [n.subject for n in inbox.sent] == ["We received your request: Refund"]
        ```
    """

    def __init__(
        self, *, name: str = "memory", fail_with: list[NotificationError] | None = None
    ) -> None:
        self.name = name
        self.sent: list[Notification] = []
        self.calls = 0
        self._failures = list(fail_with or [])

    async def send(self, notification: Notification) -> None:
        """Record ``notification`` (or raise the next queued failure)."""
        self.calls += 1
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(notification)


notifiers: PluginLoader[type[Notifier]] = PluginLoader(
    "chatkit.notifiers",
    {
        "email": Builtin("chatkit.notifications.email:EmailNotifier"),
        "memory": Builtin("chatkit.notifications.base:MemoryNotifier"),
    },
)
"""Notifier classes by name: ``email`` and ``memory`` built in, others from entry points."""
