"""Conversations waiting for an agent: the queues, places and expected waits, call-backs."""

from __future__ import annotations

import builtins
import math
import time
from datetime import UTC, datetime, timedelta

from ...errors import (
    AgentAtCapacityError,
    AlreadyClaimedError,
    InvalidInputError,
    NotFoundError,
    quoted,
)
from ...events import ConversationQueued, Event
from ...models import (
    Agent,
    AgentStatus,
    Conversation,
    ConversationStatus,
    IdentityKind,
    Page,
    Team,
    Ticket,
)
from ...models._base import utcnow
from ...models.contacts import normalize_identity
from ...routing import RoutingStrategy
from ...stores.base import Gt, In, Lt, Update
from .._core import Core, bump, check_limit
from ..conversations import Conversations
from ..teams import Teams
from ..tickets import Tickets
from .candidates import Candidates, _skilled, _speaks
from .results import RoutingResult

__all__ = ["Queues"]

_HISTORY = 20
"""Resolved conversations of a team that the expected wait is computed from."""
_PRIOR = 5
"""How many conversations' weight `ChatKitSettings.default_handle_time` has in that estimate."""
_CAPACITY_TTL = 5.0
"""Seconds a team's chat capacity (for the expected wait) is reused before it is summed again."""


class Queues(Candidates):
    """The queue part of `Routing`: who waits, in what order, for how long."""

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._capacities: dict[str | None, tuple[float, int]] = {}

    async def queue(
        self, *, team: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Conversation]:
        """Conversations waiting for an agent of ``team`` (all teams when omitted), next first."""
        check_limit(limit)
        where: dict[str, object] = {"queue_key": Gt("")}
        if team is not None:
            where["team"] = (await Teams(self._core).get(team)).name
        return await self._core.paged(
            Conversation, where, order_by="queue_key", limit=limit, cursor=cursor
        )

    async def queue_position(self, conversation_id: str) -> RoutingResult:
        """Where a conversation waits now: its place in its team's queue and the expected wait.

        The same figures `route` gives when it queues a conversation, read
        again at any time (for a "you are number 3, about 4 minutes" line
        that stays true). A conversation that is not waiting (assigned, not
        routed yet, or closed) has ``queued=False`` and ``agent_id`` set when
        someone has it. When the team is outside its business hours,
        ``open_now`` is false and the wait counts from ``opens_at``.

        Example:
            ```python
            place = await kit.routing.queue_position(conversation_id)
            if place.queued:
                print(f"You are number {place.position}; about {place.expected_wait} to wait")
            ```

        Raises:
            NotFoundError: No such conversation.
        """
        conversation = await self._load(Conversation, conversation_id, "conversation")
        if conversation.queue_key is None:
            return RoutingResult(conversation, conversation.assignee_id, queued=False)
        team: Team | None = None
        if conversation.team is not None:
            try:
                team = await Teams(self._core).get(conversation.team)
            except NotFoundError:  # the team was deleted while the conversation waited
                team = None
        now = utcnow()
        hours = team.hours if team is not None else None
        if hours is None or hours.is_open(now):
            return await self._waiting(conversation, team, open_now=True, opens_at=None)
        opens_at = hours.next_open(now)
        return await self._waiting(conversation, team, open_now=False, opens_at=opens_at)

    async def next_for(
        self, agent_id: str, *, strategy: str | RoutingStrategy | None = None
    ) -> Conversation | None:
        """Give an agent who has room the first waiting conversation they can serve.

        Looks at the queues of the agent's teams (and the team-less queue),
        highest priority and longest waiting first, skipping conversations
        whose language or topic the agent does not cover. Call it when an
        agent becomes available, e.g. from a dispatcher on
        ``agent.status_changed``.

        Returns:
            The conversation now assigned to the agent, or ``None``.
        """
        agent = await self._load(Agent, agent_id, "agent")
        if agent.status is not AgentStatus.AVAILABLE:
            return None
        store = await self._core.ready()
        teams: list[str | None] = [*agent.teams, None]
        waiting: list[Conversation] = []
        for name in teams:
            waiting += await store.find(
                Conversation,
                {"team": name, "queue_key": Gt("")},
                order_by="queue_key",
                limit=50,
            )
        waiting.sort(key=lambda c: c.queue_key or "")
        categories = await self._categories(agent.teams)
        for conversation in waiting:
            if not _speaks(agent, conversation.language):
                continue
            if not (_skilled(agent, conversation.topic) or conversation.topic in categories):
                continue
            try:
                return await Conversations(self._core).claim(conversation.id, agent.id)
            except AlreadyClaimedError:
                continue
            except AgentAtCapacityError:
                return None
        return None

    async def request_callback(
        self,
        conversation_id: str,
        phone: str,
        *,
        window_start: datetime,
        window_end: datetime,
        note: str | None = None,
    ) -> Ticket:
        """The customer asks to be called back: a task lands in the conversation's team queue.

        Creates a ticket from the conversation (so the agent who calls has
        the whole history), in the conversation's team, due at the end of the
        window, with the number and the window in its first note.

        Raises:
            InvalidInputError: Not a phone number; a window that is not
                timezone-aware, ends before it starts, or is already over.
            NotFoundError: No such conversation.
        """
        if not isinstance(phone, str):
            raise InvalidInputError("phone must be a string", field="phone")
        if note is not None and not isinstance(note, str):
            raise InvalidInputError("note must be a string", field="note")
        try:
            number = normalize_identity(IdentityKind.PHONE, phone)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"not a phone number: {quoted(phone)}", field="phone") from exc
        for value, field in ((window_start, "window_start"), (window_end, "window_end")):
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise InvalidInputError(f"{field} must be a timezone-aware datetime", field=field)
        if window_end <= window_start or window_end <= utcnow():
            raise InvalidInputError(
                "the call-back window must end after it starts, in the future",
                field="window_end",
            )
        conversation = await self._load(Conversation, conversation_id, "conversation")
        start = window_start.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        end = window_end.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        text = f"Call {number} between {start} and {end} UTC."
        if note is not None:
            text += f" {note}"
        return await Tickets(self._core).create(
            subject=f"Call back {number}",
            conversation_id=conversation.id,
            due_at=window_end,
            note=text,
            team=conversation.team,
        )

    @staticmethod
    def _queued(
        conversation: Conversation, fields: dict[str, str | None]
    ) -> tuple[Conversation, builtins.list[Event]]:
        """The conversation with the fields `_target` chose, waiting since now if it was not."""
        if conversation.queued_at is not None and all(
            getattr(conversation, k) == v for k, v in fields.items()
        ):
            return conversation, []
        updated = bump(conversation, queued_at=conversation.queued_at or utcnow(), **fields)
        event = ConversationQueued(
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            team=fields["team"],
            topic=fields["topic"],
            language=fields["language"],
        )
        return updated, [event]

    async def _enqueue(
        self, conversation: Conversation, fields: dict[str, str | None]
    ) -> Conversation:
        """Write the team, topic and language `_target` chose; the wait starts now."""
        updated, events = self._queued(conversation, fields)
        if events:
            await self._core.commit([Update(updated)], events)
        return updated

    async def _waiting(
        self,
        conversation: Conversation,
        team: Team | None,
        *,
        open_now: bool,
        opens_at: datetime | None,
    ) -> RoutingResult:
        store = await self._core.ready()
        key = conversation.queue_key
        if key is None:  # assigned or closed meanwhile
            fresh = await self._load(Conversation, conversation.id, "conversation")
            return RoutingResult(fresh, fresh.assignee_id, queued=False)
        ahead = await store.count(Conversation, {"team": conversation.team, "queue_key": Lt(key)})
        position = ahead + 1
        wait = await self._expected_wait(conversation.team, position)
        if opens_at is not None:
            wait = (opens_at - utcnow()) + wait
        return RoutingResult(
            conversation,
            None,
            queued=True,
            position=position,
            expected_wait=wait,
            open_now=open_now,
            opens_at=opens_at,
        )

    async def _expected_wait(self, team: str | None, position: int) -> timedelta:
        """Position over capacity, times the team's recent handling time."""
        store = await self._core.ready()
        recent = await store.find(
            Conversation,
            {"team": team, "status": In([ConversationStatus.RESOLVED, ConversationStatus.CLOSED])},
            order_by="activity_key",
            descending=True,
            limit=_HISTORY,
        )
        spans = [
            (c.resolved_at - (c.queued_at or c.created_at)).total_seconds()
            for c in recent
            if c.resolved_at is not None
        ]
        # The default counts as _PRIOR conversations, so that a team's first
        # few (maybe unusually quick) chats move the estimate only gradually.
        default = self._core.settings.default_handle_time
        handle = (default * _PRIOR + sum(spans)) / (_PRIOR + len(spans))
        rounds = math.ceil(position / max(1, await self._capacity(team)))
        return timedelta(seconds=rounds * handle)

    async def _capacity(self, team: str | None) -> int:
        """How many chats the team's available and busy agents can hold at once.

        Summed over every such agent, so it is kept for `_CAPACITY_TTL`
        seconds: an estimate of the wait does not need it to the second.
        """
        cached = self._capacities.get(team)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        store = await self._core.ready()
        agents = await store.find(Agent, {"status": In([AgentStatus.AVAILABLE, AgentStatus.BUSY])})
        capacity = sum(a.max_concurrent_chats for a in agents if team is None or team in a.teams)
        self._capacities[team] = (time.monotonic() + _CAPACITY_TTL, capacity)
        return capacity
