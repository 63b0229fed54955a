"""The morning report: last week's figures, busiest hours and charts. Needs chatkit[reports].

Run: ``pip install 'chatkit[reports]'`` once, then ``python examples/morning_report.py
[OUT_DIR]`` (an in-memory kit; nothing is kept but the files it writes:
``morning-report.png``, ``morning-report.svg`` and ``morning-report.html`` in
``OUT_DIR``, the current directory by default). Without matplotlib it exits
with that hint.

A week of traffic for two teams (billing in Istanbul, orders in Seoul, both
open 09:00-18:00 on weekdays) is written straight into the store with its
past timestamps and the outbox events the services write, as an import of
history would be. `kit.reports.rebuild()` then builds the reporting
projection from the outbox, and the script prints the week's figures by
team, the busiest hours, the staffing gaps, and draws the charts.
"""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chatkit import AsyncChatKit, Author, BusinessHours
from chatkit._optional import import_optional
from chatkit.errors import MissingDependencyError
from chatkit.events import (
    ConversationAssigned,
    ConversationCreated,
    ConversationQueued,
    ConversationStatusChanged,
    MessageCreated,
    SurveyAnswered,
    SurveySent,
)
from chatkit.models import Contact, Conversation, ConversationStatus, Message, Survey, SurveyForm
from chatkit.models._base import new_id
from chatkit.reports.html import write as write_html
from chatkit.reports.plots import Charts, save
from chatkit.stores.base import Insert, Op

END = datetime(2026, 3, 9, 6, tzinfo=UTC)  # Monday morning, before the teams open
TEAMS = {"billing": "Europe/Istanbul", "orders": "Asia/Seoul"}
QUESTIONS = [
    "Where is my order?",
    "Where is my order, it is late?",
    "Why was my card charged twice? This is terrible.",
    "Can I get an invoice please?",
    "My card was charged twice, why? I am angry.",
]
FOLLOW_UPS = ["ok thanks, great", "still not working, this is awful", "fine"]


async def week_of_traffic(kit: AsyncChatKit, seed: int = 3) -> None:
    """Write 7 days of conversations into the store, with their outbox events."""
    rng = random.Random(seed)
    agents: dict[str, list[str]] = {}
    hours = {
        team: BusinessHours.weekly(zone, {"mon-fri": "09:00-18:00"}) for team, zone in TEAMS.items()
    }
    for team in TEAMS:
        await kit.teams.create(team, hours=hours[team])
        agents[team] = [
            (await kit.agents.create(name=f"{team} {i}", teams=[team], max_concurrent_chats=3)).id
            for i in range(3)
        ]
    form = SurveyForm.stars()
    ops: list[Op] = []
    events: list[Any] = []
    for n in range(600):
        team = rng.choice(list(TEAMS))
        start = END - timedelta(days=7) + timedelta(seconds=rng.uniform(0, 7 * 86400))
        local_hour = start.astimezone(hours[team].zone).hour
        if not 8 <= local_hour < 20 and rng.random() < 0.9:
            continue  # fewer chats at night
        agent = rng.choice(agents[team])
        contact = Contact(id=new_id("ct"), name=f"customer {n}", created_at=start, updated_at=start)
        conv = Conversation(
            id=new_id("conv"), contact_id=contact.id, team=team, created_at=start, updated_at=start
        )
        question = rng.choice(QUESTIONS)
        events += [
            ConversationCreated(conversation_id=conv.id, conversation=conv, occurred_at=start),
            ConversationQueued(
                conversation_id=conv.id, team=team, topic=None, language=None, occurred_at=start
            ),
        ]
        # agents pick up when the team is open: at once, or after the next opening
        opened = start if hours[team].is_open(start) else hours[team].next_open(start) or start
        clock = opened + timedelta(seconds=rng.expovariate(1 / 120))
        events.append(
            ConversationAssigned(
                conversation_id=conv.id,
                assignee_id=agent,
                previous_assignee_id=None,
                team=team,
                previous_team=team,
                occurred_at=clock,
            )
        )
        texts = [
            question,
            "Let me check that for you.",
            rng.choice(FOLLOW_UPS),
            "Done, anything else?",
        ]
        for seq, text in enumerate(texts, 1):
            clock += timedelta(seconds=rng.expovariate(1 / (90 if seq % 2 else 240)))
            author = Author.customer(contact.id) if seq % 2 else Author.agent(agent)
            analysis = await kit.understanding.analyze(text) if seq % 2 else None
            message = Message(
                id=new_id("msg"),
                conversation_id=conv.id,
                seq=seq,
                author=author,
                text=text,
                created_at=clock,
                updated_at=clock,
                analysis=analysis,
            )
            ops.append(Insert(message))
            events.append(
                MessageCreated(conversation_id=conv.id, message=message, occurred_at=clock)
            )
        events.append(
            ConversationStatusChanged(
                conversation_id=conv.id,
                from_status=ConversationStatus.OPEN,
                to_status=ConversationStatus.RESOLVED,
                occurred_at=clock,
            )
        )
        survey = Survey(
            id=new_id("srv"),
            conversation_id=conv.id,
            contact_id=contact.id,
            agent_id=agent,
            form=form,
            expires_at=clock + timedelta(days=7),
            created_at=clock,
            updated_at=clock,
        )
        events.append(SurveySent(conversation_id=conv.id, survey=survey, occurred_at=clock))
        if rng.random() < 0.6:
            stars = rng.choice([5, 5, 4, 4, 3, 1] if team == "billing" else [5, 4, 3, 2, 1])
            answered = survey.model_copy(update={"answers": {"stars": stars}})
            events.append(
                SurveyAnswered(
                    conversation_id=conv.id,
                    survey=answered,
                    score=stars / 5,
                    low_rating=stars <= 2,
                    occurred_at=clock + timedelta(minutes=3),
                )
            )
        final = conv.model_copy(
            update={"status": ConversationStatus.RESOLVED, "assignee_id": agent, "last_seq": 4}
        )
        ops[:0] = [Insert(contact), Insert(final)]
        await kit.store.commit(ops, events)
        ops, events = [], []


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


