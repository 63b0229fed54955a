"""`Reports`: service metrics, busiest hours, mood and staffing, from the reporting projection."""

from __future__ import annotations

import builtins
import functools
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ..errors import ConflictError, DuplicateKeyError, InvalidInputError
from ..events import AgentStatusChanged, Event
from ..hours import BusinessHours, time_zone
from ..models import Agent, Team
from ..models._base import utcnow
from ..services._core import Core, check_events
from ..services.dispatch import Dispatcher
from ..stores.base import Delete, In, Insert, Op, Update
from . import metrics as m
from .facts import (
    EVENT_TYPES,
    ConversationFact,
    ConversationStamp,
    Moment,
    ReplyFact,
    ReportTimeline,
    agent_day,
    derive,
    moments_of,
    reply_facts,
    status_moment,
    status_time,
    team_of,
)
from .models import (
    GroupBy,
    Heatmap,
    MoodReport,
    ReportFilter,
    ReportGroup,
    ReportSettings,
    ServiceMetrics,
    ServiceReport,
    SLAResult,
    StaffingReport,
    TrendPoint,
)

__all__ = ["GROUP", "Reports"]

GROUP = "reports"
"""The dispatch group that keeps the reporting projection up to date."""

_TEAM_TTL = 60.0
_Staged = dict[str, tuple[ReportTimeline, ConversationFact]]
"""What one write will have stored, per conversation (remembered once committed)."""
_CACHE = 5000
"""Conversations whose latest timeline and fact a process keeps in memory."""
_BATCH = 500
_READ = 2000
_PERIODS = ("day", "week", "month")
_GROUPS = ("team", "agent", "channel", "language", "tag", *_PERIODS)


def _moment(now: object) -> datetime:
    """``now`` checked (a timezone-aware datetime), or the current time for ``None``."""
    if now is None:
        return utcnow()
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidInputError("now must be a timezone-aware datetime", field="now")
    return now


