"""Reports, property-based: random traffic through the real services on a memory store.

Per-agent parts add up to the totals, no duration is negative, and the
incremental projection (events applied in any batches, in any order, some
twice) equals a rebuild from the outbox.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import anyio
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit import AsyncChatKit, ChatKitSettings
from chatkit.errors import ChatKitError
from chatkit.hours import BusinessHours
from chatkit.models import Author
from chatkit.reports import ConversationFact

START = datetime(2026, 3, 2, 5, tzinfo=UTC)

STEP = st.tuples(
    st.sampled_from(["customer", "reply", "route", "claim", "transfer", "resolve", "close"]),
    st.integers(0, 2),  # conversation
    st.integers(0, 2),  # agent
    st.integers(1, 7200),  # seconds since the previous step
)


def _spans(fact: ConversationFact) -> list[float]:
    out = []
    for s in [fact.first_response, fact.first_resolution, fact.full_resolution]:
        if s is not None:
            out += [s.seconds, s.business_seconds]
    for r in fact.replies:
        if r.wait is not None:
            out += [r.wait.seconds, r.wait.business_seconds]
    for q in fact.queues:
        if q.wait is not None:
            out += [q.wait.seconds, q.wait.business_seconds]
    for seg in fact.segments:
        if seg.duration is not None:
            out += [seg.duration.seconds, seg.duration.business_seconds]
    return out


async def _run(steps: list[tuple[str, int, int, int]], seed: int) -> None:
    async with AsyncChatKit("memory://", settings=ChatKitSettings()) as kit:
        with time_machine.travel(START, tick=False) as clock:
            hours = BusinessHours.weekly("Europe/Istanbul", {"mon-fri": "09:00-18:00"})
            await kit.teams.create("support", hours=hours)
            agents = [
                (
                    await kit.agents.create(name=f"a{i}", teams=["support"], max_concurrent_chats=5)
                ).id
                for i in range(3)
            ]
            convs = []
            for i in range(3):
                contact = await kit.contacts.create(name=f"c{i}")
                conv = await kit.conversations.create(contact_id=contact.id, team="support")
                await kit.messages.send(conv.id, "hello?", author=Author.customer(contact.id))
                convs.append((conv.id, contact.id))
            now = START
            for action, c, a, dt in steps:
                now += timedelta(seconds=dt)
                clock.move_to(now)
                cid, contact = convs[c]
                try:
                    if action == "customer":
                        await kit.messages.send(
                            cid, "still there?", author=Author.customer(contact)
                        )
                    elif action == "reply":
                        await kit.messages.send(cid, "yes", author=Author.agent(agents[a]))
                    elif action == "route":
                        await kit.routing.route(cid, team="support")
                    elif action == "claim":
                        await kit.conversations.claim(cid, agents[a])
                    elif action == "transfer":
                        await kit.routing.transfer(cid, to_agent=agents[a])
                    elif action == "resolve":
                        await kit.conversations.resolve(cid)
                    else:
                        await kit.conversations.close(cid)
                except ChatKitError:
                    pass  # an illegal move for the state the conversation is in
            clock.move_to(now + timedelta(seconds=1))
            end = now + timedelta(days=1)

            # incremental: events in random batches, in random order, some twice
            events = (await kit.events.list(limit=1000)).items
            rng = random.Random(seed)
            cuts = sorted(rng.sample(range(1, len(events)), min(5, len(events) - 1)))
            batches = [events[i:j] for i, j in zip([0, *cuts], [*cuts, len(events)], strict=True)]
            rng.shuffle(batches)
            for batch in batches:
                await kit.reports.apply(batch)
            await kit.reports.apply(events[: len(events) // 2])
            report = await kit.reports.summary(start=START - timedelta(hours=1), end=end, now=end)
            facts = await kit.reports.facts(report.filter)

            for fact in facts:
                assert all(v >= 0 for v in _spans(fact)), fact
                for seg in fact.segments:
                    assert (
                        seg.duration is None
                        or seg.duration.business_seconds <= seg.duration.seconds
                    )

            t = report.totals
            by_agent = await kit.reports.summary(
                start=START - timedelta(hours=1), end=end, now=end, group_by="agent"
            )
            parts = [g.metrics for g in by_agent.groups]
            assert sum(p.handle_time.count for p in parts) == t.handle_time.count
            assert (
                abs(sum(p.handle_time.total or 0 for p in parts) - (t.handle_time.total or 0))
                < 1e-6
            )
            assert sum(p.reply_time.count for p in parts) == t.reply_time.count
            assert sum(p.load.messages_out for p in parts) == t.load.messages_out
            assert sum(p.first_response.count for p in parts) == t.first_response.count
            assert sum(p.resolved for p in parts) <= t.resolved

            dump = sorted(
                f.model_dump_json(exclude={"version", "created_at", "updated_at"}) for f in facts
            )
            await kit.reports.rebuild()
            rebuilt = await kit.reports.facts(report.filter)
            assert (
                sorted(
                    f.model_dump_json(exclude={"version", "created_at", "updated_at"})
                    for f in rebuilt
                )
                == dump
            ), (
                dump,
                [
                    f.model_dump_json(exclude={"version", "created_at", "updated_at"})
                    for f in rebuilt
                ],
            )
            again = await kit.reports.summary(start=START - timedelta(hours=1), end=end, now=end)
            assert again.totals == t


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=25), seed=st.integers(0, 1000))
def test_parts_add_up_durations_are_never_negative_and_rebuild_equals_incremental(
    steps: list[tuple[str, int, int, int]], seed: int
) -> None:
    anyio.run(_run, steps, seed)
