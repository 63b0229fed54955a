"""The reporting projection: what reports read, folded from the outbox.

Three record kinds, written by `Projection` from outbox events (incrementally
by the ``reports`` dispatch group, or all at once by `Reports.rebuild`):

- `ReportTimeline`: per conversation, the moments that matter to reports
  (messages, assignments, status changes, bot and survey events), each keyed
  by its outbox position. Applying an event twice, or two events in either
  order, gives the same timeline.
- `ConversationFact`: per conversation, every figure derived from its
  timeline (first response, replies and waits, queue waits, handle segments,
  resolutions, survey, mood...), each duration kept in calendar and in
  business time.
- `ReplyFact`: one per public agent reply, with how long the customer waited for it.

Derived facts are a pure function of the timeline and the team's business
hours (`derive`), so an incremental projection and a rebuild agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..events import (
    AgentStatusChanged,
    BotFinished,
    BotHandoff,
    BotStarted,
    ConversationAssigned,
    ConversationCreated,
    ConversationMoodChanged,
    ConversationPriorityChanged,
    ConversationQueued,
    ConversationStatusChanged,
    ConversationTagsChanged,
    Event,
    MessageCreated,
    SurveyAnswered,
    SurveySent,
)
from ..hours import BusinessHours
from ..models._base import Record
from ..models.surveys import Survey, SurveyQuestion

__all__ = [
    "ConversationFact",
    "ConversationStamp",
    "EVENT_TYPES",
    "HandleSegment",
    "Moment",
    "agent_day",
    "status_moment",
    "status_time",
    "QueueWait",
    "ReplyFact",
    "ReplyTime",
    "ReportTimeline",
    "Span",
    "SurveyFact",
    "derive",
    "moments_of",
    "negative_terms",
    "reply_facts",
    "span",
    "team_of",
]

UTCDateTime = AwareDatetime
"""Times in facts: always written in UTC, so read without the per-value conversion
`chatkit.models._base.UTCDateTime` runs in Python (reports read many facts)."""

_MAX_TEXT = 300
"""Characters of a customer's message kept for question patterns."""
_MAX_QUESTIONS = 3
_MAX_TERMS = 30


class Span(BaseModel):
    """A duration, in calendar seconds and in business seconds (the team's open hours).

    Business time is calendar time for a conversation whose team has no hours.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seconds: float = Field(ge=0)
    business_seconds: float = Field(ge=0)


def span(start: datetime, end: datetime, hours: BusinessHours | None) -> Span:
    """The `Span` from ``start`` to ``end`` (zero when reversed)."""
    seconds = max((end - start).total_seconds(), 0.0)
    if hours is None or seconds == 0:
        return Span(seconds=seconds, business_seconds=seconds)
    return Span(
        seconds=seconds, business_seconds=hours.open_time_between(start, end).total_seconds()
    )


class Moment(BaseModel):
    """One thing that happened in a conversation, as reports need it.

    ``kind`` is the event type, ``actor`` who did it (role and id of a
    message's author, the new assignee...), ``value`` the detail (a status,
    a team, a reason) and ``num`` a number (a sentiment, a mood, a score).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pos: int
    at: UTCDateTime
    kind: str
    actor: str | None = None
    value: str | None = None
    num: float | None = None
    extra: dict[str, str | int | float | bool | list[str] | None] = Field(default_factory=dict)


class ReportTimeline(Record):
    """The moments of one conversation (id: the conversation's id), ordered by position."""

    table: ClassVar[str] = "report_timelines"

    moments: list[Moment] = Field(default_factory=list)

    def merged(self, new: Sequence[Moment]) -> list[Moment]:
        """These moments plus ``new``, without duplicates (same position), by position."""
        by_pos = {m.pos: m for m in self.moments}
        for moment in new:
            by_pos.setdefault(moment.pos, moment)
        return [by_pos[p] for p in sorted(by_pos)]


class ReplyTime(BaseModel):
    """A public reply by a person and how long the customer had waited for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str
    at: UTCDateTime
    agent_id: str | None
    wait: Span | None
    """From the moment the customer started waiting (``None``: they were not waiting)."""


class QueueWait(BaseModel):
    """One stay in a queue: from routed to answered (assigned), or left."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str | None
    queued_at: UTCDateTime
    ended_at: UTCDateTime | None = None
    outcome: str = "waiting"
    """``assigned`` (an agent took it or answered it), ``left`` (it ended before an
    agent answered: abandoned) or ``waiting`` (still in the queue)."""
    wait: Span | None = None
    """Time to be assigned (``None`` unless ``assigned``)."""


