"""SLA policies on tickets: matching, due times in business hours, clocks that
pause and stop, warnings and breaches published once, and breach-risk order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    BusinessHours,
    ChatKit,
    ChatKitSettings,
    InvalidInputError,
    NotFoundError,
    Priority,
    SLAPolicy,
    SLATarget,
    Ticket,
    TicketStatus,
)
from chatkit.events import (
    Event,
    TicketNoteAdded,
    TicketSLABreached,
    TicketSLAWarning,
    TicketUpdated,
)
from chatkit.sla import find_policy

pytestmark = pytest.mark.anyio

H = timedelta(hours=1)
FR, NR, RES = SLATarget.FIRST_RESPONSE, SLATarget.NEXT_RESPONSE, SLATarget.RESOLUTION
ISTANBUL = BusinessHours.weekly("Europe/Istanbul", {"mon-fri": "09:00-18:00"})

POLICIES = [
    SLAPolicy(name="vip", teams={"vip"}, first_response=0.5 * H, resolution=4 * H),
    SLAPolicy(
        name="urgent",
        priorities={Priority.URGENT},
        first_response=H,
        next_response=2 * H,
        resolution=8 * H,
        warn_before=0.25,
    ),
    SLAPolicy(
        name="standard",
        priorities={Priority.NORMAL, Priority.HIGH},
        first_response=4 * H,
        next_response=8 * H,
        resolution=72 * H,
        warn_before=H,
    ),
]
"""Round the clock (so due times follow from creation times); low priority has no SLA."""


@pytest.fixture
async def kit(store_url: str, tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    """The shared `kit` fixture (every store), with `POLICIES` configured."""
    settings = ChatKitSettings(event_poll_interval=0.05, sla_policies=POLICIES)
    blobs = None
    if store_url.startswith("postgresql"):
        from chatkit.blobs import LocalBlobStore

        blobs = LocalBlobStore(tmp_path / "blobs")
    async with AsyncChatKit(store_url, settings=settings, blobs=blobs) as k:
        yield k


async def _ticket(kit: AsyncChatKit, priority: str = "urgent", **fields: Any) -> Ticket:
    contact = await kit.contacts.create(name="Ada")
    return await kit.tickets.create(
        contact_id=contact.id, subject=f"{priority} case", priority=priority, **fields
    )


async def _events_after(kit: AsyncChatKit, position: int) -> list[Event]:
    return (await kit.events.list(after=position, limit=1000)).items


def _sla_events(events: Sequence[Event]) -> list[tuple[str, str, SLATarget]]:
    return [
        (e.type, e.ticket_id, e.target)
        for e in events
        if isinstance(e, (TicketSLAWarning, TicketSLABreached))
    ]


def _due(ticket: Ticket, target: SLATarget) -> datetime:
    assert ticket.sla is not None
    clock = ticket.sla.clocks()[target]
    assert clock.due_at is not None
    return clock.due_at


# -- policies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "first_response"),
        ({"first_response": -H}, "first_response"),
        ({"resolution": timedelta()}, "resolution"),
        ({"resolution": "soon"}, "resolution"),
        ({"resolution": H, "priorities": []}, "priorities"),
        ({"resolution": H, "teams": set()}, "teams"),
        ({"resolution": H, "priorities": ["critical"]}, "priorities.0"),
        ({"resolution": H, "warn_before": 1.5}, "warn_before"),
        ({"resolution": H, "warn_before": 0.0}, "warn_before"),
        ({"resolution": H, "warn_before": 2 * H}, "warn_before"),
        ({"resolution": H, "hours": BusinessHours(timezone="UTC")}, "hours"),
        ({"resolution": H, "name": ""}, "name"),
        ({"resolution": H, "colour": "red"}, "colour"),
    ],
)
def test_bad_policies_raise_invalid_input(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        SLAPolicy(**{"name": "p", **fields})
    assert caught.value.field == field


def test_bad_policies_in_settings_raise_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        ChatKitSettings.model_validate({"sla_policies": [{"name": "p", "resolution": "-PT1H"}]})
    with pytest.raises(InvalidInputError) as caught:
        ChatKitSettings(sla_policies=[POLICIES[0], POLICIES[0]])
    assert caught.value.field == "sla_policies"


def test_policies_load_from_plain_configuration() -> None:
    settings = ChatKitSettings.model_validate(
        {
            "sla_policies": [
                {
                    "name": "standard",
                    "priorities": ["normal"],
                    "first_response": "PT4H",
                    "hours": ISTANBUL.model_dump(mode="json"),
                    "warn_before": "PT30M",
                }
            ]
        }
    )
    [policy] = settings.sla_policies
    assert (policy.first_response, policy.warn_before, policy.hours) == (
        4 * H,
        timedelta(minutes=30),
        ISTANBUL,
    )
    assert ChatKitSettings.model_validate_json(settings.model_dump_json()) == settings


def test_the_first_matching_policy_wins() -> None:
    def name(priority: Priority, team: str | None) -> str | None:
        policy = find_policy(POLICIES, priority=priority, team=team)
        return policy.name if policy else None

    assert name(Priority.URGENT, "vip") == "vip"
    assert name(Priority.LOW, "vip") == "vip"
    assert name(Priority.URGENT, None) == "urgent"
    assert name(Priority.URGENT, "billing") == "urgent"
    assert name(Priority.HIGH, None) == "standard"
    assert name(Priority.LOW, "billing") is None


def _istanbul(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ISTANBUL.zone)


@pytest.mark.parametrize(
    ("weekly", "start", "due"),
    [
        # Friday 17:00 with 4 business hours: 1 on Friday, 3 on Monday
        ({"mon-fri": "09:00-18:00"}, _istanbul(2026, 3, 6, 17), _istanbul(2026, 3, 9, 12)),
        # ... unless Saturday mornings are open
        (
            {"mon-fri": "09:00-18:00", "sat": "10:00-14:00"},
            _istanbul(2026, 3, 6, 17),
            _istanbul(2026, 3, 7, 13),
        ),
        # Saturday night: the clock starts on Monday morning
        ({"mon-fri": "09:00-18:00"}, _istanbul(2026, 3, 7, 23), _istanbul(2026, 3, 9, 13)),
        # a lunch break does not count
        (
            {"mon-fri": ["09:00-12:00", "13:00-18:00"]},
            _istanbul(2026, 3, 9, 10),
            _istanbul(2026, 3, 9, 15),
        ),
    ],
)
def test_due_times_count_business_hours(
    weekly: dict[str, str | list[str]], start: datetime, due: datetime
) -> None:
    policy = SLAPolicy(
        name="p", first_response=4 * H, hours=BusinessHours.weekly("Europe/Istanbul", weekly)
    )
    assert policy.deadline(start, 4 * H) == due
    assert policy.clock_time(start, due) == 4 * H


def test_round_the_clock_and_warning_points() -> None:
    start = datetime(2026, 3, 6, 17, tzinfo=UTC)
    policy = SLAPolicy(name="p", resolution=8 * H)
    assert policy.deadline(start, 8 * H) == start + 8 * H
    assert policy.warn_point(8 * H) == 0.8 * 8 * H  # default: with a fifth to go
    assert SLAPolicy(name="p", resolution=8 * H, warn_before=H).warn_point(8 * H) == 7 * H
    assert SLAPolicy(name="p", resolution=8 * H, warn_before=None).warn_point(8 * H) is None


# -- clocks on tickets ---------------------------------------------------------------------


async def test_create_starts_the_clocks_of_the_matching_policy(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, "urgent")
    assert ticket.sla is not None
    assert ticket.sla.policy == "urgent"
    assert _due(ticket, FR) == ticket.created_at + H
    assert _due(ticket, RES) == ticket.created_at + 8 * H
    assert ticket.sla.next_response is None  # starts only after a response
    clock = ticket.sla.clocks()[FR]
    assert clock.warn_at == ticket.created_at + 0.75 * H
    assert ticket.sla.next_due() == (FR, ticket.created_at + H)
    assert await kit.tickets.get(ticket.id) == ticket  # the state round-trips the store


async def test_no_matching_policy_means_no_sla(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, "low")
    assert ticket.sla is None
    assert await kit.tickets.check_sla(now=ticket.created_at + 1000 * H) == []


async def test_team_comes_from_the_conversation_and_matches_policies(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ada")
    conv = await kit.conversations.create(contact_id=contact.id, team="vip")
    ticket = await kit.tickets.create(conversation_id=conv.id, subject="x", priority="low")
    assert ticket.team == "vip"
    assert ticket.sla is not None
    assert ticket.sla.policy == "vip"
    assert _due(ticket, FR) == ticket.created_at + 0.5 * H
    other = await kit.tickets.create(conversation_id=conv.id, subject="y", team="billing")
    assert other.team == "billing"
    assert other.sla is not None
    assert other.sla.policy == "standard"


async def test_business_hours_policies_schedule_in_business_hours(
    store_url: str,
) -> None:
    policy = SLAPolicy(name="office", first_response=4 * H, resolution=20 * H, hours=ISTANBUL)
    async with AsyncChatKit(store_url, settings=ChatKitSettings(sla_policies=[policy])) as kit:
        ticket = await _ticket(kit, "normal")
        assert _due(ticket, FR) == ISTANBUL.add_open_time(ticket.created_at, 4 * H)
        assert _due(ticket, RES) == ISTANBUL.add_open_time(ticket.created_at, 20 * H)
        assert ISTANBUL.open_time_between(ticket.created_at, _due(ticket, RES)) == 20 * H


async def test_a_new_priority_or_team_reschedules_the_clocks(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, "normal")
    assert _due(ticket, FR) == ticket.created_at + 4 * H
    before = await kit.store.last_position()
    raised = await kit.tickets.update(ticket.id, priority="urgent")
    assert raised.sla is not None
    assert raised.sla.policy == "urgent"
    assert _due(raised, FR) == ticket.created_at + H  # counted from creation all the same
    [event] = await _events_after(kit, before)
    assert isinstance(event, TicketUpdated)
    assert event.changed == ["priority", "sla"]
    vip = await kit.tickets.update(ticket.id, team="vip")
    assert vip.sla is not None
    assert vip.sla.policy == "vip"
    assert _due(vip, RES) == ticket.created_at + 4 * H
    dropped = await kit.tickets.update(ticket.id, team=None, priority="low")
    assert dropped.sla is None
    again = await kit.tickets.update(ticket.id, priority="high")
    assert again.sla is not None
    assert _due(again, FR) == ticket.created_at + 4 * H


# -- responses --------------------------------------------------------------------------------


async def test_respond_stops_the_first_response_clock(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, "urgent")
    mia = await kit.agents.create(name="Mia")
    await kit.tickets.add_note(ticket.id, "internal: checking stock", author_id=mia.id)
    assert (await kit.tickets.get(ticket.id)).first_responded_at is None  # notes do not count
    before = await kit.store.last_position()
    answered = await kit.tickets.respond(ticket.id, "We are on it", agent_id=mia.id)
    assert answered.first_responded_at == answered.notes[-1].created_at
    assert answered.notes[-1].response
    assert answered.notes[-1].author_id == mia.id
    assert answered.sla is not None
    clock = answered.sla.clocks()[FR]
    assert not clock.running
    assert clock.stopped_at == answered.first_responded_at
    assert clock.breached_at is None
    [event] = await _events_after(kit, before)
    assert isinstance(event, TicketNoteAdded)
    assert event.note.response
    published = await kit.tickets.check_sla(now=ticket.created_at + 7 * H)
    assert _sla_events(published) == [("ticket.sla_warning", ticket.id, RES)]
    second = await kit.tickets.respond(ticket.id, "Update: shipped", agent_id=mia.id)
    assert second.first_responded_at == answered.first_responded_at


async def test_respond_needs_a_known_agent_and_text(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    with pytest.raises(NotFoundError):
        await kit.tickets.respond(ticket.id, "hi", agent_id="ag_missing")
    mia = await kit.agents.create(name="Mia")
    with pytest.raises(InvalidInputError):
        await kit.tickets.respond(ticket.id, "", agent_id=mia.id)
    assert await kit.tickets.get(ticket.id) == ticket


async def test_a_late_response_publishes_its_breach_with_the_note(
    store_url: str,
) -> None:
    quick = SLAPolicy(name="quick", first_response=timedelta(milliseconds=50), warn_before=None)
    async with AsyncChatKit(store_url, settings=ChatKitSettings(sla_policies=[quick])) as kit:
        ticket = await _ticket(kit, "normal")
        mia = await kit.agents.create(name="Mia")
        await asyncio.sleep(0.1)
        before = await kit.store.last_position()
        late = await kit.tickets.respond(ticket.id, "Sorry for the wait", agent_id=mia.id)
        note, breach = await _events_after(kit, before)
        assert isinstance(note, TicketNoteAdded)
        assert isinstance(breach, TicketSLABreached)
        assert (breach.ticket_id, breach.target, breach.policy) == (ticket.id, FR, "quick")
        assert late.sla is not None
        assert late.sla.clocks()[FR].breached_at == late.first_responded_at
        assert await kit.tickets.check_sla() == []  # already published


async def test_next_response_runs_from_the_customers_answer_to_the_next_response(
    kit: AsyncChatKit,
) -> None:
    ticket = await _ticket(kit, "urgent")
    mia = await kit.agents.create(name="Mia")
    await kit.tickets.respond(ticket.id, "Which order?", agent_id=mia.id)
    waiting = await kit.tickets.set_status(ticket.id, "pending")
    assert waiting.sla is not None
    assert waiting.sla.next_response is None
    answered = await kit.tickets.set_status(ticket.id, "open")  # the customer wrote back
    assert answered.sla is not None
    clock = answered.sla.next_response
    assert clock is not None
    assert clock.running
    assert clock.started_at is not None
    assert clock.due_at == clock.started_at + 2 * H
    replied = await kit.tickets.respond(ticket.id, "Found it", agent_id=mia.id)
    assert replied.sla is not None
    assert replied.sla.next_response is not None
    assert not replied.sla.next_response.running
    again = await kit.tickets.set_status(
        (await kit.tickets.set_status(ticket.id, "pending")).id, "open"
    )
    assert again.sla is not None
    assert again.sla.next_response is not None
    assert again.sla.next_response.running  # a new run, with fresh flags
    assert again.sla.next_response.started_at != clock.started_at


async def test_messages_in_the_tickets_conversation_move_its_clocks(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="v1", text="My order is late")
    conv = inbound.conversation
    ticket = await kit.tickets.create(conversation_id=conv.id, subject="late", priority="urgent")
    assert (await kit.conversations.get(conv.id)).open_tickets == [ticket.id]
    mia = await kit.agents.create(name="Mia")
    # A private note is no response; a customer's message before any response moves nothing.
    await kit.messages.note(conv.id, "checking the courier", agent_id=mia.id)
    await kit.messages.send(conv.id, "hello?", author=Author.customer(inbound.contact.id))
    untouched = await kit.tickets.get(ticket.id)
    assert untouched.first_responded_at is None
    assert untouched.sla is not None
    assert untouched.sla.first_response is not None
    assert untouched.sla.first_response.running
    # The agent's answer in the chat is the first response.
    reply = await kit.messages.send(conv.id, "It ships today", author=Author.agent(mia.id))
    answered = await kit.tickets.get(ticket.id)
    assert answered.first_responded_at == reply.created_at
    assert answered.sla is not None
    assert answered.sla.first_response is not None
    assert answered.sla.first_response.stopped_at == reply.created_at
    assert answered.sla.next_response is None
    # The customer writes again: the next-response clock runs from their message.
    back = await kit.messages.send(
        conv.id, "Thanks, which courier?", author=Author.customer(inbound.contact.id)
    )
    running = await kit.tickets.get(ticket.id)
    assert running.sla is not None
    assert running.sla.next_response is not None
    assert running.sla.next_response.started_at == back.created_at
    assert running.sla.next_response.due_at == back.created_at + 2 * H
    # A ticket pending on the customer reopens when they answer.
    await kit.messages.send(conv.id, "DHL", author=Author.agent(mia.id))
    await kit.tickets.set_status(ticket.id, "pending")
    position = (await kit.events.list(limit=1000)).items[-1].position or 0
    await kit.messages.send(conv.id, "ok", author=Author.customer(inbound.contact.id))
    reopened = await kit.tickets.get(ticket.id)
    assert reopened.status is TicketStatus.OPEN
    assert reopened.sla is not None
    assert reopened.sla.next_response is not None
    assert reopened.sla.next_response.running
    types = [e.type for e in await _events_after(kit, position)]
    assert types[:2] == ["message.created", "ticket.status_changed"]
    # Solved tickets leave the conversation's list, and come back when reopened.
    await kit.tickets.solve(ticket.id)
    assert (await kit.conversations.get(conv.id)).open_tickets == []
    await kit.messages.send(conv.id, "one more", author=Author.agent(mia.id))
    assert (await kit.tickets.get(ticket.id)).status is TicketStatus.SOLVED
    await kit.tickets.reopen(ticket.id)
    assert (await kit.conversations.get(conv.id)).open_tickets == [ticket.id]


async def test_a_policy_without_hours_counts_in_the_teams_hours(store_url: str) -> None:
    policy = SLAPolicy(name="team hours", first_response=4 * H, resolution=20 * H)
    async with AsyncChatKit(store_url, settings=ChatKitSettings(sla_policies=[policy])) as kit:
        await kit.teams.create("istanbul", hours=ISTANBUL)
        in_team = await _ticket(kit, "normal", team="istanbul")
        assert _due(in_team, FR) == ISTANBUL.add_open_time(in_team.created_at, 4 * H)
        assert _due(in_team, RES) == ISTANBUL.add_open_time(in_team.created_at, 20 * H)
        elsewhere = await _ticket(kit, "normal", team="unlisted")  # no such team: round the clock
        assert _due(elsewhere, FR) == elsewhere.created_at + 4 * H
        moved = await kit.tickets.update(elsewhere.id, team="istanbul")
        assert _due(moved, FR) == ISTANBUL.add_open_time(elsewhere.created_at, 4 * H)


# -- status changes ------------------------------------------------------------------------------


async def test_pending_and_on_hold_pause_the_resolution_clock(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, "urgent")
    far = ticket.created_at + 100 * H
    for status in ("pending", "on_hold"):
        paused = await kit.tickets.set_status(ticket.id, status)
        assert paused.sla is not None
        assert paused.sla.resolution is not None
        assert not paused.sla.resolution.running
        assert paused.sla.resolution.elapsed > timedelta()
        assert paused.sla.next_due() == (FR, ticket.created_at + H)  # still owed an answer
    published = await kit.tickets.check_sla(now=far)
    assert _sla_events(published) == [("ticket.sla_breached", ticket.id, FR)]
    resumed = await kit.tickets.set_status(ticket.id, "open")
    assert resumed.sla is not None
    assert resumed.sla.resolution is not None
    clock = resumed.sla.resolution
    assert clock.running
    assert clock.started_at is not None
    assert clock.due_at == clock.started_at + 8 * H - clock.elapsed
    assert clock.due_at > _due(ticket, RES)  # the pause moved it later


async def test_solved_and_closed_stop_every_clock(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, "urgent")
    solved = await kit.tickets.solve(ticket.id)
    assert solved.sla is not None
    assert all(not c.running and c.stopped_at for c in solved.sla.clocks().values())
    assert solved.sla.next_due() is None
    assert await kit.tickets.check_sla(now=ticket.created_at + 100 * H) == []
    reopened = await kit.tickets.reopen(ticket.id)
    assert reopened.sla is not None
    assert {t for t, c in reopened.sla.clocks().items() if c.running} == {FR, RES}
    closed = await kit.tickets.close(ticket.id)
    assert closed.sla is not None
    assert not any(c.running for c in closed.sla.clocks().values())


# -- warnings and breaches ----------------------------------------------------------------


async def test_warning_then_breach_each_published_once(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, "urgent", team="billing")
    start = await kit.store.last_position()
    t0 = ticket.created_at
    assert await kit.tickets.check_sla(now=t0 + 0.5 * H) == []
    warned = await kit.tickets.check_sla(now=t0 + 0.8 * H)
    assert _sla_events(warned) == [("ticket.sla_warning", ticket.id, FR)]
    [warning] = warned
    assert (warning.policy, warning.due_at, warning.priority, warning.team) == (
        "urgent",
        t0 + H,
        Priority.URGENT,
        "billing",
    )
    assert await kit.tickets.check_sla(now=t0 + 0.9 * H) == []
    breached = await kit.tickets.check_sla(now=t0 + 2 * H)
    assert _sla_events(breached) == [("ticket.sla_breached", ticket.id, FR)]
    assert await kit.tickets.check_sla(now=t0 + 3 * H) == []
    # the resolution clock: a late sweep goes straight to the breach, without a warning
    late = await kit.tickets.check_sla(now=t0 + 9 * H)
    assert _sla_events(late) == [("ticket.sla_breached", ticket.id, RES)]
    outbox = _sla_events(await _events_after(kit, start))
    assert outbox == [
        ("ticket.sla_warning", ticket.id, FR),
        ("ticket.sla_breached", ticket.id, FR),
        ("ticket.sla_breached", ticket.id, RES),
    ]
    stored = await kit.tickets.get(ticket.id)
    assert stored.sla is not None
    first = stored.sla.clocks()[FR]
    assert (first.warned_at, first.breached_at) == (t0 + 0.8 * H, t0 + 2 * H)
    assert stored.sla.overdue(t0 + 9 * H) == [FR, RES]


async def test_racing_checks_publish_each_event_once(kit: AsyncChatKit) -> None:
    tickets = [await _ticket(kit, p) for p in ("urgent", "normal", "urgent", "high")]
    start = await kit.store.last_position()
    now = max(t.created_at for t in tickets) + 6.5 * H  # urgent resolution warns at 6 h
    results = await asyncio.gather(*(kit.tickets.check_sla(now=now) for _ in range(4)))
    published = [e for r in results for e in r]
    outbox = _sla_events(await _events_after(kit, start))
    assert sorted(outbox) == sorted(_sla_events(published))
    assert len(outbox) == len(set(outbox))
    assert sorted(outbox) == sorted(
        [("ticket.sla_breached", t.id, FR) for t in tickets]
        + [("ticket.sla_warning", t.id, RES) for t in tickets if t.priority is Priority.URGENT]
    )


async def test_check_sla_pages_through_many_tickets(kit: AsyncChatKit) -> None:
    tickets = [await _ticket(kit, "normal") for _ in range(5)]
    now = tickets[-1].created_at + 5 * H
    published = await kit.tickets.check_sla(now=now, batch_size=2)
    assert sorted(e.ticket_id for e in published) == sorted(t.id for t in tickets)


async def test_check_sla_rejects_naive_times_and_bad_batches(kit: AsyncChatKit) -> None:
    with pytest.raises(InvalidInputError):
        await kit.tickets.check_sla(now=datetime(2026, 1, 1))
    with pytest.raises(InvalidInputError):
        await kit.tickets.check_sla(batch_size=0)


# -- at a glance -------------------------------------------------------------------------------


async def test_at_a_glance_puts_breaches_first_then_nearest_due_then_priority(
    kit: AsyncChatKit,
) -> None:
    mia = await kit.agents.create(name="Mia")
    low = await _ticket(kit, "low")
    normal = await _ticket(kit, "normal")  # first response due at +4h
    high = await _ticket(kit, "high", owner_id=mia.id)  # +4h, a little later
    urgent = await _ticket(kit, "urgent")  # +1h: overdue at +2h
    vip = await _ticket(kit, "low", team="vip")  # +0.5h: overdue longest
    answered = await _ticket(kit, "urgent")  # answered: resolution due at +8h
    await kit.tickets.respond(answered.id, "On it", agent_id=mia.id)
    solved = await _ticket(kit, "urgent")
    await kit.tickets.solve(solved.id)
    now = low.created_at + 2 * H
    order = [t.id for t in await kit.tickets.at_a_glance(now=now)]
    assert order == [vip.id, urgent.id, normal.id, high.id, answered.id, low.id]
    assert [t.id for t in await kit.tickets.at_a_glance(now=now, limit=2)] == [vip.id, urgent.id]
    assert [t.id for t in await kit.tickets.at_a_glance(owner_id=mia.id, now=now)] == [high.id]
    assert [t.id for t in await kit.tickets.at_a_glance(team="vip", now=now)] == [vip.id]
    # before anything is due, the nearest due time leads
    early = [t.id for t in await kit.tickets.at_a_glance(now=low.created_at)]
    assert early == [vip.id, urgent.id, normal.id, high.id, answered.id, low.id]


async def test_at_a_glance_orders_tickets_without_running_clocks_by_priority(
    kit: AsyncChatKit,
) -> None:
    low = await _ticket(kit, "low")
    mia = await kit.agents.create(name="Mia")
    waiting = await _ticket(kit, "urgent")  # answered and pending: no clock runs
    await kit.tickets.respond(waiting.id, "Can you send a photo?", agent_id=mia.id)
    await kit.tickets.set_status(waiting.id, "pending")
    normal = await _ticket(kit, "normal")
    assert [t.id for t in await kit.tickets.at_a_glance()] == [normal.id, waiting.id, low.id]
    with pytest.raises(InvalidInputError):
        await kit.tickets.at_a_glance(limit=0)
    with pytest.raises(InvalidInputError):
        await kit.tickets.at_a_glance(now=datetime(2026, 1, 1))


# -- sync facade ----------------------------------------------------------------------------------


def test_sync_facade_runs_the_sla_methods() -> None:
    with ChatKit("memory://", settings=ChatKitSettings(sla_policies=POLICIES)) as kit:
        contact = kit.contacts.create(name="Ada")
        ticket = kit.tickets.create(contact_id=contact.id, subject="x", priority="urgent")
        mia = kit.agents.create(name="Mia")
        kit.tickets.respond(ticket.id, "Hello", agent_id=mia.id)
        published = kit.tickets.check_sla(now=ticket.created_at + 7 * H)
        assert [(e.type, e.target) for e in published] == [("ticket.sla_warning", RES)]
        assert [t.id for t in kit.tickets.at_a_glance()] == [ticket.id]
        assert kit.tickets.get(ticket.id).status is TicketStatus.OPEN
