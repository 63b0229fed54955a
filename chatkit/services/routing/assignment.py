"""Giving a conversation to an agent: `route` (or the queue when nobody can) and `transfer`."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import datetime

from ...errors import (
    AgentAtCapacityError,
    ConflictError,
    InvalidInputError,
)
from ...events import ConversationAssigned
from ...models import (
    Agent,
    Author,
    Conversation,
    ConversationStatus,
    MessageKind,
    Team,
)
from ...models._base import utcnow
from ...routing import RoutingStrategy
from ...stores.base import Update
from .._core import bump
from ..autoreplies import AutoReplies
from ..conversations import Conversations
from ..messages import Messages
from ..teams import Teams
from ..workload import workload_changes
from .queue import Queues
from .results import RoutingResult

__all__ = ["Assignment"]


class Assignment(Queues):
    """The assignment part of `Routing`: route, claim for the best candidate, transfer."""

    async def route(
        self,
        conversation_id: str,
        *,
        team: str | None = None,
        topic: str | None = None,
        language: str | None = None,
        strategy: str | RoutingStrategy | None = None,
    ) -> RoutingResult:
        """Assign the conversation to the best available agent, or queue it.

        Args:
            conversation_id: The conversation.
            team: The team to route to; without it, the conversation's team
                or the first team (by name) whose categories include ``topic``.
            topic: What it is about (a category or skill).
            language: The customer's language (``"tr"``, ``"ko"``, ``"en-US"``).
            strategy: A built-in or installed strategy name, or an instance.

        Raises:
            NotFoundError: No such conversation, or no such team.
            InvalidInputError: Bad argument; the conversation is closed.
        """
        ranker = self._strategy(strategy)
        conversation, chosen, fields = await self._target(conversation_id, team, topic, language)
        if conversation.assignee_id is not None:
            return RoutingResult(conversation, conversation.assignee_id, queued=False)
        now = utcnow()
        if chosen is None or chosen.hours is None or chosen.hours.is_open(now):
            won = await self._assign(conversation, fields, chosen, ranker, now)
            if won is not None:
                return RoutingResult(won, won.assignee_id, queued=won.waiting)
            conversation = await self._load(Conversation, conversation_id, "conversation")
            if conversation.assignee_id is not None:  # someone else routed it meanwhile
                return RoutingResult(conversation, conversation.assignee_id, queued=False)
            conversation = await self._enqueue(conversation, fields)
            waiting = await self._waiting(conversation, chosen, open_now=True, opens_at=None)
        else:
            conversation = await self._enqueue(conversation, fields)
            waiting = await self._waiting(
                conversation, chosen, open_now=False, opens_at=chosen.hours.next_open(now)
            )
        await AutoReplies(self._core).routed(waiting, chosen)
        return waiting

    async def _assign(
        self,
        conversation: Conversation,
        fields: dict[str, str | None],
        team: Team | None,
        ranker: RoutingStrategy,
        now: datetime,
    ) -> Conversation | None:
        """Give the conversation to the best candidate who can take it, in one commit.

        The commit records the routing fields (and the ``conversation.queued``
        event: the wait starts and ends at once) with the assignment and the
        agent's new load. Returns ``None`` when nobody could take it, or the
        conversation as someone else routed (or closed) it meanwhile.
        """
        target = conversation.model_copy(update=fields)
        retries = self._core.settings.conflict_retries
        async with contextlib.aclosing(self._ranked(target, team, ranker, now)) as pages:
            async for ranked in pages:
                for agent in ranked:
                    for attempt in range(retries + 1):
                        events = self._queued(conversation, fields)[1]
                        claimed = bump(
                            conversation,
                            assignee_id=agent.id,
                            queued_at=conversation.queued_at or now,
                            **fields,
                        )
                        events.append(
                            ConversationAssigned(
                                conversation_id=conversation.id,
                                contact_id=conversation.contact_id,
                                assignee_id=agent.id,
                                previous_assignee_id=None,
                                team=claimed.team,
                                previous_team=conversation.team,
                            )
                        )
                        try:
                            load, claimed, more = await workload_changes(
                                self._core, conversation, claimed, enforce=True
                            )
                            await self._core.commit([Update(claimed), *load], [*events, *more])
                            return claimed
                        except AgentAtCapacityError:
                            break  # full by now: the next candidate
                        except ConflictError:
                            # The conversation or the agent changed meanwhile: try
                            # again from the stored conversation (the agent is
                            # read afresh), unless someone routed or closed it.
                            fresh = await self._load(Conversation, conversation.id, "conversation")
                            if (
                                fresh.assignee_id is not None
                                or fresh.status is not ConversationStatus.OPEN
                            ):
                                return fresh
                            conversation = fresh
                            if attempt < retries:
                                await asyncio.sleep(
                                    random.uniform(0, min(0.05, 0.001 * 2**attempt))
                                )
        return None

    async def transfer(
        self,
        conversation_id: str,
        *,
        to_agent: str | None = None,
        to_team: str | None = None,
        note: str | None = None,
        by_agent: str | None = None,
    ) -> RoutingResult:
        """Hand a conversation to another agent, or to another team's queue.

        The history, notes and tags stay with the conversation, so whoever
        picks it up has the full context (`Conversations.context`). A
        ``note`` is added as a private note (by ``by_agent``, or as a system
        entry) so the next agent knows why it came to them.

        With ``to_agent`` the agent gets it at once (within their capacity,
        whatever their status). With ``to_team`` it leaves its current agent
        and is routed in the new team: to an available agent there, or into
        that team's queue.

        Raises:
            InvalidInputError: Neither or both targets, or a closed conversation.
            NotFoundError: No such conversation, agent or team.
            AgentAtCapacityError: ``to_agent`` is full; nothing changed.
        """
        if (to_agent is None) == (to_team is None):
            raise InvalidInputError("transfer to an agent or to a team", field="to_agent")
        if note is not None and (not isinstance(note, str) or not note.strip()):
            raise InvalidInputError("note must be non-empty text", field="note")
        conversations = Conversations(self._core)
        current = await conversations.get(conversation_id)
        if current.status is ConversationStatus.CLOSED:
            raise InvalidInputError(f"{conversation_id} is closed", field="conversation_id")
        if by_agent is not None:
            await self._load(Agent, by_agent, "agent")
        if to_team is not None:
            team = await Teams(self._core).get(to_team)
            if current.assignee_id is not None or current.team != team.name:
                await conversations.assign(conversation_id, None, team=team.name)
            await self._transfer_note(conversation_id, note, by_agent)
            return await self.route(conversation_id, team=team.name)
        assert to_agent is not None
        moved = await conversations.assign(conversation_id, to_agent)
        await self._transfer_note(conversation_id, note, by_agent)
        return RoutingResult(moved, moved.assignee_id, queued=False)

    async def _transfer_note(
        self, conversation_id: str, note: str | None, by_agent: str | None
    ) -> None:
        if note is None:
            return
        messages = Messages(self._core)
        if by_agent is not None:
            await messages.note(conversation_id, f"Transfer: {note}", agent_id=by_agent)
        else:
            await messages.send(
                conversation_id,
                f"Transfer: {note}",
                author=Author.system(),
                kind=MessageKind.SYSTEM,
            )
        return