class HandleSegment(BaseModel):
    """Time one agent owned the conversation: assignment to resolution, transfer or unassignment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent_id: str
    team: str | None
    start: UTCDateTime
    end: UTCDateTime | None = None
    duration: Span | None = None
    """``None`` while the segment is open."""


class SurveyFact(BaseModel):
    """The satisfaction survey of the conversation (the latest one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sent_at: UTCDateTime
    agent_id: str | None = None
    question_kind: str | None = None
    choices: list[str] = Field(default_factory=list)
    """Every answer of the rated question, worst first (as text)."""
    answered_at: UTCDateTime | None = None
    answer: str | None = None
    """The answer to the first scored question, as text (``"5"``, ``"agree"``)."""
    score: float | None = None


class ConversationFact(Record):
    """Everything reports know about one conversation (id: the conversation's id).

    ``day`` is the UTC date the conversation started (``YYYY-MM-DD``), the
    indexed column reports select time ranges by.
    """

    table: ClassVar[str] = "report_conversations"
    columns: ClassVar[tuple[str, ...]] = ("day", "team")

    day: str
    position: int = 0
    """Highest outbox position applied."""
    contact_id: str | None = None
    started_at: UTCDateTime
    channel: str | None = None
    channels: list[str] = Field(default_factory=list)
    team: str | None = None
    assignee_id: str | None = None
    language: str | None = None
    tags: list[str] = Field(default_factory=list)
    priority: str = "normal"
    status: str = "open"
    closed_at: UTCDateTime | None = None

    customer_messages: int = 0
    agent_messages: int = 0
    """Public replies by people."""
    bot_messages: int = 0
    """Public messages by bots and automatic replies."""
    notes: int = 0
    last_customer_at: UTCDateTime | None = None

    bot: bool = False
    bot_first: bool = False
    handoff_at: UTCDateTime | None = None
    handoff_reason: str | None = None
    bot_outcome: str | None = None

    first_response_at: UTCDateTime | None = None
    first_response_agent: str | None = None
    first_response: Span | None = None
    replies: list[ReplyTime] = Field(default_factory=list)
    queues: list[QueueWait] = Field(default_factory=list)
    segments: list[HandleSegment] = Field(default_factory=list)

    resolves: list[UTCDateTime] = Field(default_factory=list)
    reopens: int = 0
    first_resolution: Span | None = None
    full_resolution: Span | None = None
    """Start to last resolution, when the conversation is resolved now."""

    survey: SurveyFact | None = None

    sentiments: list[float] = Field(default_factory=list)
    """Sentiment of each analysed customer message, in order."""
    sentiment_labels: dict[str, int] = Field(default_factory=dict)
    moods: list[float] = Field(default_factory=list)
    """The running mood after each change (``conversation.mood_changed``)."""
    intents: list[str] = Field(default_factory=list)
    negative_terms: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    first_message: str | None = None

    @property
    def resolved(self) -> bool:
        """Resolved now (or closed after a resolution)."""
        return bool(self.resolves) and self.status in ("resolved", "closed")


class ConversationStamp(Record):
    """The few facts of a conversation the busiest-hours heatmap needs, kept small to read fast.

    Times are seconds since the epoch (UTC).
    """

    table: ClassVar[str] = "report_stamps"
    columns: ClassVar[tuple[str, ...]] = ("day", "team")

    day: str
    team: str | None = None
    started: float
    resolved: list[float] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    language: str | None = None
    tags: list[str] = Field(default_factory=list)
    agents: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, fact: ConversationFact, version: int = 1) -> ConversationStamp:
        """The stamp of ``fact``."""
        agents = dict.fromkeys(
            [s.agent_id for s in fact.segments] + [r.agent_id for r in fact.replies if r.agent_id]
        )
        return cls(
            id=fact.id,
            version=version,
            created_at=fact.started_at,
            updated_at=fact.started_at,
            day=fact.day,
            team=fact.team,
            started=fact.started_at.timestamp(),
            resolved=[t.timestamp() for t in fact.resolves],
            channels=fact.channels or ([fact.channel] if fact.channel else []),
            language=fact.language,
            tags=list(fact.tags),
            agents=list(agents),
        )

    def same(self, other: ConversationStamp) -> bool:
        """Whether the two stamps say the same (versions aside)."""
        return self.model_dump(exclude={"version", "created_at", "updated_at"}) == other.model_dump(
            exclude={"version", "created_at", "updated_at"}
        )


