"""Typed results of `Reports` (pydantic models; every figure with no data is ``None``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..models._base import UTCDateTime

__all__ = [
    "BotStats",
    "CSATStats",
    "DurationStats",
    "Heatmap",
    "HeatmapCell",
    "LoadStats",
    "MoodReport",
    "QuestionPattern",
    "ReportFilter",
    "ReportGroup",
    "ReportSettings",
    "ServiceMetrics",
    "ServiceReport",
    "SLAResult",
    "Share",
    "StaffingHour",
    "StaffingReport",
    "TermCount",
    "TrendPoint",
    "AgentLoad",
]

GroupBy = Literal["team", "agent", "channel", "language", "tag", "day", "week", "month"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportSettings(_Model):
    """How reports count. Set on `Reports.settings`.

    Attributes:
        abandon_after: A customer still waiting unassigned in a queue, silent
            for this long, has abandoned it.
        satisfied_top: How many of the best answers of a survey's rated
            question count as satisfied: 2 makes 4-5 on a 1-5 scale, 4-5
            stars, and "agree"/"strongly agree".
        mood_drop: How far a conversation's mood must fall, from its first
            measure to its last, to count as "mood fell".
        service_level: Staffing target: this share of chats answered...
        target_wait: ...within this wait.
        concurrency: Chats one agent handles at once, for staffing.
        top: How many terms, intents and patterns to list.
    """

    abandon_after: timedelta = Field(default=timedelta(minutes=10), gt=timedelta(0))
    satisfied_top: int = Field(default=2, ge=1, le=10)
    mood_drop: float = Field(default=0.3, gt=0, le=2)
    service_level: float = Field(default=0.8, gt=0, lt=1)
    target_wait: timedelta = Field(default=timedelta(seconds=60), gt=timedelta(0))
    concurrency: int = Field(default=1, ge=1, le=50)
    top: int = Field(default=10, ge=1, le=100)


class ReportFilter(_Model):
    """What a report covers: conversations started in ``[start, end)`` matching every filter."""

    start: UTCDateTime
    end: UTCDateTime
    team: str | None = None
    agent: str | None = None
    channel: str | None = None
    tag: str | None = None
    language: str | None = None
    time_zone: str = "UTC"
    """The zone days, weeks, months and hours are bucketed in."""


class DurationStats(_Model):
    """Durations in seconds: calendar and business time (the team's open hours)."""

    count: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None
    total: float | None = None
    business_mean: float | None = None
    business_median: float | None = None
    business_p90: float | None = None
    business_total: float | None = None


class Share(_Model):
    """``count`` out of ``total``; ``rate`` is ``None`` when ``total`` is 0."""

    count: int = 0
    total: int = 0
    rate: float | None = None


class CSATStats(_Model):
    """Customer satisfaction from surveys.

    ``satisfied`` is the share of answers among the best `ReportSettings.satisfied_top`
    of the rated question; ``response_rate`` answers ÷ surveys sent; ``distribution``
    the number of answers per answer (``"1"``..``"5"``, ``"agree"``...).
    """

    surveys: int = 0
    responses: int = 0
    response_rate: float | None = None
    satisfied: Share = Field(default_factory=Share)
    average_score: float | None = None
    distribution: dict[str, int] = Field(default_factory=dict)


class BotStats(_Model):
    """Bot conversations: contained (resolved without a person), handed off, and why."""

    conversations: int = 0
    contained: Share = Field(default_factory=Share)
    handoffs: Share = Field(default_factory=Share)
    handoff_reasons: dict[str, int] = Field(default_factory=dict)


class AgentLoad(_Model):
    """One agent's load: time owning chats and the most chats owned at once."""

    agent_id: str
    conversations: int
    handle_seconds: float
    max_concurrent: int
    time_at_capacity: float | None = None
    """Seconds with as many chats as their capacity (``None``: capacity unknown)."""
    time_available: float | None = None
    """Seconds in the range the agent's status was available or busy (taking chats);
    ``None`` without status changes on record."""
    time_busy: float | None = None
    """Of those, seconds at capacity (status busy)."""
    occupancy: float | None = None
    """``time_busy / time_available``."""


class LoadStats(_Model):
    """Volume: conversations and messages, per channel, team, agent, language and tag."""

    conversations: int = 0
    messages_in: int = 0
    messages_out: int = 0
    """Public replies by people."""
    bot_messages_out: int = 0
    by_channel: dict[str, int] = Field(default_factory=dict)
    by_team: dict[str, int] = Field(default_factory=dict)
    by_agent: dict[str, int] = Field(default_factory=dict)
    by_language: dict[str, int] = Field(default_factory=dict)
    by_tag: dict[str, int] = Field(default_factory=dict)
    agents: list[AgentLoad] = Field(default_factory=list)


class ServiceMetrics(_Model):
    """Every service metric of a set of conversations (see the reports concept page)."""

    conversations: int = 0
    first_response: DurationStats = Field(default_factory=DurationStats)
    reply_time: DurationStats = Field(default_factory=DurationStats)
    queue_wait: DurationStats = Field(default_factory=DurationStats)
    queued: int = 0
    abandoned: Share = Field(default_factory=Share)
    missed: Share = Field(default_factory=Share)
    handle_time: DurationStats = Field(default_factory=DurationStats)
    first_resolution: DurationStats = Field(default_factory=DurationStats)
    full_resolution: DurationStats = Field(default_factory=DurationStats)
    resolved: int = 0
    reopened: Share = Field(default_factory=Share)
    first_contact_resolution: Share = Field(default_factory=Share)
    csat: CSATStats = Field(default_factory=CSATStats)
    bot: BotStats = Field(default_factory=BotStats)
    load: LoadStats = Field(default_factory=LoadStats)


class ReportGroup(_Model):
    """The metrics of one group (a team, an agent, a day...)."""

    key: str
    metrics: ServiceMetrics


class ServiceReport(_Model):
    """A report: the filter, the totals and, when grouped, one entry per group."""

    filter: ReportFilter
    generated_at: UTCDateTime
    group_by: GroupBy | None = None
    totals: ServiceMetrics
    groups: list[ReportGroup] = Field(default_factory=list)


class HeatmapCell(_Model):
    """One cell of a `Heatmap`: a weekday (0 Monday), an hour (0-23) and its count."""

    weekday: int = Field(ge=0, le=6)
    hour: int = Field(ge=0, le=23)
    count: int = Field(ge=0)


class Heatmap(_Model):
    """Counts per weekday (0 Monday) x hour (0-23) in ``time_zone``.

    ``levels`` colours each cell by quantile: 0 for empty, then 1 to
    ``len(thresholds) + 1`` by the quantile thresholds of the non-empty cells.
    """

    metric: Literal["started", "resolved"]
    time_zone: str
    cells: list[list[int]]
    thresholds: list[float]
    levels: list[list[int]]
    total: int
    busiest: list[HeatmapCell] = Field(default_factory=list)
    """The busiest cells (at most five), busiest first."""


class TrendPoint(_Model):
    """One period of a trend."""

    period: date
    conversations: int
    first_response_median: float | None
    resolution_median: float | None
    csat: float | None
    sentiment: float | None


class TermCount(_Model):
    """A term (or intent, or reason) and how many conversations had it."""

    term: str
    count: int


class QuestionPattern(_Model):
    """Similar customer questions: their shared words, how many, and examples."""

    terms: list[str]
    count: int
    examples: list[str]


class MoodReport(_Model):
    """Customer mood and what they talk about."""

    messages: int
    distribution: dict[str, int]
    average: float | None
    trend: list[tuple[date, float]]
    fell: Share
    """Conversations whose mood fell by `ReportSettings.mood_drop` or more."""
    fell_examples: list[str]
    top_negative_terms: list[TermCount]
    top_intents: list[TermCount]
    question_patterns: list[QuestionPattern]


class SLAResult(_Model):
    """One SLA policy's compliance over the conversations it applies to."""

    policy: str
    conversations: int
    first_response: Share
    resolution: Share
    breaches: int


class StaffingHour(_Model):
    """One weekday-hour: demand and the agents it needs (Erlang C) beside those planned."""

    weekday: int
    hour: int
    arrivals: float
    """Conversations started per hour (average over the weeks of the range)."""
    handle_seconds: float | None
    needed: int
    planned: int | None
    """Agents whose shift (or, without shifts, whose team's hours) covers the hour."""
    gap: int | None
    """``planned - needed``: negative is understaffed."""
    service_level: float | None
    """The share answered within the target wait with ``needed`` agents."""


class StaffingReport(_Model):
    """Agents needed per hour to answer `ReportSettings.service_level` within `target_wait`."""

    time_zone: str
    service_level: float
    target_wait_seconds: float
    concurrency: int
    handle_seconds: float | None
    hours: list[StaffingHour]
    understaffed: int
    overstaffed: int
