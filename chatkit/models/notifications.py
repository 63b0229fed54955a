"""The notification log: one entry per notification a notifier sent or gave up on."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import Field

from ._base import Record, SafeText, UTCDateTime

__all__ = ["NotificationRecord", "NotificationStatus"]


class NotificationStatus(str, Enum):
    """What became of a notification."""

    SENT = "sent"
    FAILED = "failed"
    """Refused for good (a recipient the server does not know, a template
    that cannot render); never retried."""


class NotificationRecord(Record):
    """A notification that was sent, or failed for good, by one notifier.

    The unique `dedupe_key` (``<notifier>:<event id>:<recipient kind>:<recipient id>``)
    is what makes delivery at most once per recipient and event, as far as
    the log can tell (see `chatkit.services.Notifications` for the window it
    cannot close).

    Attributes:
        dedupe_key: The notifier's name and the notification's dedupe key.
        status: Sent or failed.
        notifier: Name of the notifier (``"email"``, ``"slack"``...), or
            ``"render"`` when the template could not be filled in.
        kind: ``ticket.created``, ``ticket.updated`` or ``ticket.resolved``.
        recipient_kind: ``customer`` or ``agent``.
        recipient_id: The contact's or agent's id.
        address: Where it went (an e-mail address), when the notifier has one.
        language: The language of the template used.
        event_id: The domain event it was sent for.
        ticket_id: The ticket concerned.
        attempts: Tries it took (1 when the first one worked).
        error: Why it failed.
        finished_at: When it was sent or given up on.
    """

    table: ClassVar[str] = "notification_log"
    columns: ClassVar[tuple[str, ...]] = ("dedupe_key",)
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("dedupe_key",),)

    dedupe_key: SafeText = Field(min_length=1, max_length=500)
    status: NotificationStatus
    notifier: SafeText
    kind: SafeText
    recipient_kind: SafeText
    recipient_id: str | None = None
    address: SafeText | None = None
    language: SafeText | None = None
    event_id: str
    ticket_id: str | None = None
    attempts: int = Field(default=1, ge=0)
    error: SafeText | None = None
    finished_at: UTCDateTime