class ReplyFact(Record):
    """One public reply by a person (id: the message's id)."""

    table: ClassVar[str] = "report_replies"
    columns: ClassVar[tuple[str, ...]] = ("conversation_id", "day")

    conversation_id: str
    day: str
    at: UTCDateTime
    agent_id: str | None
    team: str | None
    channel: str | None
    wait: Span | None


# -- events to moments -----------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]{3,}")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "you",
        "your",
        "are",
        "was",
        "were",
        "this",
        "that",
        "with",
        "have",
        "has",
        "had",
        "not",
        "but",
        "what",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "would",
        "should",
        "will",
        "just",
        "from",
        "they",
        "them",
        "there",
        "their",
        "about",
        "into",
        "been",
        "very",
        "still",
        "any",
        "all",
        "our",
        "out",
        "get",
        "got",
        "its",
        "it's",
        "than",
        "then",
        "too",
        "also",
        "one",
        "more",
        "some",
    ]
)


def negative_terms(text: str) -> list[str]:
    """The words of a message worth counting as complaints (lower case, no stop words)."""
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP]


EVENT_TYPES: frozenset[str] = frozenset(
    {
        "conversation.created",
        "message.created",
        "conversation.queued",
        "conversation.assigned",
        "conversation.status_changed",
        "conversation.tags_changed",
        "conversation.priority_changed",
        "conversation.mood_changed",
        "conversation.purged",
        "bot.started",
        "bot.handoff",
        "bot.finished",
        "survey.sent",
        "survey.answered",
        "agent.status_changed",
    }
)
"""The event types the projection reads (the others are passed over)."""


def agent_day(agent_id: str, at: datetime) -> str:
    """The id of the timeline of an agent's status changes on one UTC day."""
    return f"agentday:{agent_id}:{at.strftime('%Y-%m-%d')}"


def status_moment(event: AgentStatusChanged) -> tuple[str, Moment]:
    """The timeline id and the moment of an agent's status change (status, and the one before)."""
    return agent_day(event.agent_id, event.occurred_at), Moment(
        pos=event.position or 0,
        at=event.occurred_at,
        kind=event.type,
        actor=event.previous.value,
        value=event.status.value,
    )


def status_time(
    moments: Sequence[Moment], start: datetime, end: datetime
) -> tuple[float, float] | None:
    """Seconds available (or busy) and busy within ``[start, end)``, from status moments.

    The status before the first moment is that moment's previous one; after
    the last it lasts to ``end``. ``None`` without moments.
    """
    if not moments:
        return None
    ordered = sorted(moments, key=lambda m: (m.at, m.pos))
    taking = ("available", "busy")
    available = busy = 0.0
    status = ordered[0].actor or "offline"
    since = start
    for m in [*ordered, None]:
        at = end if m is None else min(max(m.at, start), end)
        seconds = max((at - since).total_seconds(), 0.0)
        if status in taking:
            available += seconds
        if status == "busy":
            busy += seconds
        if m is None:
            break
        status, since = m.value or status, at
    return available, busy


def _scored(survey: Survey) -> SurveyQuestion:
    return next((q for q in survey.form.questions if q.scored), survey.form.questions[0])