class Reports:
    """Service metrics from the reporting projection (``kit.reports``).

    The projection (`chatkit.reports.facts`) is kept by the ``reports``
    dispatch group: the worker runs it (job ``reports``), or call `drain`.
    `rebuild` recomputes it from the whole outbox, so reports cover the
    history from before it ran. Every report covers the conversations
    *started* in its range and matching its filters; see the concept page
    "Reports" for each metric's definition. A figure with no data is ``None``.

    Example:
        ```python
        await kit.reports.drain()
        week = await kit.reports.summary(days=7, group_by="team")
        print(week.totals.first_response.median, week.totals.csat.satisfied.rate)
        ```
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self.settings = ReportSettings()
        """How reports count (abandonment limit, CSAT answers, staffing targets)."""
        self._teams: dict[str, BusinessHours | None] = {}
        self._teams_at = 0.0
        # The timeline and fact this process wrote last, per conversation: the next
        # batch starts from them without reading (a stale one fails its version
        # check, and the conversation is then read afresh).
        self._cache: OrderedDict[str, tuple[ReportTimeline, ConversationFact]] = OrderedDict()

    # -- the projection -------------------------------------------------------------

    def dispatcher(
        self,
        *,
        batch_size: int = 200,
        lease_seconds: float = 30.0,
        start: Literal["beginning", "end"] = "beginning",
    ) -> Dispatcher:
        """A worker of the ``reports`` dispatch group, which keeps the projection.

        ``chatkit worker`` runs one; start your own only when you run no
        worker. Several may run at once: applying an event twice, or events
        in another order, gives the same facts.
        """
        from ..services.events import Events

        return Events(self._core).dispatcher(
            GROUP,
            self.apply,
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            start=start,
            types=EVENT_TYPES,
        )

    async def drain(self) -> int:
        """Apply every outbox event the ``reports`` group has not handled yet; how many."""
        dispatcher = self.dispatcher()
        try:
            return await dispatcher.drain()
        finally:
            await dispatcher.close()

    async def apply(self, events: Sequence[Event]) -> None:
        """Fold outbox events into the projection (idempotent, any order).

        Raises:
            InvalidInputError: ``events`` is not a list of events.
        """
        events = check_events(events)
        store = await self._core.ready()
        pending: dict[str, list[Moment]] = defaultdict(list)
        purged: set[str] = set()
        statuses: dict[str, list[Moment]] = defaultdict(list)
        for event in events:
            if isinstance(event, AgentStatusChanged):
                key, moment = status_moment(event)
                statuses[key].append(moment)
                continue
            cid = event.conversation_id
            if cid is None:
                continue
            if event.type == "conversation.purged":
                purged.add(cid)
                pending.pop(cid, None)
                continue
            if cid in purged:
                continue
            pending[cid].extend(moments_of(event))
        work = {cid: moments for cid, moments in pending.items() if moments}
        if work:
            # one commit for the whole batch; on a race, each conversation on its own
            ops: list[Op] = []
            staged: _Staged = {}
            for cid, moments in work.items():
                ops += await self._ops(cid, moments, staged, cached=True)
            try:
                if ops:
                    await store.commit(ops)
                self._remember(staged)
            except (ConflictError, DuplicateKeyError):
                for cid in work:
                    self._cache.pop(cid, None)
                for cid, moments in work.items():
                    await self._core.retry(functools.partial(self._write, cid, moments))
        for key, moments in statuses.items():
            await self._core.retry(functools.partial(self._status_write, key, moments))
        for cid in purged:
            self._cache.pop(cid, None)
            gone: list[Op] = [
                Delete(ReportTimeline, cid),
                Delete(ConversationFact, cid),
                Delete(ConversationStamp, cid),
            ]
            gone += [
                Delete(ReplyFact, r.id)
                for r in await store.find(ReplyFact, {"conversation_id": cid})
            ]
            await store.commit(gone)

    async def _hours(self, team: str | None) -> BusinessHours | None:
        if team is None:
            return None
        now = time.monotonic()
        if now - self._teams_at > _TEAM_TTL:
            self._teams, self._teams_at = {}, now
        if team not in self._teams:
            store = await self._core.ready()
            found = await store.find(Team, {"name": team}, limit=1)
            self._teams[team] = found[0].hours if found else None
        return self._teams[team]

    async def _status_write(self, key: str, moments: Sequence[Moment]) -> None:
        store = await self._core.ready()
        timeline = await store.get(ReportTimeline, key)
        if timeline is None:
            await store.commit(
                [Insert(ReportTimeline(id=key, moments=ReportTimeline(id=key).merged(moments)))]
            )
            return
        merged = timeline.merged(moments)
        if len(merged) != len(timeline.moments):
            update = {"moments": merged, "version": timeline.version + 1, "updated_at": utcnow()}
            await store.commit([Update(timeline.model_copy(update=update))])

    def _remember(self, staged: _Staged) -> None:
        for cid, entry in staged.items():
            self._cache[cid] = entry
            self._cache.move_to_end(cid)
        while len(self._cache) > _CACHE:
            self._cache.popitem(last=False)

    async def _write(self, cid: str, moments: Sequence[Moment]) -> None:
        store = await self._core.ready()
        staged: _Staged = {}
        ops = await self._ops(cid, moments, staged, cached=False)
        if not ops:
            return
        try:
            await store.commit(ops)
        except DuplicateKeyError as exc:  # another dispatcher inserted first: read again
            raise ConflictError(str(exc)) from exc
        self._remember(staged)

    async def _ops(
        self, cid: str, moments: Sequence[Moment], staged: _Staged, *, cached: bool
    ) -> list[Op]:
        """The writes folding ``moments`` into conversation ``cid`` (none if all were applied)."""
        store = await self._core.ready()
        known = self._cache.get(cid) if cached else None
        if known is not None:
            timeline: ReportTimeline | None = known[0]
        else:
            timeline = await store.get(ReportTimeline, cid)
        if timeline is None:
            merged = ReportTimeline(id=cid).merged(moments)
            ops: list[Op] = [Insert(ReportTimeline(id=cid, moments=merged))]
        else:
            merged = timeline.merged(moments)
            if len(merged) == len(timeline.moments):
                return []  # every moment was applied before
            ops = [
                Update(
                    timeline.model_copy(
                        update={
                            "moments": merged,
                            "version": timeline.version + 1,
                            "updated_at": utcnow(),
                        }
                    )
                )
            ]
        previous = known[1] if known is not None else await store.get(ConversationFact, cid)
        fact = derive(cid, merged, await self._hours(team_of(merged)), previous=previous)
        assert fact is not None
        written = ops[0]
        assert isinstance(written, Insert | Update)
        assert isinstance(written.record, ReportTimeline)
        staged[cid] = (written.record, fact)
        ops.append(Update(fact) if previous is not None else Insert(fact))
        stamp = ConversationStamp.of(fact)
        if previous is None:
            ops.append(Insert(stamp))
        elif not stamp.same(ConversationStamp.of(previous)):
            stored = await store.get(ConversationStamp, cid)
            if stored is None:
                ops.append(Insert(stamp))
            else:
                ops.append(Update(stamp.model_copy(update={"version": stored.version + 1})))
        ops += await self._reply_ops(previous, fact)
        return ops

    async def _reply_ops(
        self, previous: ConversationFact | None, fact: ConversationFact
    ) -> list[Op]:
        store = await self._core.ready()
        before = {r.message_id: r for r in previous.replies} if previous else {}
        ops: list[Op] = []
        for row in reply_facts(fact):
            old = before.get(row.id)
            if old is None:
                ops.append(Insert(row))
            elif old.wait != row.wait or previous is None or previous.team != fact.team:
                stored = await store.get(ReplyFact, row.id)
                if stored is None:
                    ops.append(Insert(row))
                else:
                    ops.append(Update(row.model_copy(update={"version": stored.version + 1})))
        return ops

    async def rebuild(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Recompute the whole projection from the outbox; the number of conversations.

        Reads every event in the outbox (so conversations from before reports
        ran are covered), replaces every fact, and leaves the ``reports``
        dispatch group to carry on from there (events it meets again change
        nothing). ``progress(done, total)`` is called as events are read.

        Raises:
            InvalidInputError: ``progress`` is not callable.
        """
        if progress is not None and not callable(progress):
            raise InvalidInputError("progress must be a callable or None", field="progress")
        store = await self._core.ready()
        last = await store.last_position()
        timelines: dict[str, dict[int, Moment]] = defaultdict(dict)
        statuses: dict[str, dict[int, Moment]] = defaultdict(dict)
        purged: set[str] = set()
        after = 0
        while after < last:
            batch = await store.read_events(after, _READ)
            if not batch:
                break
            for event in batch:
                if isinstance(event, AgentStatusChanged):
                    key, moment = status_moment(event)
                    statuses[key].setdefault(moment.pos, moment)
                    continue
                cid = event.conversation_id
                if cid is None:
                    continue
                if event.type == "conversation.purged":
                    purged.add(cid)
                    continue
                for moment in moments_of(event):
                    timelines[cid].setdefault(moment.pos, moment)
            after = batch[-1].position or after
            if progress is not None:
                progress(min(after, last), last)
        for cid in purged:
            timelines.pop(cid, None)
        hours = {t.name: t.hours for t in await store.find(Team)}
        # drop the old projection
        for kind in (ReplyFact, ConversationStamp, ConversationFact, ReportTimeline):
            ids = [r.id for r in await store.find(kind)]
            for i in range(0, len(ids), _BATCH):
                await store.commit([Delete(kind, x) for x in ids[i : i + _BATCH]])
        ops: list[Op] = []
        for cid, by_pos in timelines.items():
            moments = [by_pos[p] for p in sorted(by_pos)]
            if not moments:
                continue
            fact = derive(cid, moments, hours.get(team_of(moments) or ""))
            assert fact is not None
            ops += [
                Insert(ReportTimeline(id=cid, moments=moments)),
                Insert(fact),
                Insert(ConversationStamp.of(fact)),
            ]
            ops += [Insert(r) for r in reply_facts(fact)]
            if len(ops) >= _BATCH:
                await store.commit(ops)
                ops = []
        for key, by_pos in statuses.items():
            ops.append(Insert(ReportTimeline(id=key, moments=[by_pos[p] for p in sorted(by_pos)])))
            if len(ops) >= _BATCH:
                await store.commit(ops)
                ops = []
        if ops:
            await store.commit(ops)
        self._teams_at = 0.0
        self._cache.clear()
        return len(timelines)

    # -- reading -----------------------------------------------------------------------

    def _filter(
        self,
        start: datetime | None,
        end: datetime | None,
        days: int | None,
        team: str | None,
        agent: str | None,
        channel: str | None,
        tag: str | None,
        language: str | None,
        tz: str,
    ) -> ReportFilter:
        if not isinstance(tz, str):
            raise InvalidInputError("time_zone must be an IANA zone name", field="time_zone")
        try:
            time_zone(tz)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"unknown time zone {tz!r}", field="time_zone") from exc
        for name, value in (("start", start), ("end", end)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidInputError(f"{name} must be a timezone-aware datetime", field=name)
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660
        ):
            raise InvalidInputError("days must be a whole number from 1 to 3660", field="days")
        for name, text in (
            ("team", team),
            ("agent", agent),
            ("channel", channel),
            ("tag", tag),
            ("language", language),
        ):
            if text is not None and (not isinstance(text, str) or not text or len(text) > 200):
                raise InvalidInputError(
                    f"{name} must be a non-empty string (200 at most)", field=name
                )
        end = end or utcnow()
        start = start or end - timedelta(days=days or 7)
        if start >= end:
            raise InvalidInputError("start must be before end", field="start")
        return ReportFilter(
            start=start,
            end=end,
            team=team,
            agent=agent,
            channel=channel,
            tag=tag,
            language=language,
            time_zone=tz,
        )

    async def facts(self, where: ReportFilter) -> builtins.list[ConversationFact]:
        """The conversation facts a filter selects (started in its range, matching every filter).

        Raises:
            InvalidInputError: ``where`` is not a `ReportFilter`.
        """
        if not isinstance(where, ReportFilter):
            raise InvalidInputError("where must be a ReportFilter", field="where")
        store = await self._core.ready()
        first = where.start.date() - timedelta(days=1)
        last = where.end.date() + timedelta(days=1)
        span_days = (last - first).days
        if span_days <= 400:
            days = [(first + timedelta(days=i)).isoformat() for i in range(span_days + 1)]
            cond: dict[str, object] = {"day": In(days)}
            if where.team is not None:
                cond["team"] = where.team
            found = await store.find(ConversationFact, cond)
        else:
            found = await store.find(ConversationFact, {"team": where.team} if where.team else None)
        out = []
        for f in found:
            if not where.start <= f.started_at < where.end:
                continue
            if where.team is not None and f.team != where.team:
                continue
            if where.channel is not None and where.channel not in (f.channels or [f.channel or ""]):
                continue
            if where.tag is not None and where.tag not in f.tags:
                continue
            if where.language is not None and f.language != where.language:
                continue
            if where.agent is not None and not m._involved(f, where.agent):
                continue
            out.append(f)
        out.sort(key=lambda f: (f.started_at, f.id))
        return out

    async def _stamps(self, where: ReportFilter) -> builtins.list[ConversationStamp]:
        """The stamps of the conversations a filter selects (as `facts`, but slim)."""
        store = await self._core.ready()
        first = where.start.date() - timedelta(days=1)
        last = where.end.date() + timedelta(days=1)
        span_days = (last - first).days
        cond: dict[str, object] = {}
        if span_days <= 400:
            cond["day"] = In(
                [(first + timedelta(days=i)).isoformat() for i in range(span_days + 1)]
            )
        if where.team is not None:
            cond["team"] = where.team
        lo, hi = where.start.timestamp(), where.end.timestamp()
        return [
            s
            for s in await store.find(ConversationStamp, cond or None)
            if lo <= s.started < hi
            and (where.channel is None or where.channel in s.channels)
            and (where.tag is None or where.tag in s.tags)
            and (where.language is None or s.language == where.language)
            and (where.agent is None or where.agent in s.agents)
        ]

    async def _with_status(
        self, metrics: ServiceMetrics, where: ReportFilter, now: datetime
    ) -> ServiceMetrics:
        """``metrics`` with each agent's time available and busy (from status changes)."""
        if not metrics.load.agents:
            return metrics
        store = await self._core.ready()
        end = min(where.end, now)
        days = [
            where.start + timedelta(days=i)
            for i in range((end.date() - where.start.date()).days + 1)
        ]
        keys = [agent_day(a.agent_id, day) for a in metrics.load.agents for day in days[:400]]
        found: dict[str, list[Moment]] = defaultdict(list)
        for i in range(0, len(keys), 500):
            for timeline in await store.find(ReportTimeline, {"id": In(keys[i : i + 500])}):
                found[timeline.id.split(":")[1]] += timeline.moments
        loads = []
        for load in metrics.load.agents:
            moments = found.get(load.agent_id, [])
            measured = status_time(moments, where.start, end) if moments else None
            if measured is None:
                loads.append(load)
                continue
            available, busy = measured
            loads.append(
                load.model_copy(
                    update={
                        "time_available": available,
                        "time_busy": busy,
                        "occupancy": busy / available if available else None,
                    }
                )
            )
        load_stats = metrics.load.model_copy(update={"agents": loads})
        return metrics.model_copy(update={"load": load_stats})

    async def _capacities(self) -> dict[str, int]:
        store = await self._core.ready()
        return {a.id: a.max_concurrent_chats for a in await store.find(Agent)}

    async def summary(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        days: int | None = None,
        team: str | None = None,
        agent: str | None = None,
        channel: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        time_zone: str = "UTC",
        group_by: GroupBy | None = None,
        now: datetime | None = None,
    ) -> ServiceReport:
        """Every service metric over a range, optionally per team, agent, channel, day...

        Args:
            start: Start of the range (conversations started at or after it).
            end: End of the range (excluded); now by default.
            days: Without ``start``: the range is this many days before ``end`` (7).
            team: Only conversations of this team (their team now).
            agent: Only this agent's part (see `metrics.metrics`).
            channel: Only conversations that used this channel.
            tag: Only conversations with this tag.
            language: Only conversations in this language.
            time_zone: The zone days, weeks and months are counted in.
            group_by: ``team``, ``agent``, ``channel``, ``language``, ``tag``,
                ``day``, ``week`` or ``month``.
            now: The moment abandonment and open SLA targets are judged at
                (now by default).

        Raises:
            InvalidInputError: A bad argument (unknown zone, start after end...).
        """
        where = self._filter(start, end, days, team, agent, channel, tag, language, time_zone)
        if group_by is not None and (not isinstance(group_by, str) or group_by not in _GROUPS):
            raise InvalidInputError(f"group_by takes one of {', '.join(_GROUPS)}", field="group_by")
        at = _moment(now)
        facts = await self.facts(where)
        caps = await self._capacities()
        totals = m.metrics(facts, now=at, settings=self.settings, agent=agent, capacities=caps)
        totals = await self._with_status(totals, where, at)
        groups: list[ReportGroup] = []
        if group_by == "agent":
            names = sorted(
                {s.agent_id for f in facts for s in f.segments}
                | {r.agent_id for f in facts for r in f.replies if r.agent_id}
            )
            if agent is not None:
                names = [n for n in names if n == agent]
            groups = [
                ReportGroup(
                    key=n,
                    metrics=m.metrics(
                        facts, now=at, settings=self.settings, agent=n, capacities=caps
                    ),
                )
                for n in names
            ]
        elif group_by is not None:
            zone = ZoneInfo(where.time_zone)
            buckets: dict[str, list[ConversationFact]] = defaultdict(list)
            for f in facts:
                for key in _keys(f, group_by, zone):
                    buckets[key].append(f)
            groups = [
                ReportGroup(
                    key=k,
                    metrics=m.metrics(
                        v, now=at, settings=self.settings, agent=agent, capacities=caps
                    ),
                )
                for k, v in sorted(buckets.items())
            ]
        return ServiceReport(
            filter=where, generated_at=at, group_by=group_by, totals=totals, groups=groups
        )

    async def heatmap(
        self,
        *,
        metric: Literal["started", "resolved"] = "started",
        start: datetime | None = None,
        end: datetime | None = None,
        days: int | None = None,
        team: str | None = None,
        agent: str | None = None,
        channel: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        time_zone: str = "UTC",
    ) -> Heatmap:
        """Busiest hours: weekday x hour counts of conversations started (or resolved)."""
        if metric not in ("started", "resolved"):
            raise InvalidInputError("metric takes started or resolved", field="metric")
        where = self._filter(start, end, days, team, agent, channel, tag, language, time_zone)
        stamps = await self._stamps(where)
        return m.heatmap_of_stamps(
            stamps, metric, ZoneInfo(where.time_zone), start=where.start, end=where.end
        )

    async def trend(
        self,
        *,
        period: Literal["day", "week", "month"] = "day",
        start: datetime | None = None,
        end: datetime | None = None,
        days: int | None = None,
        team: str | None = None,
        agent: str | None = None,
        channel: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        time_zone: str = "UTC",
    ) -> builtins.list[TrendPoint]:
        """Conversations, median first response and resolution, CSAT and sentiment per period."""
        if period not in _PERIODS:
            raise InvalidInputError("period takes day, week or month", field="period")
        where = self._filter(start, end, days, team, agent, channel, tag, language, time_zone)
        facts = await self.facts(where)
        return m.trend(
            facts, ZoneInfo(where.time_zone), period, now=utcnow(), settings=self.settings
        )

    async def mood(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        days: int | None = None,
        team: str | None = None,
        agent: str | None = None,
        channel: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        time_zone: str = "UTC",
    ) -> MoodReport:
        """Sentiment distribution and trend, moods that fell, complaints, intents, questions."""
        where = self._filter(start, end, days, team, agent, channel, tag, language, time_zone)
        facts = await self.facts(where)
        return m.mood(facts, ZoneInfo(where.time_zone), settings=self.settings)

    async def sla(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        days: int | None = None,
        team: str | None = None,
        channel: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        now: datetime | None = None,
    ) -> builtins.list[SLAResult]:
        """Compliance and breaches per SLA policy (`ChatKitSettings.sla_policies`)."""
        where = self._filter(start, end, days, team, None, channel, tag, language, "UTC")
        facts = await self.facts(where)
        return m.sla(facts, self._core.settings.sla_policies, now=_moment(now))

    async def staffing(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        days: int | None = None,
        team: str | None = None,
        channel: str | None = None,
        time_zone: str = "UTC",
    ) -> StaffingReport:
        """Agents needed each weekday-hour (Erlang C) beside the agents planned then.

        Demand is the arrivals and handle times observed in the range;
        targets are `ReportSettings.service_level`, `target_wait` and
        `concurrency`. Planned agents are those (of ``team``, when given)
        whose shift covers the hour; without any shifts, the team's agents
        while its business hours are open.
        """
        where = self._filter(start, end, days or 28, team, None, channel, None, None, time_zone)
        facts = await self.facts(where)
        zone = ZoneInfo(where.time_zone)
        planned = await self._planned(team, zone, where.end)
        return m.staffing(
            facts, zone, start=where.start, end=where.end, settings=self.settings, planned=planned
        )

    async def _planned(
        self, team: str | None, zone: ZoneInfo, end: datetime
    ) -> Callable[[int, int], int | None]:
        store = await self._core.ready()
        agents = [a for a in await store.find(Agent) if team is None or team in a.teams]
        hours = None
        if team is not None:
            found = await store.find(Team, {"name": team}, limit=1)
            hours = found[0].hours if found else None
        shifted = [a for a in agents if a.shift is not None]
        # a reference week: the seven days before the end of the range
        base = end.astimezone(zone).date() - timedelta(days=7)
        monday = base - timedelta(days=base.weekday())

        def instant(weekday: int, hour: int) -> datetime:
            day: date = monday + timedelta(days=weekday)
            return datetime(day.year, day.month, day.day, hour, 30, tzinfo=zone)

        def planned(weekday: int, hour: int) -> int | None:
            at = instant(weekday, hour)
            if shifted:
                return sum(1 for a in shifted if a.shift is not None and a.shift.is_open(at))
            if hours is not None and agents:
                return len(agents) if hours.is_open(at) else 0
            return None

        return planned

    async def export(
        self,
        path: str,
        *,
        kind: Literal["conversations", "replies"] = "conversations",
        format: Literal["csv", "parquet"] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        days: int | None = None,
        team: str | None = None,
        agent: str | None = None,
        channel: str | None = None,
        tag: str | None = None,
        language: str | None = None,
    ) -> int:
        """Write the facts of a range to a CSV or Parquet file (Parquet needs ``chatkit[reports]``).

        One row per conversation (``kind="conversations"``) or per public
        agent reply (``"replies"``), flat columns, durations in seconds.
        The format follows the file's suffix unless given.

        Returns:
            The number of rows written.
        """
        from .exports import write_rows

        where = self._filter(start, end, days, team, agent, channel, tag, language, "UTC")
        facts = await self.facts(where)
        return await write_rows(path, facts, kind=kind, format=format)


def _keys(f: ConversationFact, group_by: str, zone: ZoneInfo) -> list[str]:
    if group_by == "team":
        return [f.team or "none"]
    if group_by == "channel":
        return [f.channel or "unknown"]
    if group_by == "language":
        return [f.language or "unknown"]
    if group_by == "tag":
        return list(f.tags) or ["untagged"]
    return [m.period_of(f.started_at, zone, group_by).isoformat()]
