"""Tickets: work that outlives a chat."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ._base import Record, SafeText, UTCDateTime, new_id, utcnow
from .conversations import Priority

__all__ = ["Ticket", "TicketNote", "TicketStatus", "TICKET_TRANSITIONS", "OPEN_TICKET_STATUSES"]


class TicketStatus(str, Enum):
    """Lifecycle of a ticket."""

    OPEN = "open"
    PENDING = "pending"
    """Waiting on the customer."""
    ON_HOLD = "on_hold"
    """Waiting on a third party."""
    SOLVED = "solved"
    CLOSED = "closed"
    """Final."""


_T = TicketStatus
TICKET_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    _T.OPEN: frozenset({_T.PENDING, _T.ON_HOLD, _T.SOLVED, _T.CLOSED}),
    _T.PENDING: frozenset({_T.OPEN, _T.ON_HOLD, _T.SOLVED, _T.CLOSED}),
    _T.ON_HOLD: frozenset({_T.OPEN, _T.PENDING, _T.SOLVED, _T.CLOSED}),
    _T.SOLVED: frozenset({_T.OPEN, _T.CLOSED}),
    _T.CLOSED: frozenset(),
}
"""For each ticket status, the statuses it may move to."""

OPEN_TICKET_STATUSES = frozenset({_T.OPEN, _T.PENDING, _T.ON_HOLD})
"""Statuses of tickets that still need work."""


class TicketNote(BaseModel):
    """A note on a ticket.

    Attributes:
        id: Prefixed id (``tnote_...``).
        author_id: Agent who wrote it.
        text: The note.
        created_at: When it was written.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: new_id("tnote"))
    author_id: str | None = None
    text: SafeText = Field(min_length=1)
    created_at: UTCDateTime = Field(default_factory=utcnow)


class Ticket(Record):
    """A case that needs follow-up, usually opened from a conversation.

    Attributes:
        subject: One-line summary.
        conversation_id: The conversation it came from, if any.
        contact_id: The customer.
        status: Where it is in its lifecycle.
        priority: Work priority.
        owner_id: The agent responsible.
        due_at: When it must be done.
        notes: Notes, oldest first.
    """

    table: ClassVar[str] = "tickets"
    columns: ClassVar[tuple[str, ...]] = (
        "contact_id",
        "conversation_id",
        "status",
        "owner_id",
        "queue_key",
    )
    sort_keys: ClassVar[frozenset[str]] = frozenset({"queue_key"})

    subject: SafeText = Field(min_length=1, max_length=500)
    conversation_id: str | None = None
    contact_id: str
    status: TicketStatus = TicketStatus.OPEN
    priority: Priority = Priority.NORMAL
    owner_id: str | None = None
    due_at: UTCDateTime | None = None
    notes: list[TicketNote] = Field(default_factory=list)

    @property
    def queue_key(self) -> str:
        """Work-queue sort key: most urgent first, then earliest due (undated last), then id."""
        due = self.due_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if self.due_at else "~"
        return f"{3 - self.priority.rank}|{due}|{self.id}"