def moments_of(event: Event) -> list[Moment]:
    """The moments an outbox event adds to its conversation's timeline (often none)."""
    pos = event.position or 0
    at = event.occurred_at
    t = event.type
    if isinstance(event, ConversationCreated):
        c = event.conversation
        extra: dict[str, str | int | float | bool | list[str] | None] = {
            "team": c.team,
            "language": c.language,
            "priority": c.priority.value,
            "tags": list(c.tags),
            "status": c.status.value,
            "assignee": c.assignee_id,
        }
        return [
            Moment(
                pos=pos,
                at=c.created_at,
                kind=t,
                actor=c.contact_id,
                value=c.channel.value,
                extra=extra,
            )
        ]
    if isinstance(event, MessageCreated):
        m = event.message
        extra = {"id": m.id, "kind": m.kind.value, "channel": m.channel.value}
        num = None
        if m.author.role.value == "customer" and m.kind.value == "text":
            extra["text"] = m.text[:_MAX_TEXT]
            if m.analysis is not None:
                num = m.analysis.sentiment
                extra["label"] = m.analysis.sentiment_label
                extra["intent"] = m.analysis.intent
                extra["language"] = m.analysis.language
        return [
            Moment(
                pos=pos,
                at=m.created_at,
                kind=t,
                actor=m.author.id,
                value=m.author.role.value,
                num=num,
                extra=extra,
            )
        ]
    if isinstance(event, ConversationQueued):
        return [
            Moment(pos=pos, at=at, kind=t, value=event.team, extra={"language": event.language})
        ]
    if isinstance(event, ConversationAssigned):
        return [Moment(pos=pos, at=at, kind=t, actor=event.assignee_id, value=event.team)]
    if isinstance(event, ConversationStatusChanged):
        return [
            Moment(
                pos=pos, at=at, kind=t, actor=event.from_status.value, value=event.to_status.value
            )
        ]
    if isinstance(event, ConversationTagsChanged):
        return [Moment(pos=pos, at=at, kind=t, extra={"tags": list(event.tags)})]
    if isinstance(event, ConversationPriorityChanged):
        return [Moment(pos=pos, at=at, kind=t, value=event.to_priority.value)]
    if isinstance(event, ConversationMoodChanged):
        return [Moment(pos=pos, at=at, kind=t, num=event.mood)]
    if isinstance(event, BotStarted):
        return [Moment(pos=pos, at=at, kind=t, value=event.flow)]
    if isinstance(event, BotHandoff):
        return [Moment(pos=pos, at=at, kind=t, value=event.reason)]
    if isinstance(event, BotFinished):
        return [Moment(pos=pos, at=at, kind=t, value=event.outcome)]
    if isinstance(event, SurveySent):
        q = _scored(event.survey)
        return [
            Moment(
                pos=pos,
                at=at,
                kind=t,
                actor=event.survey.agent_id,
                value=event.survey.id,
                extra={
                    "question": q.id,
                    "question_kind": q.kind.value,
                    "choices": [str(c) for c in q.choices],
                },
            )
        ]
    if isinstance(event, SurveyAnswered):
        answer = event.survey.answers.get(_scored(event.survey).id)
        return [
            Moment(
                pos=pos,
                at=at,
                kind=t,
                value=None if answer is None else str(answer),
                num=event.score,
                extra={"survey": event.survey.id},
            )
        ]
    return []


# -- moments to facts -------------------------------------------------------------


