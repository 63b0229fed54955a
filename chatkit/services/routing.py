"""Putting each conversation in front of the right agent, or in line for one."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import itertools
import math
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..errors import (
    AgentAtCapacityError,
    AlreadyClaimedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from ..escalation import EscalationRule
from ..events import ConversationAssigned, ConversationEscalated, ConversationQueued, Event
from ..models import (
    Agent,
    AgentStatus,
    Author,
    Contact,
    Conversation,
    ConversationStatus,
    IdentityKind,
    MessageKind,
    Page,
    Team,
    Ticket,
)
from ..models._base import utcnow
from ..models.agents import routing_list
from ..models.contacts import normalize_identity
from ..routing import RoutingContext, RoutingStrategy, strategies
from ..stores.base import Gt, In, Lt, Update
from ._core import Core, bump, check_limit
from .autoreplies import AutoReplies
from .contacts import Service, check_key
from .conversations import Conversations
from .messages import Messages
from .teams import Teams
from .tickets import Tickets
from .workload import workload_changes

__all__ = ["Escalation", "Routing", "RoutingResult"]

_HISTORY = 20
"""Resolved conversations of a team that the expected wait is computed from."""
_PRIOR = 5
"""How many conversations' weight `ChatKitSettings.default_handle_time` has in that estimate."""
_PREVIOUS = 20
"""Earlier conversations of a customer read for strategies that use history (sticky)."""
_PAGES = (4, 16, 64)
"""Available agents read per step when a strategy follows a store order: the
first candidate usually takes it, so the first read is short; later ones grow."""
_CAPACITY_TTL = 5.0
"""Seconds a team's chat capacity (for the expected wait) is reused before it is summed again."""


@dataclass(frozen=True)
class Escalation:
    """One escalation rule that fired for one conversation.

    Attributes:
        rule: The rule's name.
        conversation: The conversation after the rule's actions.
        reason: Why it fired (e.g. ``"waiting 75 s, VIP customer"``).
        actions: What was done (see `ConversationEscalated.actions`).
    """

    rule: str
    conversation: Conversation
    reason: str
    actions: list[str]


@dataclass(frozen=True)
class RoutingResult:
    """What happened to a conversation that was routed.

    Attributes:
        conversation: The conversation as it is now.
        agent_id: The agent who got it, or ``None`` when it waits.
        queued: Whether it waits in its team's queue.
        position: Its place in that queue, 1 for next (``None`` when assigned).
        expected_wait: How long it will probably wait, from the team's recent
            handling times, its position and the team's capacity.
        open_now: Whether the team is within business hours.
        opens_at: When a closed team opens next (tell the customer, in their zone).
    """

    conversation: Conversation
    agent_id: str | None
    queued: bool
    position: int | None = None
    expected_wait: timedelta | None = None
    open_now: bool = True
    opens_at: datetime | None = None


def _speaks(agent: Agent, language: str | None) -> bool:
    if language is None or not agent.languages:
        return True
    base = language.lower().split("-")[0]
    return any(known.lower().split("-")[0] == base for known in agent.languages)


def _skilled(agent: Agent, topic: str | None) -> bool:
    return topic is None or topic.lower() in (s.lower() for s in agent.skills)


