"""Events about tickets, their SLA clocks and their notifications."""

from __future__ import annotations

from typing import Literal

from ..models._base import UTCDateTime
from ..models.conversations import Priority
from ..models.tickets import SLATarget, Ticket, TicketNote, TicketStatus
from .base import BaseEvent

__all__ = [
    "NotificationFailed",
    "NotificationSent",
    "TicketCreated",
    "TicketNoteAdded",
    "TicketSLABreached",
    "TicketSLAWarning",
    "TicketStatusChanged",
    "TicketUpdated",
]


class TicketCreated(BaseEvent):
    """A ticket was opened."""

    type: Literal["ticket.created"] = "ticket.created"
    ticket: Ticket


class TicketUpdated(BaseEvent):
    """A ticket's subject, priority, owner or due date changed."""

    type: Literal["ticket.updated"] = "ticket.updated"
    ticket: Ticket
    changed: list[str]


class TicketStatusChanged(BaseEvent):
    """A ticket moved between statuses."""

    type: Literal["ticket.status_changed"] = "ticket.status_changed"
    ticket_id: str
    from_status: TicketStatus
    to_status: TicketStatus


class TicketNoteAdded(BaseEvent):
    """A note was added to a ticket."""

    type: Literal["ticket.note_added"] = "ticket.note_added"
    ticket_id: str
    note: TicketNote


class TicketSLAWarning(BaseEvent):
    """An SLA clock of a ticket nears its due time (see `SLAPolicy.warn_before`).

    Published once per clock run by `Tickets.check_sla`; not published when
    the clock is already past due (a breach comes instead).
    """

    type: Literal["ticket.sla_warning"] = "ticket.sla_warning"
    ticket_id: str
    policy: str
    target: SLATarget
    due_at: UTCDateTime | None
    priority: Priority
    team: str | None
    owner_id: str | None


class TicketSLABreached(BaseEvent):
    """An SLA clock of a ticket passed its due time without being met.

    Published once per clock run, by `Tickets.check_sla` or by the change
    that stopped or paused the clock late (a late response, a late solve).
    """

    type: Literal["ticket.sla_breached"] = "ticket.sla_breached"
    ticket_id: str
    policy: str
    target: SLATarget
    due_at: UTCDateTime | None
    priority: Priority
    team: str | None
    owner_id: str | None


class NotificationSent(BaseEvent):
    """A notifier sent a ticket notification (see `chatkit.services.Notifications`)."""

    type: Literal["notification.sent"] = "notification.sent"
    notification_id: str
    """The `NotificationRecord` in the notification log."""
    notifier: str
    """``email``, or the name of another notifier (``slack``...)."""
    kind: str
    """``ticket.created``, ``ticket.updated`` or ``ticket.resolved``."""
    recipient_kind: Literal["customer", "agent"]
    recipient_id: str | None
    ticket_id: str | None
    source_event_id: str
    """The ticket event it was sent for."""
    attempts: int


class NotificationFailed(BaseEvent):
    """A ticket notification failed for good and will not be retried.

    A recipient refused by the mail server, or a template that cannot be
    filled in (``notifier`` is then ``"render"``). Temporary failures are
    retried and publish nothing.
    """

    type: Literal["notification.failed"] = "notification.failed"
    notification_id: str
    notifier: str
    kind: str
    recipient_kind: Literal["customer", "agent"]
    recipient_id: str | None
    ticket_id: str | None
    source_event_id: str
    attempts: int
    error: str
