"""Reports: SLA compliance, mood and topics, staffing (Erlang C) and the heatmap's colours."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from chatkit import AsyncChatKit
from chatkit.hours import BusinessHours
from chatkit.reports import metrics as m
from chatkit.sla import SLAPolicy

from .test_reports import DAY, ISTANBUL, at, scripted_day

pytestmark = pytest.mark.anyio

END = DAY + timedelta(days=1)


def test_erlang_c_matches_the_textbook() -> None:
    # Two erlangs on three servers wait with probability 4/9; on four, 4/23.
    assert m.erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert m.erlang_c(4, 2.0) == pytest.approx(4 / 23)
    assert m.erlang_c(2, 2.0) == 1.0  # not enough servers: everyone waits
    assert m.erlang_c(5, 0.0) == 0.0


def test_needed_agents_for_a_service_level() -> None:
    # 40 chats an hour of 180 s: 2 erlangs. 80 % within 20 s:
    # 3 servers give 1 - 4/9 e^(-20/180) = 60 %, 4 give 1 - 4/23 e^(-40/180) = 86 %.
    assert m.service_level(3, 2.0, 180, 20) == pytest.approx(1 - 4 / 9 * math.exp(-20 / 180))
    agents, level = m.needed_agents(40, 180, target=0.8, wait=20, concurrency=1)
    assert agents == 4
    assert level == pytest.approx(1 - 4 / 23 * math.exp(-40 / 180))
    # Two chats at once per agent: the same four servers are two agents.
    assert m.needed_agents(40, 180, target=0.8, wait=20, concurrency=2)[0] == 2
    assert m.needed_agents(0, 180, target=0.8, wait=20, concurrency=1) == (0, 1.0)


def test_question_patterns_group_similar_questions() -> None:
    questions = [
        "Where is my order 123?",
        "where is my order, it is late?",
        "Can I return the shoes for a refund?",
        "How do I return shoes that do not fit?",
        "Do you ship to Korea?",
    ]
    patterns = m.question_patterns(questions, 10)
    assert [(p.terms, p.count) for p in patterns] == [(["order"], 2), (["return", "shoes"], 2)]
    assert patterns[0].examples == questions[:2]
    assert patterns[1].examples == questions[2:4]


async def test_sla_mood_staffing_and_heatmap_of_the_day(kit: AsyncChatKit) -> None:
    d = await scripted_day(kit)
    await kit.reports.drain()
    report = await kit.reports.summary(start=DAY, end=END, now=at(23, 59))
    facts = await kit.reports.facts(report.filter)

    # SLA: first response within 10 business minutes, resolution within one.
    hours = BusinessHours.weekly(ISTANBUL, {"mon-fri": "09:00-18:00"})
    policy = SLAPolicy(
        name="standard",
        first_response=timedelta(minutes=10),
        resolution=timedelta(hours=1),
        hours=hours,
    )
    [result] = m.sla(facts, [policy], now=at(23, 59))
    # First response: C1 5 min, C3 6 min (from the start), C6 3 min met; C2 40 business
    # minutes breached. C4 (resolved by the bot) and C5 (closed) ended without one;
    # C7 came in while closed: no business time has passed.
    assert (result.first_response.count, result.first_response.total) == (3, 4)
    # Resolution: C1, C2 (50 business minutes), C3, C4, C6 met; C5 closed, C7 pending.
    assert (result.resolution.count, result.resolution.total) == (5, 5)
    assert result.breaches == 1
    assert result.conversations == 7

    # Mood: C2's customer went from neutral to negative ("It still has not arrived").
    mood = await kit.reports.mood(start=DAY, end=END)
    assert mood.distribution["negative"] == 2
    assert mood.fell.count == 1
    assert mood.fell_examples == [d.ids["c2"]]
    assert {t.term for t in mood.top_negative_terms} >= {"arrived", "charged"}
    assert {t.term for t in mood.top_intents} >= {"order_status"}

    # Staffing in Istanbul: support is open 09-18 with two agents and no shifts.
    staffing = await kit.reports.staffing(start=DAY, end=END, team="support", time_zone=ISTANBUL)
    cell = {(h.weekday, h.hour): h for h in staffing.hours}
    night = cell[(0, 5)]  # C2 came at 05:00, bob handled it for 1200 + 600 s
    assert night.arrivals == 1.0
    assert night.handle_seconds == 900.0
    assert night.planned == 0
    assert night.needed >= 1
    assert night.gap == -night.needed
    assert cell[(0, 10)].planned == 2
    assert cell[(6, 10)].planned == 0  # Sunday
    assert staffing.understaffed == sum(1 for h in staffing.hours if (h.gap or 0) < 0)

    # Heatmap colours: quantile levels of the non-empty cells, 0 for empty ones.
    heat = await kit.reports.heatmap(start=DAY, end=END, time_zone=ISTANBUL)
    for row, levels in zip(heat.cells, heat.levels, strict=True):
        for count, level in zip(row, levels, strict=True):
            assert (level == 0) == (count == 0)
    assert heat.busiest[0].count == 1


def test_csat_counts_the_best_answers_of_any_scale() -> None:
    stars = [str(n) for n in range(6)]  # 0-5 stars
    agreement = ["strongly_disagree", "disagree", "neutral", "agree", "strongly_agree"]
    scale = [str(n) for n in range(1, 6)]
    assert [m._satisfied(a, scale, 2) for a in scale] == [False, False, False, True, True]
    assert [m._satisfied(a, stars, 2) for a in stars] == [False] * 4 + [True, True]
    assert [m._satisfied(a, agreement, 2) for a in agreement] == [False] * 3 + [True, True]
    assert [m._satisfied(a, scale, 1) for a in scale] == [False] * 4 + [True]
    assert not m._satisfied("maybe", agreement, 2)