def derive(
    conversation_id: str,
    moments: Sequence[Moment],
    hours: BusinessHours | None,
    *,
    previous: ConversationFact | None = None,
) -> ConversationFact | None:
    """The `ConversationFact` of a timeline (``None`` for an empty one).

    ``previous`` only carries the record's version over, so the result can
    replace it.
    """
    if not moments:
        return None
    first = moments[0]
    started = first.at
    channel: str | None = None
    channels: list[str] = []
    team: str | None = None
    assignee: str | None = None
    language: str | None = None
    tags: list[str] = []
    priority = "normal"
    status = "open"
    contact: str | None = None
    closed_at: datetime | None = None
    customer_messages = agent_messages = bot_messages = notes = 0
    last_customer_at: datetime | None = None
    bot = bot_first = bot_active = False
    handoff_at: datetime | None = None
    handoff_reason: str | None = None
    bot_outcome: str | None = None
    first_response_at: datetime | None = None
    first_response_agent: str | None = None
    waiting_since: datetime | None = None
    replies: list[ReplyTime] = []
    queues: list[dict[str, object]] = []
    segments: list[dict[str, object]] = []
    resolves: list[datetime] = []
    reopens = 0
    survey: dict[str, object] | None = None
    sentiments: list[float] = []
    labels: dict[str, int] = {}
    moods: list[float] = []
    intents: list[str] = []
    terms: list[str] = []
    questions: list[str] = []
    first_message: str | None = None

    def open_queue() -> dict[str, object] | None:
        return queues[-1] if queues and queues[-1]["outcome"] == "waiting" else None

    def close_segment(at: datetime) -> None:
        if segments and segments[-1]["end"] is None:
            segments[-1]["end"] = at

    def open_segment(agent: str, at: datetime) -> None:
        close_segment(at)
        segments.append({"agent_id": agent, "team": team, "start": at, "end": None})

    for m in moments:
        k = m.kind
        if k == "conversation.created":
            started = m.at
            contact = m.actor
            channel = m.value
            team = _s(m.extra.get("team"))
            language = _s(m.extra.get("language"))
            priority = _s(m.extra.get("priority")) or priority
            raw_tags = m.extra.get("tags")
            tags = list(raw_tags) if isinstance(raw_tags, list) else []
            status = _s(m.extra.get("status")) or status
            assignee = _s(m.extra.get("assignee"))
            if assignee is not None:
                open_segment(assignee, m.at)
        elif k == "message.created":
            role, kind = m.value, m.extra.get("kind")
            ch = _s(m.extra.get("channel"))
            if ch is not None:
                channel = ch
                if ch not in channels:
                    channels.append(ch)
            if kind == "note":
                notes += 1
                continue
            if role == "customer" and kind == "text":
                customer_messages += 1
                last_customer_at = m.at
                if not bot_active and waiting_since is None:
                    waiting_since = m.at
                text = _s(m.extra.get("text")) or ""
                if first_message is None:
                    first_message = text
                if "?" in text and len(questions) < _MAX_QUESTIONS:
                    questions.append(text)
                if m.num is not None:
                    sentiments.append(m.num)
                label = _s(m.extra.get("label"))
                if label is not None:
                    labels[label] = labels.get(label, 0) + 1
                    if label == "negative":
                        for term in negative_terms(text):
                            if term not in terms and len(terms) < _MAX_TERMS:
                                terms.append(term)
                intent = _s(m.extra.get("intent"))
                if intent is not None and intent not in intents:
                    intents.append(intent)
                lang = _s(m.extra.get("language"))
                if language is None and lang is not None:
                    language = lang
            elif role == "agent" and kind == "text":
                agent_messages += 1
                if bot_active:
                    bot_active = False
                if first_response_at is None:
                    first_response_at = m.at
                    first_response_agent = m.actor
                wait = None if waiting_since is None else span(waiting_since, m.at, hours)
                waiting_since = None
                replies.append(
                    ReplyTime(
                        message_id=_s(m.extra.get("id")) or "", at=m.at, agent_id=m.actor, wait=wait
                    )
                )
                q = open_queue()
                if q is not None:  # answered straight from the queue, without an assignment
                    q["outcome"], q["ended_at"] = "assigned", m.at
            elif kind == "text":  # bots and automatic replies
                bot_messages += 1
                if bot_active:
                    waiting_since = None
        elif k == "conversation.queued":
            team = m.value if m.value is not None else team
            if open_queue() is None:
                queues.append(
                    {"team": m.value, "queued_at": m.at, "ended_at": None, "outcome": "waiting"}
                )
        elif k == "conversation.assigned":
            team = m.value
            assignee = m.actor
            if m.actor is not None:
                q = open_queue()
                if q is not None:
                    q["outcome"], q["ended_at"] = "assigned", m.at
                if status in ("resolved", "closed"):
                    close_segment(m.at)
                else:
                    open_segment(m.actor, m.at)
            else:
                close_segment(m.at)
        elif k == "conversation.status_changed":
            to = m.value or status
            if to == "resolved":
                resolves.append(m.at)
                close_segment(m.at)
            elif to == "closed":
                closed_at = m.at
                close_segment(m.at)
            elif to == "open" and m.actor == "resolved":
                reopens += 1
                if assignee is not None:
                    open_segment(assignee, m.at)
            if to in ("resolved", "closed"):
                q = open_queue()
                if q is not None:
                    q["outcome"], q["ended_at"] = "left", m.at
            status = to
        elif k == "conversation.tags_changed":
            raw = m.extra.get("tags")
            tags = list(raw) if isinstance(raw, list) else tags
        elif k == "conversation.priority_changed":
            priority = m.value or priority
        elif k == "conversation.mood_changed":
            if m.num is not None:
                moods.append(m.num)
        elif k == "bot.started":
            bot = bot_active = True
            if first_response_at is None:
                bot_first = True
        elif k == "bot.handoff":
            bot_active = False
            if handoff_at is None:
                handoff_at = m.at
                handoff_reason = m.value
            waiting_since = m.at
        elif k == "bot.finished":
            bot_active = False
            bot_outcome = m.value
        elif k == "survey.sent":
            choices = m.extra.get("choices")
            survey = {
                "sent_at": m.at,
                "agent_id": m.actor,
                "question_kind": _s(m.extra.get("question_kind")),
                "choices": list(choices) if isinstance(choices, list) else [],
            }
        elif k == "survey.answered" and survey is not None:
            survey.update(answered_at=m.at, answer=m.value, score=m.num)

    frt_base = handoff_at if bot_first and handoff_at is not None else started
    first_response = (
        None
        if first_response_at is None
        else span(frt_base, max(first_response_at, frt_base), hours)
    )
    done = [
        QueueWait(
            team=_s(q["team"]),
            queued_at=q["queued_at"],
            ended_at=q["ended_at"],
            outcome=str(q["outcome"]),
            wait=span(_t(q["queued_at"]), _t(q["ended_at"]), hours)
            if q["outcome"] == "assigned"
            else None,
        )
        for q in queues
    ]
    handled = [
        HandleSegment(
            agent_id=str(s["agent_id"]),
            team=_s(s["team"]),
            start=s["start"],
            end=s["end"],
            duration=None if s["end"] is None else span(_t(s["start"]), _t(s["end"]), hours),
        )
        for s in segments
    ]
    resolved_now = bool(resolves) and status in ("resolved", "closed")
    return ConversationFact(
        id=conversation_id,
        version=1 if previous is None else previous.version + 1,
        created_at=started if previous is None else previous.created_at,
        day=started.strftime("%Y-%m-%d"),
        position=max(m.pos for m in moments),
        contact_id=contact,
        started_at=started,
        channel=channel,
        channels=channels or ([channel] if channel else []),
        team=team,
        assignee_id=assignee,
        language=language,
        tags=tags,
        priority=priority,
        status=status,
        closed_at=closed_at,
        customer_messages=customer_messages,
        agent_messages=agent_messages,
        bot_messages=bot_messages,
        notes=notes,
        last_customer_at=last_customer_at,
        bot=bot,
        bot_first=bot_first,
        handoff_at=handoff_at,
        handoff_reason=handoff_reason,
        bot_outcome=bot_outcome,
        first_response_at=first_response_at,
        first_response_agent=first_response_agent,
        first_response=first_response,
        replies=replies,
        queues=done,
        segments=handled,
        resolves=resolves,
        reopens=reopens,
        first_resolution=span(started, resolves[0], hours) if resolves else None,
        full_resolution=span(started, resolves[-1], hours) if resolved_now else None,
        survey=SurveyFact.model_validate(survey) if survey is not None else None,
        sentiments=sentiments,
        sentiment_labels=labels,
        moods=moods,
        intents=intents,
        negative_terms=terms,
        questions=questions,
        first_message=first_message,
    )


def reply_facts(fact: ConversationFact) -> list[ReplyFact]:
    """The `ReplyFact` rows of a conversation's replies."""
    return [
        ReplyFact(
            id=r.message_id,
            conversation_id=fact.id,
            day=r.at.strftime("%Y-%m-%d"),
            at=r.at,
            agent_id=r.agent_id,
            team=fact.team,
            channel=fact.channel,
            wait=r.wait,
            created_at=r.at,
            updated_at=r.at,
        )
        for r in fact.replies
        if r.message_id
    ]


def _t(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value


def _s(value: object) -> str | None:
    return value if isinstance(value, str) else None


def team_of(moments: Sequence[Moment]) -> str | None:
    """The team a timeline ends with (whose business hours its durations use)."""
    team: str | None = None
    for m in moments:
        if m.kind == "conversation.created":
            team = _s(m.extra.get("team"))
        elif m.kind == "conversation.assigned" or (m.kind == "conversation.queued" and m.value):
            team = m.value
    return team