async def main(out: Path) -> None:
    async with AsyncChatKit("memory://") as kit:
        await week_of_traffic(kit)
        print(f"rebuilt the reports of {await kit.reports.rebuild()} conversations")
        week = await kit.reports.summary(
            start=END - timedelta(days=7), end=END, group_by="team", time_zone="Europe/Istanbul"
        )
        t = week.totals
        print(
            f"week: {t.conversations} conversations, first response median "
            f"{minutes(t.first_response.median)} "
            f"(business {minutes(t.first_response.business_median)}), "
            f"CSAT {t.csat.satisfied.rate:.0%} of {t.csat.responses} answers"
        )
        for group in week.groups:
            m = group.metrics
            print(
                f"  {group.key}: {m.conversations} conversations, first response median "
                f"{minutes(m.first_response.median)}, resolution median "
                f"{minutes(m.first_resolution.median)}, CSAT {m.csat.satisfied.rate:.0%}"
            )
        scope: dict[str, Any] = {
            "start": END - timedelta(days=7),
            "end": END,
            "time_zone": "Europe/Istanbul",
        }
        heat = await kit.reports.heatmap(**scope)
        top = heat.busiest[0]
        day, hour, count = top.weekday, top.hour, top.count
        name = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day]
        print(f"busiest hour (Istanbul): {name} {hour:02d}:00, {count} chats")
        staffing = await kit.reports.staffing(team="billing", **scope)
        print(f"billing staffing: {staffing.understaffed} hours short, {staffing.overstaffed} over")
        mood = await kit.reports.mood(**scope)
        patterns = "; ".join(
            f"{' + '.join(p.terms)} ({p.count})" for p in mood.question_patterns[:3]
        )
        print(f"question patterns: {patterns}")
        terms = ", ".join(t.term for t in mood.top_negative_terms[:5])
        print(f"mood fell in {mood.fell.count} conversations; complaints: {terms}")
        charts = Charts(
            report=week,
            heatmap=heat,
            trend=await kit.reports.trend(**scope),
            mood=mood,
            staffing=staffing,
        )
        for suffix in (".png", ".svg"):
            print(f"wrote {save(charts, out / f'morning-report{suffix}')}")
        print(f"wrote {write_html(charts, out / 'morning-report.html', title='Morning report')}")


if __name__ == "__main__":
    try:
        import_optional("matplotlib", "the morning report's charts")
    except MissingDependencyError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
