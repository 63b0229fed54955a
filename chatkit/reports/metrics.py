"""Metrics computed from `ConversationFact` rows: pure functions, the same on every store."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..models.conversations import Priority
from ..sla import SLAPolicy, find_policy
from .facts import (
    ConversationFact,
    ConversationStamp,
    HandleSegment,
    ReplyTime,
    Span,
    negative_terms,
)
from .models import (
    AgentLoad,
    BotStats,
    CSATStats,
    DurationStats,
    Heatmap,
    HeatmapCell,
    LoadStats,
    MoodReport,
    QuestionPattern,
    ReportSettings,
    ServiceMetrics,
    Share,
    SLAResult,
    StaffingHour,
    StaffingReport,
    TermCount,
    TrendPoint,
)

__all__ = [
    "erlang_c",
    "heatmap",
    "metrics",
    "mood",
    "needed_agents",
    "sla",
    "staffing",
    "trend",
]


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def durations(spans: Iterable[Span | None]) -> DurationStats:
    """Count, mean, median, 90th percentile and total of spans (``None`` ones skipped)."""
    items = [s for s in spans if s is not None]
    if not items:
        return DurationStats()
    cal = [s.seconds for s in items]
    bus = [s.business_seconds for s in items]
    return DurationStats(
        count=len(items),
        mean=statistics.fmean(cal),
        median=statistics.median(cal),
        p90=_pct(cal, 0.9),
        total=math.fsum(cal),
        business_mean=statistics.fmean(bus),
        business_median=statistics.median(bus),
        business_p90=_pct(bus, 0.9),
        business_total=math.fsum(bus),
    )


def share(count: int, total: int) -> Share:
    """``count`` of ``total`` with its rate (``None`` for an empty total)."""
    return Share(count=count, total=total, rate=count / total if total else None)


def _involved(fact: ConversationFact, agent: str) -> bool:
    return any(s.agent_id == agent for s in fact.segments) or any(
        r.agent_id == agent for r in fact.replies
    )


def resolver(fact: ConversationFact) -> str | None:
    """Whose resolution a conversation is: who owned it last, else who replied last."""
    if fact.segments:
        return fact.segments[-1].agent_id
    return fact.replies[-1].agent_id if fact.replies else None


def abandoned(fact: ConversationFact, now: datetime, settings: ReportSettings) -> bool:
    """The customer left a queue before an agent answered (closed it, or went quiet too long)."""
    for q in fact.queues:
        if q.outcome == "left":
            return True
        if q.outcome == "waiting" and fact.status == "open":
            quiet_since = max(q.queued_at, fact.last_customer_at or q.queued_at)
            if now - quiet_since > settings.abandon_after:
                return True
    return False


def _satisfied(answer: str, choices: Sequence[str], top: int) -> bool:
    if answer not in choices:
        return False
    return choices.index(answer) >= len(choices) - top


def metrics(
    facts: Sequence[ConversationFact],
    *,
    now: datetime,
    settings: ReportSettings,
    agent: str | None = None,
    capacities: dict[str, int] | None = None,
) -> ServiceMetrics:
    """Every service metric of ``facts``; with ``agent``, that agent's part only.

    An agent's part: the conversations they owned or replied in, their own
    replies and handle segments, the first responses they gave, the
    resolutions they own (`resolver`) and the surveys sent for them.
    """
    if agent is not None:
        facts = [f for f in facts if _involved(f, agent)]

    def mine_reply(r: ReplyTime) -> bool:
        return agent is None or r.agent_id == agent

    def mine_segment(s: HandleSegment) -> bool:
        return agent is None or s.agent_id == agent

    def owns(f: ConversationFact) -> bool:
        return agent is None or resolver(f) == agent

    first = [f.first_response for f in facts if agent is None or f.first_response_agent == agent]
    replies = [r.wait for f in facts for r in f.replies if mine_reply(r)]
    queues = [q for f in facts for q in f.queues]
    segments = [s for f in facts for s in f.segments if mine_segment(s)]
    resolved = [f for f in facts if f.resolves and owns(f)]
    queued = [f for f in facts if f.queues]
    gone = [f for f in queued if abandoned(f, now, settings)]
    gone_ids = {f.id for f in gone}
    missed = [
        f
        for f in queued
        if f.agent_messages == 0 and (f.status in ("resolved", "closed") or f.id in gone_ids)
    ]
    fcr = [f for f in resolved if f.agent_messages <= 1 and f.reopens == 0 and f.resolved]

    surveys = [
        f.survey
        for f in facts
        if f.survey is not None and (agent is None or f.survey.agent_id == agent)
    ]
    answered = [s for s in surveys if s.answer is not None]
    distribution = Counter(s.answer for s in answered if s.answer is not None)
    satisfied = [
        s for s in answered if s.answer and _satisfied(s.answer, s.choices, settings.satisfied_top)
    ]
    scores = [s.score for s in answered if s.score is not None]
    csat = CSATStats(
        surveys=len(surveys),
        responses=len(answered),
        response_rate=len(answered) / len(surveys) if surveys else None,
        satisfied=share(len(satisfied), len(answered)),
        average_score=statistics.fmean(scores) if scores else None,
        distribution=dict(sorted(distribution.items())),
    )

    bots = [f for f in facts if f.bot]
    contained = [f for f in bots if f.resolves and f.agent_messages == 0 and not f.segments]
    handed = [f for f in bots if f.handoff_at is not None]
    reasons = Counter(f.handoff_reason or "unknown" for f in handed)
    bot = BotStats(
        conversations=len(bots),
        contained=share(len(contained), len(bots)),
        handoffs=share(len(handed), len(bots)),
        handoff_reasons=dict(reasons.most_common()),
    )

    load = _load(facts, agent, now, capacities or {})
    return ServiceMetrics(
        conversations=len(facts),
        first_response=durations(first),
        reply_time=durations(replies),
        queue_wait=durations(q.wait for q in queues),
        queued=len(queued),
        abandoned=share(len(gone), len(queued)),
        missed=share(len(missed), len(queued)),
        handle_time=durations(s.duration for s in segments),
        first_resolution=durations(f.first_resolution for f in resolved),
        full_resolution=durations(f.full_resolution for f in resolved),
        resolved=len(resolved),
        reopened=share(sum(1 for f in resolved if f.reopens), len(resolved)),
        first_contact_resolution=share(len(fcr), len(resolved)),
        csat=csat,
        bot=bot,
        load=load,
    )


def _load(
    facts: Sequence[ConversationFact], agent: str | None, now: datetime, capacities: dict[str, int]
) -> LoadStats:
    by_channel: Counter[str] = Counter()
    by_team: Counter[str] = Counter()
    by_agent: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    by_tag: Counter[str] = Counter()
    per_agent: dict[str, list[HandleSegment]] = defaultdict(list)
    for f in facts:
        by_channel[f.channel or "unknown"] += 1
        by_team[f.team or "none"] += 1
        by_language[f.language or "unknown"] += 1
        for tag in f.tags:
            by_tag[tag] += 1
        owners = {s.agent_id for s in f.segments} | {r.agent_id for r in f.replies if r.agent_id}
        for owner in owners:
            if agent is None or owner == agent:
                by_agent[owner] += 1
        for s in f.segments:
            if agent is None or s.agent_id == agent:
                per_agent[s.agent_id].append(s)
    agents = []
    for name in sorted(per_agent):
        segs = per_agent[name]
        agents.append(
            AgentLoad(
                agent_id=name,
                conversations=by_agent[name],
                handle_seconds=math.fsum(s.duration.seconds for s in segs if s.duration),
                max_concurrent=_max_concurrent(segs, now),
                time_at_capacity=_at_capacity(segs, now, capacities[name])
                if name in capacities
                else None,
            )
        )
    out = sum(1 for f in facts for r in f.replies if agent is None or r.agent_id == agent)
    return LoadStats(
        conversations=len(facts),
        messages_in=sum(f.customer_messages for f in facts),
        messages_out=out,
        bot_messages_out=sum(f.bot_messages for f in facts) if agent is None else 0,
        by_channel=dict(by_channel.most_common()),
        by_team=dict(by_team.most_common()),
        by_agent=dict(by_agent.most_common()),
        by_language=dict(by_language.most_common()),
        by_tag=dict(by_tag.most_common()),
        agents=agents,
    )


def _sweep(segs: Sequence[HandleSegment], now: datetime) -> list[tuple[datetime, int]]:
    points: list[tuple[datetime, int]] = []
    for s in segs:
        points.append((s.start, 1))
        points.append((s.end or max(now, s.start), -1))
    points.sort(key=lambda p: (p[0], p[1]))
    return points


def _max_concurrent(segs: Sequence[HandleSegment], now: datetime) -> int:
    best = level = 0
    for _, step in _sweep(segs, now):
        level += step
        best = max(best, level)
    return best


def _at_capacity(segs: Sequence[HandleSegment], now: datetime, capacity: int) -> float:
    total = 0.0
    level = 0
    since: datetime | None = None
    for at, step in _sweep(segs, now):
        level += step
        if level >= capacity and since is None:
            since = at
        elif level < capacity and since is not None:
            total += (at - since).total_seconds()
            since = None
    return total


# -- heatmap -------------------------------------------------------------------------


def heatmap(
    facts: Sequence[ConversationFact],
    metric: str,
    zone: ZoneInfo,
    *,
    start: datetime,
    end: datetime,
    levels: int = 5,
) -> Heatmap:
    """Weekday x hour counts of conversations started (or resolutions) in ``zone``."""
    cells = [[0] * 24 for _ in range(7)]
    for f in facts:
        times = (
            [f.started_at] if metric == "started" else [t for t in f.resolves if start <= t < end]
        )
        for t in times:
            local = t.astimezone(zone)
            cells[local.weekday()][local.hour] += 1
    return _heat(cells, metric, zone, levels)


def heatmap_of_stamps(
    stamps: Sequence[ConversationStamp],
    metric: str,
    zone: ZoneInfo,
    *,
    start: datetime,
    end: datetime,
    levels: int = 5,
) -> Heatmap:
    """`heatmap` from the slim `ConversationStamp` rows (the same counts)."""
    cells = [[0] * 24 for _ in range(7)]
    lo, hi = start.timestamp(), end.timestamp()
    for s in stamps:
        times = [s.started] if metric == "started" else [t for t in s.resolved if lo <= t < hi]
        for t in times:
            local = datetime.fromtimestamp(t, zone)
            cells[local.weekday()][local.hour] += 1
    return _heat(cells, metric, zone, levels)


def _heat(cells: list[list[int]], metric: str, zone: ZoneInfo, levels: int) -> Heatmap:
    values = sorted(v for row in cells for v in row if v > 0)
    thresholds: list[float] = []
    if values:
        thresholds = [_pct(values, i / levels) for i in range(1, levels)]

    def level(v: int) -> int:
        if v == 0:
            return 0
        return 1 + sum(1 for t in thresholds if v > t)

    ranked = sorted(
        ((d, h, cells[d][h]) for d in range(7) for h in range(24) if cells[d][h]),
        key=lambda c: (-c[2], c[0], c[1]),
    )
    return Heatmap(
        metric="started" if metric == "started" else "resolved",
        time_zone=zone.key,
        cells=cells,
        thresholds=thresholds,
        levels=[[level(v) for v in row] for row in cells],
        total=sum(values),
        busiest=[HeatmapCell(weekday=d, hour=h, count=c) for d, h, c in ranked[:5]],
    )


# -- trend -------------------------------------------------------------------------------


def period_of(at: datetime, zone: ZoneInfo, period: str) -> date:
    """The first day of the day, week (Monday) or month ``at`` falls in, in ``zone``."""
    day = at.astimezone(zone).date()
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def trend(
    facts: Sequence[ConversationFact],
    zone: ZoneInfo,
    period: str,
    *,
    now: datetime,
    settings: ReportSettings,
) -> list[TrendPoint]:
    """Conversations, median first response and resolution, CSAT and sentiment per period."""
    buckets: dict[date, list[ConversationFact]] = defaultdict(list)
    for f in facts:
        buckets[period_of(f.started_at, zone, period)].append(f)
    points = []
    for key in sorted(buckets):
        group = buckets[key]
        m = metrics(group, now=now, settings=settings)
        sentiments = [s for f in group for s in f.sentiments]
        points.append(
            TrendPoint(
                period=key,
                conversations=len(group),
                first_response_median=m.first_response.median,
                resolution_median=m.first_resolution.median,
                csat=m.csat.satisfied.rate,
                sentiment=statistics.fmean(sentiments) if sentiments else None,
            )
        )
    return points


# -- mood and topics ---------------------------------------------------------------------


def mood_fell(fact: ConversationFact, drop: float) -> bool:
    """Whether the mood fell by ``drop`` or more from its first measure to its last."""
    series = fact.moods if len(fact.moods) >= 2 else fact.sentiments
    return len(series) >= 2 and series[0] - series[-1] >= drop


def mood(
    facts: Sequence[ConversationFact], zone: ZoneInfo, *, settings: ReportSettings
) -> MoodReport:
    """Sentiment distribution and trend, falling moods, complaints, intents, questions."""
    distribution: Counter[str] = Counter()
    by_day: dict[date, list[float]] = defaultdict(list)
    terms: Counter[str] = Counter()
    intents: Counter[str] = Counter()
    all_sentiments: list[float] = []
    fell = []
    for f in facts:
        distribution.update(f.sentiment_labels)
        if f.sentiments:
            by_day[period_of(f.started_at, zone, "day")].extend(f.sentiments)
            all_sentiments.extend(f.sentiments)
        terms.update(set(f.negative_terms))
        intents.update(set(f.intents))
        if mood_fell(f, settings.mood_drop):
            fell.append(f.id)
    top = settings.top
    return MoodReport(
        messages=sum(distribution.values()),
        distribution=dict(sorted(distribution.items())),
        average=statistics.fmean(all_sentiments) if all_sentiments else None,
        trend=[(d, statistics.fmean(v)) for d, v in sorted(by_day.items())],
        fell=share(len(fell), sum(1 for f in facts if f.sentiments or f.moods)),
        fell_examples=sorted(fell)[:top],
        top_negative_terms=[TermCount(term=t, count=c) for t, c in _ranked(terms, top)],
        top_intents=[TermCount(term=t, count=c) for t, c in _ranked(intents, top)],
        question_patterns=question_patterns([q for f in facts for q in f.questions], top),
    )


def _ranked(counter: Counter[str], top: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def question_patterns(
    questions: Sequence[str], top: int, *, examples: int = 3, similarity: float = 0.4
) -> list[QuestionPattern]:
    """Cluster similar questions (clusters of two or more, largest first).

    Each question is reduced to its content words (`negative_terms` drops
    stop words and short words). In order, a question joins the first
    cluster whose first question shares at least ``similarity`` of their
    words (Jaccard index), or starts a cluster. A pattern's terms are the
    words in more than half of its questions.
    """
    clusters: list[tuple[set[str], list[str], list[set[str]]]] = []
    for question in questions:
        words = set(negative_terms(question))
        if not words:
            continue
        for seed, items, sets in clusters:
            if len(seed & words) / len(seed | words) >= similarity:
                items.append(question)
                sets.append(words)
                break
        else:
            clusters.append((words, [question], [words]))
    patterns = []
    for _, items, sets in clusters:
        if len(items) < 2:
            continue
        counts = Counter(w for ws in sets for w in ws)
        terms = sorted(w for w, c in counts.items() if c * 2 > len(items))
        patterns.append(QuestionPattern(terms=terms, count=len(items), examples=items[:examples]))
    patterns.sort(key=lambda p: (-p.count, p.terms))
    return patterns[:top]


# -- SLA -----------------------------------------------------------------------------------


def sla(
    facts: Sequence[ConversationFact], policies: Sequence[SLAPolicy], *, now: datetime
) -> list[SLAResult]:
    """Compliance of each SLA policy over the conversations it matches (by priority and team).

    A target is met when the first response (or the first resolution) came
    within it, in the policy's clock time; breached when it came later, or
    has not come and the deadline has passed. Conversations still inside
    their target are in neither count, nor are those that ended without it
    (resolved without a first response, closed without a resolution).
    """
    results: dict[str, dict[str, int]] = {
        p.name: {"n": 0, "fr_met": 0, "fr_all": 0, "res_met": 0, "res_all": 0, "breaches": 0}
        for p in policies
    }
    for f in facts:
        try:
            priority = Priority(f.priority)
        except ValueError:
            priority = Priority.NORMAL
        policy = find_policy(policies, priority=priority, team=f.team)
        if policy is None:
            continue
        row = results[policy.name]
        row["n"] += 1
        for target, done, key in (
            (policy.first_response, f.first_response_at, "fr"),
            (policy.resolution, f.resolves[0] if f.resolves else None, "res"),
        ):
            if target is None:
                continue
            if done is None and (f.status == "closed" or (key == "fr" and f.resolves)):
                continue  # ended without it: the target does not apply
            used = policy.clock_time(f.started_at, done or now)
            if done is not None or used > target:
                row[f"{key}_all"] += 1
                if done is not None and used <= target:
                    row[f"{key}_met"] += 1
                else:
                    row["breaches"] += 1
    return [
        SLAResult(
            policy=name,
            conversations=row["n"],
            first_response=share(row["fr_met"], row["fr_all"]),
            resolution=share(row["res_met"], row["res_all"]),
            breaches=row["breaches"],
        )
        for name, row in results.items()
    ]


# -- staffing (Erlang C) -------------------------------------------------------------------


def erlang_c(servers: int, traffic: float) -> float:
    """Probability that an arrival waits (Erlang C) with ``servers`` and ``traffic`` erlangs."""
    if traffic <= 0:
        return 0.0
    if servers <= traffic:
        return 1.0
    # Erlang B by its stable recursion, then C from B.
    b = 1.0
    for k in range(1, servers + 1):
        b = traffic * b / (k + traffic * b)
    return servers * b / (servers - traffic * (1 - b))


def service_level(servers: int, traffic: float, handle: float, wait: float) -> float:
    """Share of arrivals answered within ``wait`` seconds (``handle``: mean handle seconds)."""
    if traffic <= 0:
        return 1.0
    if servers <= traffic:
        return 0.0
    return 1.0 - erlang_c(servers, traffic) * math.exp(-(servers - traffic) * wait / handle)


def needed_agents(
    arrivals_per_hour: float, handle: float, *, target: float, wait: float, concurrency: int
) -> tuple[int, float]:
    """Fewest agents (each taking ``concurrency`` chats) meeting ``target`` within ``wait``.

    Each agent counts as ``concurrency`` servers of the Erlang C queue.
    Returns the agents and the service level they reach.
    """
    traffic = arrivals_per_hour * handle / 3600.0
    if traffic <= 0:
        return 0, 1.0
    servers = max(1, math.floor(traffic) + 1)
    while service_level(servers, traffic, handle, wait) < target:
        servers += 1
    agents = math.ceil(servers / concurrency)
    return agents, service_level(agents * concurrency, traffic, handle, wait)


def staffing(
    facts: Sequence[ConversationFact],
    zone: ZoneInfo,
    *,
    start: datetime,
    end: datetime,
    settings: ReportSettings,
    planned: Callable[[int, int], int | None],
) -> StaffingReport:
    """Agents needed per weekday-hour from the arrivals and handle times observed in the range.

    ``planned(weekday, hour)`` gives the agents scheduled then (``None``: unknown).
    """
    arrivals = [[0] * 24 for _ in range(7)]
    handles: dict[tuple[int, int], list[float]] = defaultdict(list)
    for f in facts:
        local = f.started_at.astimezone(zone)
        arrivals[local.weekday()][local.hour] += 1
        for s in f.segments:
            if s.duration is not None:
                handles[(local.weekday(), local.hour)].append(s.duration.seconds)
    all_handles = [h for v in handles.values() for h in v]
    overall = statistics.fmean(all_handles) if all_handles else None
    weeks = [0] * 7  # how many times each weekday occurs in the range
    day = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last:
        weeks[day.weekday()] += 1
        day += timedelta(days=1)
    hours = []
    under = over = 0
    wait = settings.target_wait.total_seconds()
    for d in range(7):
        for h in range(24):
            rate = arrivals[d][h] / weeks[d] if weeks[d] else 0.0
            slot = handles.get((d, h))
            handle = statistics.fmean(slot) if slot else overall
            if rate > 0 and handle:
                need, level = needed_agents(
                    rate,
                    handle,
                    target=settings.service_level,
                    wait=wait,
                    concurrency=settings.concurrency,
                )
            else:
                need, level = 0, None
            plan = planned(d, h)
            gap = None if plan is None else plan - need
            if gap is not None:
                under += gap < 0
                over += gap > 0
            hours.append(
                StaffingHour(
                    weekday=d,
                    hour=h,
                    arrivals=rate,
                    handle_seconds=handle if rate else None,
                    needed=need,
                    planned=plan,
                    gap=gap,
                    service_level=level,
                )
            )
    return StaffingReport(
        time_zone=zone.key,
        service_level=settings.service_level,
        target_wait_seconds=wait,
        concurrency=settings.concurrency,
        handle_seconds=overall,
        hours=hours,
        understaffed=under,
        overstaffed=over,
    )