class Routing(Service):
    """Routes conversations to agents and keeps the queues.

    `route` narrows the agents to those who can help (available, in the
    conversation's team, speaking its language, skilled in its topic, or at
    least in a team that handles the topic), orders them with a
    `chatkit.routing.RoutingStrategy` and claims the conversation for the
    first that can take it. When nobody can, the conversation waits in its
    team's queue (higher priority first, then longest waiting) and the
    customer can be told their place and expected wait. When an agent frees
    up, `next_for` gives them the first waiting conversation they can serve.

    Example:
        ```python
        result = await kit.routing.route(conv.id, topic="orders & billing", language="tr")
        if result.queued:
            print(f"You are number {result.position}; about {result.expected_wait} to wait")
        ```
    """

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._capacities: dict[str | None, tuple[float, int]] = {}

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

    async def candidates(
        self,
        conversation_id: str,
        *,
        team: str | None = None,
        topic: str | None = None,
        language: str | None = None,
        strategy: str | RoutingStrategy | None = None,
        limit: int = 5,
    ) -> builtins.list[Agent]:
        """Who `route` would offer the conversation to now, best first, without assigning it.

        Takes the same arguments as `route` and changes nothing: for an
        agent console's "suggested agents", or to see why a conversation
        would wait (an empty list). Business hours are not applied.

        Raises:
            NotFoundError: No such conversation, or no such team.
            InvalidInputError: Bad argument; the conversation is closed.
        """
        check_limit(limit)
        ranker = self._strategy(strategy)
        conversation, chosen, fields = await self._target(conversation_id, team, topic, language)
        target = conversation.model_copy(update=fields)
        found: builtins.list[Agent] = []
        async for ranked in self._ranked(target, chosen, ranker, utcnow()):
            found += ranked[: limit - len(found)]
            if len(found) >= limit:
                break
        return found

    async def _target(
        self,
        conversation_id: str,
        team: str | None,
        topic: str | None,
        language: str | None,
    ) -> tuple[Conversation, Team | None, dict[str, str | None]]:
        """The open conversation, its team, and the fields it is routed with.

        The fields are its ``team`` (``None`` when no team was given, set or
        found for the topic), ``topic`` and ``language``.
        """
        check_key(conversation_id, "conversation_id")
        for value, field in ((topic, "topic"), (language, "language"), (team, "team")):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InvalidInputError(f"{field} must be a non-empty string", field=field)
        teams = Teams(self._core)
        chosen = await teams.get(team) if team is not None else None
        conversation = await self._load(Conversation, conversation_id, "conversation")
        if conversation.assignee_id is not None:
            return conversation, chosen, {}
        if conversation.status is not ConversationStatus.OPEN:
            raise InvalidInputError(
                f"only open conversations are routed; {conversation.id} is "
                f"{conversation.status.value}",
                field="conversation_id",
            )
        topic = topic.strip().lower() if topic else conversation.topic
        if chosen is None and conversation.team is not None:
            chosen = await teams.get(conversation.team)
        if chosen is None and topic is not None:
            matches = await teams.for_topic(topic)
            chosen = matches[0] if matches else None
        if chosen is None and topic is None and conversation.intent is not None:
            category = self._core.settings.understanding.intent_topics.get(conversation.intent)
            matches = await teams.for_topic(category) if category else []
            if matches:  # the team that handles what the customer asked about
                chosen, topic = matches[0], category
        fields = {
            "team": chosen.name if chosen else None,
            "topic": topic,
            "language": language.strip() if language else conversation.language,
        }
        return conversation, chosen, fields

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
        try:
            number = normalize_identity(IdentityKind.PHONE, phone)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"not a phone number: {phone!r}", field="phone") from exc
        for value, field in ((window_start, "window_start"), (window_end, "window_end")):
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise InvalidInputError(f"{field} must be a timezone-aware datetime", field=field)
        if window_end <= window_start or window_end <= utcnow():
            raise InvalidInputError(
                "the call-back window must end after it starts, in the future",
                field="window_end",
            )
        conversation = await self._load(Conversation, conversation_id, "conversation")
        start = window_start.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
        end = window_end.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
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

    async def set_mood(self, conversation_id: str, mood: float) -> Conversation:
        """Record the customer's mood, -1 (angry) to 1 (happy), for escalation rules.

        The hook for whatever measures sentiment (the built-in analyser or
        your own). Escalation rules with ``mood_below`` use the latest value.
        """
        if isinstance(mood, bool) or not isinstance(mood, (int, float)) or not -1 <= mood <= 1:
            raise InvalidInputError("mood is a number from -1 to 1", field="mood")

        async def attempt() -> Conversation:
            conversation = await self._load(Conversation, conversation_id, "conversation")
            if conversation.mood == mood:
                return conversation
            updated = bump(conversation, mood=float(mood))
            await self._core.commit([Update(updated)])
            return updated

        return await self._core.retry(attempt)

    async def escalate(self, *, now: datetime | None = None) -> builtins.list[Escalation]:
        """Apply the escalation matrix (`ChatKitSettings.escalation_rules`) to open conversations.

        Run it periodically (every few seconds) from one or more processes:
        each rule fires once per conversation, with a version-checked write,
        so two processes never escalate the same thing twice.

        Returns:
            What fired, in order.
        """
        rules = self._core.settings.escalation_rules
        if not rules:
            return []
        now = now or utcnow()
        if now.utcoffset() is None:
            raise InvalidInputError("now must be timezone-aware", field="now")
        store = await self._core.ready()
        fired: builtins.list[Escalation] = []
        cursor = ""
        while True:
            where: dict[str, object] = {"status": ConversationStatus.OPEN}
            if cursor:
                where["id"] = Gt(cursor)
            batch = await store.find(Conversation, where, limit=200)
            if not batch:
                return fired
            for conversation in batch:
                for rule in rules:
                    if rule.name in conversation.escalations:
                        continue
                    done = await self._escalate_one(conversation.id, rule, now)
                    if done is not None:
                        fired.append(done)
            cursor = batch[-1].id

    async def _escalate_one(
        self, conversation_id: str, rule: EscalationRule, now: datetime
    ) -> Escalation | None:
        async def attempt() -> Escalation | None:
            store = await self._core.ready()
            conversation = await store.get(Conversation, conversation_id)
            if conversation is None or rule.name in conversation.escalations:
                return None
            contact = await store.get(Contact, conversation.contact_id)
            if contact is None:
                return None
            reasons = rule.reasons(conversation, contact, now)
            if not reasons:
                return None
            actions: builtins.list[str] = []
            fields: dict[str, object] = {"escalations": [*conversation.escalations, rule.name]}
            target = rule.raise_priority_to
            if target is not None and target.rank > conversation.priority.rank:
                fields["priority"] = target
                actions.append(f"priority:{target.value}")
            if rule.move_to_team is not None:
                team = await Teams(self._core).get(rule.move_to_team)
                fields.update(
                    team=team.name, assignee_id=None, queued_at=conversation.queued_at or now
                )
                actions.append(f"team:{team.name}")
            supervisor = await self._supervisor(rule.reassign_to)
            if supervisor is not None:
                fields["assignee_id"] = supervisor
                actions.append(f"reassigned:{supervisor}")
            updated = bump(conversation, **fields)
            load, updated, unassigned = await workload_changes(
                self._core, conversation, updated, enforce=False
            )
            if supervisor is not None and updated.assignee_id != supervisor:
                actions.remove(f"reassigned:{supervisor}")  # the supervisor is full
                updated = updated.model_copy(update={"assignee_id": conversation.assignee_id})
                load, updated, unassigned = await workload_changes(
                    self._core, conversation, updated, enforce=False
                )
            if rule.mode is not None:
                actions.append(f"mode:{rule.mode}")
            event = ConversationEscalated(
                conversation_id=conversation.id,
                contact_id=conversation.contact_id,
                rule=rule.name,
                reason=", ".join(reasons),
                actions=actions,
            )
            await self._core.commit([Update(updated), *load], [*unassigned, event])
            return Escalation(
                rule=rule.name, conversation=updated, reason=event.reason, actions=actions
            )

        done = await self._core.retry(attempt)
        if done is not None and rule.mode == "ticket":
            ticket = await Tickets(self._core).create(
                subject=f"Escalated ({rule.name}): {done.reason}",
                conversation_id=conversation_id,
                priority=done.conversation.priority,
            )
            done = dataclasses.replace(done, actions=[*done.actions, f"ticket:{ticket.id}"])
        return done

    # -- internals -------------------------------------------------------------

    async def _supervisor(self, reference: str | None) -> str | None:
        """The agent id an escalation reassigns to: given as an id or an e-mail address."""
        if reference is None:
            return None
        if "@" not in reference:
            return (await self._load(Agent, reference, "agent")).id
        store = await self._core.ready()
        found = await store.find(Agent, {"email": reference.strip().lower()}, limit=1)
        if not found:
            raise NotFoundError("agent", reference)
        return found[0].id

    def _strategy(self, strategy: str | RoutingStrategy | None) -> RoutingStrategy:
        if isinstance(strategy, RoutingStrategy):
            return strategy
        name = strategy if strategy is not None else self._core.settings.routing_strategy
        if not isinstance(name, str):
            raise InvalidInputError(
                "strategy must be a name or a RoutingStrategy", field="strategy"
            )
        return strategies.load(name)()

    async def _categories(self, team_names: Sequence[str]) -> set[str]:
        store = await self._core.ready()
        teams = await store.find(Team, {"name": In(list(team_names))}) if team_names else []
        return {c for t in teams for c in t.categories}

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
        async for ranked in self._ranked(target, team, ranker, now):
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
                            await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
        return None

    async def _ranked(
        self,
        conversation: Conversation,
        team: Team | None,
        ranker: RoutingStrategy,
        now: datetime,
    ) -> AsyncIterator[list[Agent]]:
        """The agents who could take ``conversation``, best first, a page at a time.

        Agents skilled in the topic come first; when the topic is one of the
        team's categories (or there is no topic) the rest of the team follows.
        """
        store = await self._core.ready()
        topic = conversation.topic
        team_name = team.name if team is not None else None
        whole_team = topic is None or (team is not None and topic in team.categories)
        context = RoutingContext(now=now)
        if ranker.uses_history:  # one more read, only for strategies that look at it
            previous = await store.find(
                Conversation,
                {"contact_id": conversation.contact_id},
                order_by="activity_key",
                descending=True,
                limit=_PREVIOUS,
            )
            context = RoutingContext(
                now=now,
                previous_agent_ids=[c.assignee_id for c in previous if c.assignee_id],
            )

        def fits(agent: Agent, *, skilled: bool) -> bool:
            return (
                agent.status is AgentStatus.AVAILABLE
                and (team_name is None or team_name in agent.teams)
                and _speaks(agent, conversation.language)
                and (not skilled or _skilled(agent, topic))
            )

        if ranker.order is None:  # the strategy wants every candidate at once
            available = await store.find(Agent, {"status": AgentStatus.AVAILABLE})
            candidates = [a for a in available if fits(a, skilled=True)]
            if not candidates and whole_team:
                candidates = [a for a in available if fits(a, skilled=False)]
            if candidates:
                yield ranker.rank(conversation, candidates, context)
            return
        lists = [(routing_list(ranker.order, team_name, topic), True)] if topic else []
        if whole_team:
            lists.append((routing_list(ranker.order, team_name), False))
        known: list[Agent] = []
        for agent_id in dict.fromkeys(context.previous_agent_ids):
            agent = await store.get(Agent, agent_id)
            if agent is not None and fits(agent, skilled=not whole_team):
                known.append(agent)
        seen = {a.id for a in known}
        for name, skilled in lists:
            after: str | None = None
            for step in itertools.count():
                size = _PAGES[min(step, len(_PAGES) - 1)]
                page = await store.find_listed(Agent, name, after=after, limit=size)
                fresh = [a for a in page if a.id not in seen and fits(a, skilled=skilled)]
                seen.update(a.id for a in page)
                if known or fresh:
                    yield ranker.rank(conversation, [*known, *fresh], context)
                    known = []
                if len(page) < size:
                    break
                after = dict(page[-1].list_entries())[name]

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
