"""Reports: a scripted day of traffic, every figure computed by hand, on every store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from chatkit import AsyncChatKit
from chatkit.bots import Flow
from chatkit.errors import InvalidInputError
from chatkit.hours import BusinessHours
from chatkit.models import Author
from chatkit.models._base import utcnow
from chatkit.reports import ConversationFact, ReplyFact, ReportTimeline, ServiceReport, metrics
from chatkit.reports.facts import ConversationStamp

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
pytestmark = pytest.mark.anyio

ISTANBUL = "Europe/Istanbul"  # UTC+3 all year: support is open 06:00-15:00 UTC on weekdays

TRIAGE = {
    "name": "triage",
    "language": "en",
    "start": "ask",
    "handoff": {"team": "support"},
    "steps": [
        {
            "id": "ask",
            "type": "ask",
            "field": "order_number",
            "validate": "order_number",
            "question": {"en": "What is your order number?"},
            "max_attempts": 3,
            "next": "done",
        },
        {"id": "done", "type": "say", "text": {"en": "Thanks!"}},
    ],
}


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return DAY + timedelta(hours=hh, minutes=mm, seconds=ss)


class Day:
    """Drives the kit through the day with the clock set at each step."""

    def __init__(self, kit: AsyncChatKit, clock: time_machine.Traveller) -> None:
        self.kit = kit
        self.clock = clock
        self.ids: dict[str, str] = {}

    def to(self, when: datetime) -> None:
        self.clock.move_to(when)

    async def start(
        self,
        name: str,
        when: datetime,
        text: str,
        *,
        channel: str = "web",
        tags: tuple[str, ...] = (),
    ) -> str:
        self.to(when)
        contact = await self.kit.contacts.create(name=name)
        conv = await self.kit.conversations.create(
            contact_id=contact.id, channel=channel, tags=tags, team="support"
        )
        self.ids[name] = conv.id
        self.ids[name + ":contact"] = contact.id
        await self.customer(name, when, text)
        return conv.id

    async def customer(self, name: str, when: datetime, text: str) -> None:
        self.to(when)
        await self.kit.messages.send(
            self.ids[name], text, author=Author.customer(self.ids[name + ":contact"])
        )

    async def agent(
        self, name: str, agent: str, when: datetime, text: str = "Happy to help"
    ) -> None:
        self.to(when)
        await self.kit.messages.send(self.ids[name], text, author=Author.agent(self.ids[agent]))

    async def route(self, name: str, when: datetime) -> None:
        self.to(when)
        result = await self.kit.routing.route(self.ids[name], team="support")
        assert result.queued

    async def claim(self, name: str, agent: str, when: datetime) -> None:
        self.to(when)
        await self.kit.conversations.claim(self.ids[name], self.ids[agent])

    async def resolve(self, name: str, when: datetime) -> None:
        self.to(when)
        await self.kit.conversations.resolve(self.ids[name])

    async def survey(self, name: str, when: datetime, answer: int | None) -> None:
        self.to(when)
        survey = await self.kit.surveys.send(self.ids[name])
        if answer is not None:
            self.to(when + timedelta(minutes=2))
            await self.kit.surveys.answer(
                survey.id,
                {"overall": answer, "time_to_resolve": 3, "agent_helped": "agree", "use_again": 3},
            )


async def scripted_day(kit: AsyncChatKit) -> Day:
    with time_machine.travel(DAY - timedelta(days=1), tick=False) as clock:
        d = Day(kit, clock)
        hours = BusinessHours.weekly(ISTANBUL, {"mon-fri": "09:00-18:00"})
        await kit.teams.create("support", hours=hours)
        for name in ("alice", "bob"):
            agent = await kit.agents.create(name=name, teams=["support"], max_concurrent_chats=2)
            d.ids[name] = agent.id

        # C1 07:00, web: queued, alice claims at 07:02, two replies, resolved 07:10, rated 5.
        await d.start("c1", at(7), "Where is my order?", tags=("order",))
        await d.route("c1", at(7))
        await d.claim("c1", "alice", at(7, 2))
        await d.agent("c1", "alice", at(7, 5))
        await d.customer("c1", at(7, 6), "Thanks, and the invoice?")
        await d.agent("c1", "alice", at(7, 8))
        await d.resolve("c1", at(7, 10))
        await d.survey("c1", at(7, 10), 5)

        # C2 02:00, sms, the team is closed: bob claims at 06:30 (30 min after opening),
        # replies 06:40, resolves 06:50; the customer reopens at 09:00, bob replies 09:05,
        # resolves 09:10; rated 2.
        await d.start("c2", at(2), "Where is my parcel?", channel="sms")
        await d.route("c2", at(2))
        await d.claim("c2", "bob", at(6, 30))
        await d.agent("c2", "bob", at(6, 40))
        await d.resolve("c2", at(6, 50))
        await d.customer("c2", at(9), "It still has not arrived")
        await d.agent("c2", "bob", at(9, 5))
        await d.resolve("c2", at(9, 10))
        await d.survey("c2", at(9, 10), 2)

        # C3 10:00, a bot asks first, hands over at 10:03; alice claims 10:04, replies 10:06,
        # resolves 10:10 (one reply, not reopened: first contact resolution). Survey unanswered.
        c3 = await d.start("c3", at(10), "hello")
        d.to(at(10))
        await kit.bots.start(c3, Flow.from_dict(TRIAGE))
        d.to(at(10, 3))
        await kit.bots.handoff(c3, "asked_for_human")
        await d.claim("c3", "alice", at(10, 4))
        await d.agent("c3", "alice", at(10, 6))
        await d.resolve("c3", at(10, 10))
        await d.survey("c3", at(10, 10), None)

        # C4 11:00, the bot alone: resolved at 11:02 without a person (contained).
        c4 = await d.start("c4", at(11), "hi there")
        d.to(at(11))
        await kit.bots.start(c4, "triage")
        await d.resolve("c4", at(11, 2))

        # C5 12:00: queued, the customer gives up and it is closed at 12:03 (abandoned, missed).
        await d.start("c5", at(12), "Anyone there?")
        await d.route("c5", at(12))
        d.to(at(12, 3))
        await kit.conversations.close(d.ids["c5"])

        # C6 13:00: alice claims 13:01, replies 13:03, transfers to bob at 13:05;
        # bob replies 13:10 and resolves 13:15; rated 4.
        await d.start("c6", at(13), "My card was charged twice")
        await d.route("c6", at(13))
        await d.claim("c6", "alice", at(13, 1))
        await d.agent("c6", "alice", at(13, 3))
        d.to(at(13, 5))
        await kit.routing.transfer(d.ids["c6"], to_agent=d.ids["bob"])
        await d.agent("c6", "bob", at(13, 10))
        await d.resolve("c6", at(13, 15))
        await d.survey("c6", at(13, 15), 4)

        # C7 22:30 (01:30 Tuesday in Istanbul): still waiting in the closed team's queue.
        await d.start("c7", at(22, 30), "Hello?", channel="sms")
        await d.route("c7", at(22, 30))
        d.to(at(23, 59))
    return d


async def _report(kit: AsyncChatKit, **kw: object) -> ServiceReport:
    return await kit.reports.summary(start=DAY, end=DAY + timedelta(days=1), now=at(23, 59), **kw)  # type: ignore[arg-type]


async def test_scripted_day(kit: AsyncChatKit) -> None:
    d = await scripted_day(kit)
    await kit.reports.drain()
    report = await _report(kit)
    t = report.totals
    assert t.conversations == 7

    # First response: C1 300 s, C2 16800 s (business: 40 min after 06:00 = 2400),
    # C3 180 s from the handoff, C6 180 s.
    fr = t.first_response
    assert fr.count == 4
    assert fr.total == 300 + 16800 + 180 + 180
    assert fr.business_total == 300 + 2400 + 180 + 180
    assert fr.median == (180 + 300) / 2

    # Replies and waits: C1 300, 120; C2 16800 (biz 2400), 300; C3 180 from the handoff;
    # C6 180 then bob's reply with nobody waiting (no wait).
    rt = t.reply_time
    assert rt.count == 6
    assert rt.total == 300 + 120 + 16800 + 300 + 180 + 180
    assert rt.business_total == 300 + 120 + 2400 + 300 + 180 + 180
    assert t.load.messages_out == 7

    # Queue: C1 120 s, C2 16200 s (biz 1800), C5 left, C6 60 s, C7 still waiting (quiet
    # since 22:30: abandoned at 23:59 with the 10-minute limit). C3 was handed over by
    # the bot (queued) and claimed at 10:04: 60 s.
    assert t.queued == 6
    assert t.queue_wait.count == 4
    assert t.queue_wait.total == 120 + 16200 + 60 + 60
    assert t.queue_wait.business_total == 120 + 1800 + 60 + 60
    assert (t.abandoned.count, t.abandoned.total) == (2, 6)
    assert (t.missed.count, t.missed.total) == (2, 6)

    # Handle: alice C1 480, C3 360, C6 240; bob C2 1200 + 600, C6 600.
    assert t.handle_time.count == 6
    assert t.handle_time.total == 480 + 360 + 240 + 1200 + 600 + 600
    # business: C2's 06:30-06:50 and 09:00-09:10 are inside hours; all the same.
    assert t.handle_time.business_total == t.handle_time.total

    # Resolution: C1 600, C2 first 17400 (biz 3000) and full 25800 (biz 11400),
    # C3 600, C4 120, C6 900.
    assert t.resolved == 5
    assert t.first_resolution.total == 600 + 17400 + 600 + 120 + 900
    assert t.first_resolution.business_total == 600 + 3000 + 600 + 120 + 900
    assert t.full_resolution.total == 600 + 25800 + 600 + 120 + 900
    assert t.full_resolution.business_total == 600 + 11400 + 600 + 120 + 900
    assert (t.reopened.count, t.reopened.total) == (1, 5)
    # FCR: C3 (one reply) and C4 (none); not C1 (two replies), C2 (reopened), C6 (two).
    assert (t.first_contact_resolution.count, t.first_contact_resolution.rate) == (2, 0.4)

    # CSAT: 4 surveys, 3 answers (5, 2, 4): 2 satisfied.
    assert (t.csat.surveys, t.csat.responses, t.csat.response_rate) == (4, 3, 0.75)
    assert (t.csat.satisfied.count, t.csat.satisfied.total) == (2, 3)
    assert t.csat.distribution == {"2": 1, "4": 1, "5": 1}

    # Bots: C3 handed over, C4 contained.
    assert t.bot.conversations == 2
    assert (t.bot.contained.count, t.bot.handoffs.count) == (1, 1)
    assert t.bot.handoff_reasons == {"asked_for_human": 1}

    # Load.
    assert t.load.by_channel == {"web": 5, "sms": 2}
    assert t.load.messages_in == 9
    assert t.load.by_tag == {"order": 1}
    loads = {a.agent_id: a for a in t.load.agents}
    assert loads[d.ids["alice"]].handle_seconds == 480 + 360 + 240
    assert loads[d.ids["bob"]].handle_seconds == 1800 + 600

    # Per agent: parts add up to the totals.
    by_agent = await _report(kit, group_by="agent")
    assert {g.key for g in by_agent.groups} == {d.ids["alice"], d.ids["bob"]}
    assert sum(g.metrics.handle_time.total or 0 for g in by_agent.groups) == t.handle_time.total
    assert sum(g.metrics.reply_time.count for g in by_agent.groups) == rt.count
    assert sum(g.metrics.first_response.count for g in by_agent.groups) == fr.count
    alice = next(g.metrics for g in by_agent.groups if g.key == d.ids["alice"])
    assert alice.first_response.total == 300 + 180 + 180
    assert (alice.csat.responses, alice.csat.satisfied.count) == (1, 1)  # C1: 5 (C6 went to bob)

    # Heatmap in Istanbul: C2 at 05:00 Monday, C7 at 01:30 Tuesday, C1 at 10:00 Monday.
    heat = await kit.reports.heatmap(start=DAY, end=DAY + timedelta(days=1), time_zone=ISTANBUL)
    assert heat.total == 7
    assert heat.cells[0][5] == 1
    assert heat.cells[1][1] == 1
    assert heat.cells[0][10] == 1
    assert heat.cells[0][2] == 0
    facts = await kit.reports.facts(report.filter)
    zone = ZoneInfo(ISTANBUL)
    assert heat == metrics.heatmap(facts, "started", zone, start=DAY, end=DAY + timedelta(days=1))
    resolved = await kit.reports.heatmap(metric="resolved", start=DAY, end=DAY + timedelta(days=1))
    assert resolved.total == 6  # C2 was resolved twice
    assert resolved.cells[0][6] == 1
    assert resolved.cells[0][9] == 1

    # Rebuilding from the outbox gives the same facts.
    before = sorted(
        (f.id, f.model_dump(exclude={"version", "updated_at", "created_at"}))
        for f in await kit.reports.facts(report.filter)
    )
    assert await kit.reports.rebuild() == 7
    after = sorted(
        (f.id, f.model_dump(exclude={"version", "updated_at", "created_at"}))
        for f in await kit.reports.facts(report.filter)
    )
    assert before == after
    assert (await _report(kit)).totals == t


async def test_no_data_is_none_not_zero(kit: AsyncChatKit) -> None:
    report = await kit.reports.summary(days=7)
    t = report.totals
    assert t.conversations == 0
    assert t.first_response.median is None
    assert t.first_response.count == 0
    assert t.csat.satisfied.rate is None
    assert t.csat.response_rate is None
    assert t.first_contact_resolution.rate is None


async def test_bad_arguments_are_typed_errors(kit: AsyncChatKit) -> None:
    with pytest.raises(InvalidInputError):
        await kit.reports.summary(time_zone="Mars/Olympus")
    with pytest.raises(InvalidInputError):
        await kit.reports.summary(start=DAY, end=DAY - timedelta(days=1))
    with pytest.raises(InvalidInputError):
        await kit.reports.summary(group_by="planet")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await kit.reports.summary(start=datetime(2026, 1, 1))  # naive


async def test_a_retention_purge_deletes_the_facts(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ada")
    conv = await kit.conversations.create(contact_id=contact.id)
    agent = await kit.agents.create(name="Bo")
    await kit.messages.send(conv.id, "Where is my order?", author=Author.customer(contact.id))
    reply = await kit.messages.send(conv.id, "On its way", author=Author.agent(agent.id))
    await kit.conversations.close(conv.id)
    await kit.reports.drain()
    store = kit.store
    assert await store.get(ConversationFact, conv.id) is not None
    assert await store.get(ReplyFact, reply.id) is not None
    report = await kit.retention.purge(now=utcnow() + timedelta(days=400))
    assert report.conversations == 1
    await kit.reports.drain()
    for kind in (ConversationFact, ConversationStamp, ReportTimeline):
        assert await store.get(kind, conv.id) is None
    assert await store.get(ReplyFact, reply.id) is None
    assert (await kit.reports.summary(days=3650)).totals.conversations == 0
    assert await kit.reports.rebuild() == 0


async def test_two_dispatchers_at_once_give_the_facts_a_rebuild_gives(kit: AsyncChatKit) -> None:
    agent = await kit.agents.create(name="Bo", max_concurrent_chats=10)
    convs = []
    for i in range(4):
        contact = await kit.contacts.create(name=f"c{i}")
        conv = await kit.conversations.create(contact_id=contact.id)
        convs.append((conv.id, contact.id))
    for round_ in range(6):
        for cid, contact_id in convs:
            await kit.messages.send(cid, f"hello {round_}?", author=Author.customer(contact_id))
            await kit.messages.send(cid, "yes", author=Author.agent(agent.id))
    first = kit.reports.dispatcher(batch_size=5)
    second = kit.reports.dispatcher(batch_size=7)
    try:
        await asyncio.gather(first.drain(), second.drain())
        await first.drain()
    finally:
        await first.close()
        await second.close()
    window = {"days": 1}
    before = await kit.reports.summary(**window)  # type: ignore[arg-type]
    assert before.totals.reply_time.count == 24
    assert before.totals.load.messages_in == 24
    facts = {
        f.id: f.model_dump(exclude={"version", "created_at", "updated_at"})
        for f in await kit.reports.facts(before.filter)
    }
    await kit.reports.rebuild()
    again = {
        f.id: f.model_dump(exclude={"version", "created_at", "updated_at"})
        for f in await kit.reports.facts(before.filter)
    }
    assert facts == again


async def test_agent_time_available_and_busy_from_status_changes(kit: AsyncChatKit) -> None:
    with time_machine.travel(at(8), tick=False) as clock:
        agent = await kit.agents.create(name="Bo", max_concurrent_chats=1)
        contact = await kit.contacts.create(name="Ada")
        conv = await kit.conversations.create(contact_id=contact.id)
        await kit.messages.send(conv.id, "hi", author=Author.customer(contact.id))
        now = at(9)

        async def walk(until: datetime) -> None:  # the console: heartbeat and activity
            nonlocal now
            while now < until:
                now = min(now + timedelta(minutes=1), until)
                clock.move_to(now)
                await kit.agents.heartbeat([agent.id])
                await kit.agents.touch(agent.id)

        clock.move_to(now)
        await kit.agents.set_presence(agent.id, "available")
        await walk(at(10))
        await kit.conversations.claim(conv.id, agent.id)  # at capacity: busy
        await walk(at(10, 30))
        await kit.conversations.resolve(conv.id)  # room again: available
        await walk(at(12))
        await kit.agents.set_presence(agent.id, "offline")
        clock.move_to(at(23))
        await kit.reports.drain()
        report = await kit.reports.summary(start=DAY, end=DAY + timedelta(days=1), now=at(23))
    [load] = report.totals.load.agents
    assert load.handle_seconds == 1800
    assert load.time_available == 3 * 3600
    assert load.time_busy == 1800
    assert load.occupancy == 1800 / (3 * 3600)
    assert load.time_at_capacity == 1800
    before = report.totals
    await kit.reports.rebuild()
    with time_machine.travel(at(23), tick=False):
        again = await kit.reports.summary(start=DAY, end=DAY + timedelta(days=1), now=at(23))
    assert again.totals == before
