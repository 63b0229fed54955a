"""Tickets: work that outlives a chat."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ._base import Record, SafeText, UTCDateTime, new_id, utcnow
from .conversations import Priority

__all__ = [
    "OPEN_TICKET_STATUSES",
    "SLAClock",
    "SLATarget",
    "TICKET_TRANSITIONS",
    "Ticket",
    "TicketNote",
    "TicketSLA",
    "TicketStatus",
]


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
        response: Whether it records an agent's response to the customer
            (`Tickets.respond`); responses stop the SLA response clocks,
            plain notes are internal and do not.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: new_id("tnote"))
    author_id: str | None = None
    text: SafeText = Field(min_length=1)
    created_at: UTCDateTime = Field(default_factory=utcnow)
    response: bool = False


class SLATarget(str, Enum):
    """The three things an SLA policy can set a target for."""

    FIRST_RESPONSE = "first_response"
    """From the ticket's creation to the first agent response."""
    NEXT_RESPONSE = "next_response"
    """From the ticket's return to open (the customer answered) to the next response."""
    RESOLUTION = "resolution"
    """From creation to solved; paused while pending or on hold."""


class SLAClock(BaseModel):
    """One SLA clock of a ticket: running, paused or stopped.

    A clock is *running* while `started_at` is set, *paused* when neither
    `started_at` nor `stopped_at` is set, and *stopped* (met, or no longer
    counted) once `stopped_at` is set. Time is counted in the business hours
    of the ticket's policy.

    Attributes:
        started_at: When the current run started or resumed (``None`` unless running).
        elapsed: Clock time used before `started_at` (earlier runs, before a pause).
        due_at: When the target falls due (kept after the clock stops, for
            reporting; ``None`` when the hours never hold that much time).
        warn_at: When the warning falls due (``None``: no warning).
        stopped_at: When the clock stopped.
        warned_at: When ``ticket.sla_warning`` was published for it.
        breached_at: When ``ticket.sla_breached`` was published for it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    started_at: UTCDateTime | None = None
    elapsed: timedelta = timedelta()
    due_at: UTCDateTime | None = None
    warn_at: UTCDateTime | None = None
    stopped_at: UTCDateTime | None = None
    warned_at: UTCDateTime | None = None
    breached_at: UTCDateTime | None = None

    @property
    def running(self) -> bool:
        """Whether the clock is counting now."""
        return self.started_at is not None and self.stopped_at is None


class TicketSLA(BaseModel):
    """The SLA state of a ticket: its policy and one clock per target it sets.

    Attributes:
        policy: Name of the `SLAPolicy` applied.
        first_response: The first-response clock, if the policy sets that target.
        next_response: The current next-response clock (``None`` until the
            ticket first returns to open after a response).
        resolution: The resolution clock, if the policy sets that target.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: SafeText
    first_response: SLAClock | None = None
    next_response: SLAClock | None = None
    resolution: SLAClock | None = None

    def clocks(self) -> dict[SLATarget, SLAClock]:
        """The clocks present, by target."""
        found = {t: getattr(self, t.value) for t in SLATarget}
        return {t: c for t, c in found.items() if c is not None}

    def next_due(self) -> tuple[SLATarget, datetime] | None:
        """The running clock that falls due first, and when; ``None`` when none runs."""
        due = [(c.due_at, t) for t, c in self.clocks().items() if c.running and c.due_at]
        if not due:
            return None
        at, target = min(due)
        return target, at

    def overdue(self, now: datetime) -> list[SLATarget]:
        """Targets whose clock runs and is past due at ``now``."""
        return [t for t, c in self.clocks().items() if c.running and c.due_at and c.due_at <= now]


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
        team: The team that works it (a team name, as in `Conversation.team`);
            SLA policies can match on it.
        first_responded_at: When an agent first responded (`Tickets.respond`).
        sla: SLA clocks, when a policy in `ChatKitSettings.sla_policies`
            matches the ticket (see `chatkit.sla`).
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
    team: SafeText | None = Field(default=None, max_length=100)
    first_responded_at: UTCDateTime | None = None
    sla: TicketSLA | None = None

    @property
    def queue_key(self) -> str:
        """Work-queue sort key: most urgent first, then earliest due (undated last), then id."""
        due = self.due_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if self.due_at else "~"
        return f"{3 - self.priority.rank}|{due}|{self.id}"
