"""The routing decision: who could take a conversation, best first.

The team, topic and language a conversation is routed with (`Candidates._target`),
the strategy that orders the agents, and the agents who fit, read from the
store's routing lists a page at a time (`Candidates._ranked`).
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime

from ...errors import (
    InvalidInputError,
)
from ...models import (
    Agent,
    AgentStatus,
    Conversation,
    ConversationStatus,
    Team,
)
from ...models._base import utcnow
from ...models.agents import base_language, routing_list
from ...routing import RoutingContext, RoutingStrategy, strategies
from ...stores.base import In
from .._core import check_limit
from ..contacts import Service, check_key
from ..teams import Teams

__all__ = ["Candidates"]

_PREVIOUS = 20
"""Earlier conversations of a customer read for strategies that use history (sticky)."""
_PAGES = (4, 16, 64)
"""Available agents read per step when a strategy follows a store order: the
first candidate usually takes it, so the first read is short; later ones grow."""


def _speaks(agent: Agent, language: str | None) -> bool:
    if language is None or not agent.languages:
        return True
    base = language.lower().split("-")[0]
    return any(known.lower().split("-")[0] == base for known in agent.languages)


def _skilled(agent: Agent, topic: str | None) -> bool:
    return topic is None or topic.lower() in (s.lower() for s in agent.skills)


class Candidates(Service):
    """The decision part of `Routing`: the routing target and its candidates."""

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
        async with contextlib.aclosing(self._ranked(target, chosen, ranker, utcnow())) as pages:
            async for ranked in pages:
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

    async def _speakers(self, order: str, team: str | None, language: str | None) -> str | None:
        """The routing list of the team's speakers of ``language``, when it can be used.

        It can when the conversation has a language and every available
        agent of the team lists the languages they speak: someone who lists
        none serves any language and is in no language list.
        """
        if language is None:
            return None
        store = await self._core.ready()
        if await store.find_listed(Agent, routing_list(order, team, language="*"), limit=1):
            return None
        return routing_list(order, team, language=base_language(language))

    async def _ranked(
        self,
        conversation: Conversation,
        team: Team | None,
        ranker: RoutingStrategy,
        now: datetime,
    ) -> AsyncGenerator[list[Agent], None]:
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
        order = ranker.order
        speakers = await self._speakers(order, team_name, conversation.language)
        # Each pass is a run of segments (list, skill required, first page only,
        # continue after where the pass's first segment stopped). With a list
        # of the language's speakers, the skilled pass reads one page of the
        # skill's list, then goes on in the speakers' list (the rarer filter
        # is then the skill, not the language); the last segment of a pass
        # covers agents stored before language lists existed.
        passes: list[list[tuple[str, bool, bool, bool]]] = []
        if topic:
            skill = routing_list(order, team_name, topic)
            if speakers is None:
                passes.append([(skill, True, False, False)])
            else:
                passes.append(
                    [
                        (skill, True, True, False),
                        (speakers, True, False, True),
                        (skill, True, False, True),
                    ]
                )
        if whole_team:
            everyone = routing_list(order, team_name)
            if speakers is None:
                passes.append([(everyone, False, False, False)])
            else:
                passes.append([(speakers, False, False, False), (everyone, False, False, False)])
        known: list[Agent] = []
        for agent_id in dict.fromkeys(context.previous_agent_ids):
            agent = await store.get(Agent, agent_id)
            if agent is not None and fits(agent, skilled=not whole_team):
                known.append(agent)
        seen = {a.id for a in known}
        for segments in passes:
            resume: str | None = None
            for position, (name, skilled, first_page_only, resumes) in enumerate(segments):
                after = resume if resumes else None
                exhausted = False
                for step in itertools.count():
                    size = _PAGES[min(step, len(_PAGES) - 1)]
                    page = await store.find_listed(Agent, name, after=after, limit=size)
                    fresh = [a for a in page if a.id not in seen and fits(a, skilled=skilled)]
                    seen.update(a.id for a in page)
                    if known or fresh:
                        yield ranker.rank(conversation, [*known, *fresh], context)
                        known = []
                    if len(page) < size:
                        exhausted = True
                        break
                    after = page[-1].routing_key(order)
                    if first_page_only:
                        break
                if position == 0:
                    if exhausted and first_page_only:
                        break  # the whole list was read: nothing left for the others
                    resume = after
