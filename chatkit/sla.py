"""SLA policies: response and resolution targets for tickets, in business hours.

An `SLAPolicy` sets up to three targets for the tickets it matches (by
priority and team): the first response, each next response and the
resolution, counted in its `BusinessHours` (round the clock without them).
Policies are configured in `ChatKitSettings.sla_policies`; the first that
matches a ticket applies, and it is chosen again whenever the ticket's
priority, team or status changes.

The clocks live on the ticket (`Ticket.sla`):

- **first response** runs from creation until `Tickets.respond`, or until
  an agent's message in the ticket's conversation, which counts as a
  response;
- **next response** starts when the customer writes after a response (or
  the ticket comes back to open: the customer answered, or it was
  reopened) and stops at the next response;
- **resolution** runs from creation until the ticket is solved or closed,
  paused while it is pending (waiting on the customer) or on hold (waiting
  on a third party); reopening resumes it with the time already used.

Solved and closed stop every clock. `Tickets.check_sla`, run periodically,
publishes ``ticket.sla_warning`` and ``ticket.sla_breached`` once per clock
run; a clock stopped after its due time publishes its breach as it stops.

Example:
    ```python
    hours = BusinessHours.weekly("Europe/Istanbul", {"mon-fri": "09:00-18:00"})
    settings = ChatKitSettings(sla_policies=[
        SLAPolicy(name="urgent", priorities={"urgent"}, first_response=timedelta(hours=1),
                  resolution=timedelta(hours=8)),
        SLAPolicy(name="standard", first_response=timedelta(hours=4),
                  next_response=timedelta(hours=8), resolution=timedelta(days=3),
                  hours=hours),
    ])
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)

from .errors import InvalidInputError
from .events import TicketSLABreached, TicketSLAWarning
from .hours import BusinessHours
from .models.conversations import Priority
from .models.tickets import (
    OPEN_TICKET_STATUSES,
    SLAClock,
    SLATarget,
    Ticket,
    TicketSLA,
    TicketStatus,
)

__all__ = [
    "SLAEvent",
    "SLAPolicies",
    "SLAPolicy",
    "breach_risk",
    "find_policy",
    "sweep",
    "track",
]

SLAEvent: TypeAlias = TicketSLAWarning | TicketSLABreached
"""An event published about an SLA clock."""

_ZERO = timedelta()
_STOPPED = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})
_WAITING = frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD})
_NEVER = datetime.max.replace(tzinfo=UTC)


class SLAPolicy(BaseModel):
    """Targets for the tickets a policy matches.

    Attributes:
        name: Unique name, stored on each ticket it applies to.
        priorities: Ticket priorities it matches (``None``: any).
        teams: Ticket teams it matches (``None``: any, including no team).
        first_response: Time from creation to the first response.
        next_response: Time from the ticket's return to open to the next response.
        resolution: Time from creation to solved, not counting pending and on hold.
        hours: The hours the clocks run in. ``None``: the hours of the
            ticket's team (`Team.hours`), or round the clock when the team
            has none.
        warn_before: When to publish ``ticket.sla_warning``: a fraction of
            the target left (``0.2``: with a fifth of the time to go), or a
            time before the due time (in the same hours). ``None``: no warnings.

    Raises:
        InvalidInputError: No target, a target that is not positive, an
            empty match set, a warning outside the target, hours never open.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    priorities: frozenset[Priority] | None = None
    teams: frozenset[Annotated[str, Field(min_length=1, max_length=100)]] | None = None
    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    hours: BusinessHours | None = None
    warn_before: float | timedelta | None = 0.2

    @model_validator(mode="after")
    def _sensible(self) -> SLAPolicy:
        def invalid(message: str, field: str) -> InvalidInputError:
            return InvalidInputError(f"invalid SLA policy {self.name!r}: {message}", field=field)

        targets = [v for t in SLATarget if (v := self.target(t)) is not None]
        if not targets:
            raise invalid("it needs at least one target", "first_response")
        for target in SLATarget:
            value = self.target(target)
            if value is not None and value <= _ZERO:
                raise invalid(f"{target.value} must be a positive duration", target.value)
        if self.priorities is not None and not self.priorities:
            raise invalid("priorities must name at least one (or be None for any)", "priorities")
        if self.teams is not None and not self.teams:
            raise invalid("teams must name at least one (or be None for any)", "teams")
        warn = self.warn_before
        if isinstance(warn, float) and not 0 < warn < 1:
            raise invalid("a fractional warn_before must be between 0 and 1", "warn_before")
        if isinstance(warn, timedelta) and not _ZERO < warn < min(targets):
            raise invalid("warn_before must be positive and below each target", "warn_before")
        if self.hours is not None and not (
            any(self.hours.days) or any(self.hours.exceptions.values())
        ):
            raise invalid("its hours are never open, so no clock would run", "hours")
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(cls, value: Any, handler: ModelWrapValidatorHandler[SLAPolicy]) -> SLAPolicy:
        """Raise `InvalidInputError` for malformed fields too, not pydantic's error."""
        try:
            return handler(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or None
            name = value.get("name") if isinstance(value, dict) else None
            label = f"SLA policy {name!r}" if isinstance(name, str) else "SLA policy"
            raise InvalidInputError(
                f"invalid {label}: {where + ': ' if where else ''}{first['msg']}", field=where
            ) from exc

    def matches(self, *, priority: Priority, team: str | None) -> bool:
        """Whether a ticket of this priority and team falls under the policy."""
        return (self.priorities is None or priority in self.priorities) and (
            self.teams is None or team in self.teams
        )

    def target(self, target: SLATarget) -> timedelta | None:
        """The time the policy allows for ``target`` (``None``: not set)."""
        value: timedelta | None = getattr(self, target.value)
        return value

    def deadline(self, start: datetime, duration: timedelta) -> datetime | None:
        """The instant ``duration`` of clock time after ``start``.

        Clock time is business time when the policy has `hours`. ``None``
        when the hours do not hold that much time within about a year.
        """
        if self.hours is None:
            return start + duration
        return self.hours.add_open_time(start, duration)

    def clock_time(self, start: datetime, end: datetime) -> timedelta:
        """How much clock time lies between ``start`` and ``end`` (zero when reversed)."""
        if self.hours is None:
            return max(end - start, _ZERO)
        return self.hours.open_time_between(start, end)

    def warn_point(self, target: timedelta) -> timedelta | None:
        """How much clock time into ``target`` the warning falls (``None``: no warning)."""
        if self.warn_before is None:
            return None
        if isinstance(self.warn_before, timedelta):
            return max(target - self.warn_before, _ZERO)
        return target * (1 - self.warn_before)


def _unique_names(policies: tuple[SLAPolicy, ...]) -> tuple[SLAPolicy, ...]:
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(
            f"SLA policy names must be unique; repeated: {', '.join(duplicates)}",
            field="sla_policies",
        )
    return policies


SLAPolicies = Annotated[tuple[SLAPolicy, ...], AfterValidator(_unique_names)]
"""An ordered list of SLA policies with unique names (first match wins)."""


def find_policy(
    policies: Sequence[SLAPolicy], *, priority: Priority, team: str | None
) -> SLAPolicy | None:
    """The first policy matching a ticket of this priority and team, if any."""
    return next((p for p in policies if p.matches(priority=priority, team=team)), None)


def track(
    before: Ticket | None,
    after: Ticket,
    policies: Sequence[SLAPolicy],
    now: datetime,
    *,
    responded: bool = False,
    customer_replied: bool = False,
    team_hours: BusinessHours | None = None,
) -> tuple[TicketSLA | None, list[SLAEvent]]:
    """The SLA state of ``after``, changed from ``before`` (``None`` when just created).

    Picks the policy, carries the clocks over, applies what happened
    (a response, a customer's reply, a status change) and reschedules the
    running clocks.

    Args:
        before: The ticket as stored (``None`` when just created).
        after: Its next version.
        policies: The configured policies (first match wins).
        now: When it happens.
        responded: An agent responded to the customer: the response clocks stop.
        customer_replied: The customer wrote after a response: a next-response
            clock starts (when the policy has one and none is running).
        team_hours: The business hours of the ticket's team, used by a
            policy that has no `SLAPolicy.hours` of its own.

    Returns:
        The new state (``None`` when no policy matches) and the breaches of
        clocks that stopped or paused past their due time.
    """
    policy = find_policy(policies, priority=after.priority, team=after.team)
    if policy is None:
        return None, []
    if policy.hours is None and team_hours is not None:
        policy = policy.model_copy(update={"hours": team_hours})
    base = before or after
    old = base.sla
    events: list[SLAEvent] = []
    clocks: dict[SLATarget, SLAClock | None] = {}
    for target in SLATarget:
        if policy.target(target) is None:
            clocks[target] = None
            continue
        clock = old.clocks().get(target) if old is not None else None
        clocks[target] = clock if clock is not None else _fresh(target, base, policy, now)

    def halt(target: SLATarget, *, stop: bool) -> None:
        clock = clocks[target]
        if clock is None or clock.stopped_at is not None:
            return
        elapsed = clock.elapsed
        breached_at = clock.breached_at
        if clock.started_at is not None:
            elapsed += policy.clock_time(clock.started_at, now)
            if clock.due_at is not None and clock.due_at <= now and breached_at is None:
                breached_at = now
                events.append(_event(TicketSLABreached, after, policy, target, clock.due_at))
        clocks[target] = clock.model_copy(
            update={
                "started_at": None,
                "elapsed": elapsed,
                "stopped_at": now if stop else None,
                "breached_at": breached_at,
            }
        )

    def resume(target: SLATarget) -> None:
        clock = clocks[target]
        if clock is not None and not clock.running:
            clocks[target] = clock.model_copy(update={"started_at": now, "stopped_at": None})

    if responded:
        halt(SLATarget.FIRST_RESPONSE, stop=True)
        halt(SLATarget.NEXT_RESPONSE, stop=True)
    elif (
        customer_replied
        and after.status is TicketStatus.OPEN
        and after.first_responded_at is not None
        and policy.next_response is not None
    ):
        current = clocks[SLATarget.NEXT_RESPONSE]
        if current is None or not current.running:
            clocks[SLATarget.NEXT_RESPONSE] = SLAClock(started_at=now)
    if after.status is not base.status:
        if after.status in _STOPPED:
            for target in SLATarget:
                halt(target, stop=True)
        elif after.status in _WAITING:
            halt(SLATarget.RESOLUTION, stop=False)
        else:  # back to open
            resume(SLATarget.RESOLUTION)
            if after.first_responded_at is None:
                resume(SLATarget.FIRST_RESPONSE)
            elif policy.next_response is not None:
                current = clocks[SLATarget.NEXT_RESPONSE]
                if current is None or not current.running:
                    clocks[SLATarget.NEXT_RESPONSE] = SLAClock(started_at=now)
    for target, clock in clocks.items():
        duration = policy.target(target)
        if clock is not None and clock.running and duration is not None:
            clocks[target] = _schedule(clock, duration, policy, now)
    state = TicketSLA(
        policy=policy.name,
        first_response=clocks[SLATarget.FIRST_RESPONSE],
        next_response=clocks[SLATarget.NEXT_RESPONSE],
        resolution=clocks[SLATarget.RESOLUTION],
    )
    return state, events


def sweep(ticket: Ticket, now: datetime) -> tuple[TicketSLA | None, list[SLAEvent]]:
    """Flag the clocks of ``ticket`` whose warning or due time has come by ``now``.

    A clock is warned once and breached once per run; a clock already past
    due when first seen is breached without a warning.

    Returns:
        The new state and the events to publish with it (none: nothing to write).
    """
    sla = ticket.sla
    if sla is None or ticket.status not in OPEN_TICKET_STATUSES:
        return sla, []
    events: list[SLAEvent] = []
    updates: dict[str, SLAClock] = {}
    for target, clock in sla.clocks().items():
        if not clock.running or clock.breached_at is not None:
            continue
        if clock.due_at is not None and clock.due_at <= now:
            updates[target.value] = clock.model_copy(update={"breached_at": now})
            events.append(_event(TicketSLABreached, ticket, sla.policy, target, clock.due_at))
        elif clock.warn_at is not None and clock.warn_at <= now and clock.warned_at is None:
            updates[target.value] = clock.model_copy(update={"warned_at": now})
            events.append(_event(TicketSLAWarning, ticket, sla.policy, target, clock.due_at))
    if not events:
        return sla, []
    return sla.model_copy(update=updates), events


def breach_risk(ticket: Ticket, now: datetime) -> tuple[int, datetime, int, datetime, str]:
    """Sort key, most at risk first: past due, then nearest due time, then priority.

    Tickets without a running clock come after every ticket with one,
    most urgent first.
    """
    sla = ticket.sla
    upcoming = sla.next_due() if sla is not None else None
    overdue = sla is not None and bool(sla.overdue(now))
    due = upcoming[1] if upcoming is not None else _NEVER
    return (0 if overdue else 1, due, -ticket.priority.rank, ticket.created_at, ticket.id)


def _fresh(target: SLATarget, ticket: Ticket, policy: SLAPolicy, now: datetime) -> SLAClock | None:
    """A clock for a target the ticket had none for (new ticket, or new policy)."""
    created = ticket.created_at
    done = ticket.status in _STOPPED
    if target is SLATarget.FIRST_RESPONSE:
        end = ticket.first_responded_at or (now if done else None)
        if end is None:
            return SLAClock(started_at=created)
        return SLAClock(elapsed=policy.clock_time(created, end), stopped_at=end)
    if target is SLATarget.RESOLUTION:
        if ticket.status is TicketStatus.OPEN:
            return SLAClock(started_at=created)
        return SLAClock(elapsed=policy.clock_time(created, now), stopped_at=now if done else None)
    return None  # next response: starts only when the ticket returns to open


def _schedule(clock: SLAClock, target: timedelta, policy: SLAPolicy, now: datetime) -> SLAClock:
    """Due and warning times of a running clock; flags whose time is no longer past are reset."""
    assert clock.started_at is not None
    start, used = clock.started_at, clock.elapsed
    due = policy.deadline(start, target - used) if target > used else start
    point = policy.warn_point(target)
    warn = start if point is not None and point <= used else None
    if point is not None and point > used:
        warn = policy.deadline(start, point - used)
    return clock.model_copy(
        update={
            "due_at": due,
            "warn_at": warn,
            "warned_at": clock.warned_at if warn is not None and warn <= now else None,
            "breached_at": clock.breached_at if due is not None and due <= now else None,
        }
    )


def _event(
    kind: type[TicketSLAWarning] | type[TicketSLABreached],
    ticket: Ticket,
    policy: SLAPolicy | str,
    target: SLATarget,
    due_at: datetime | None,
) -> SLAEvent:
    return kind(
        conversation_id=ticket.conversation_id,
        contact_id=ticket.contact_id,
        ticket_id=ticket.id,
        policy=policy if isinstance(policy, str) else policy.name,
        target=target,
        due_at=due_at,
        priority=ticket.priority,
        team=ticket.team,
        owner_id=ticket.owner_id,
    )
