"""Routing strategies: who, among the agents who could take a conversation, gets it.

The router (`chatkit.services.routing.Routing`) first narrows the agents to
those who *can* help: available, in the conversation's team, speaking its
language and, when it has a topic, skilled in it. A `RoutingStrategy` then
puts those candidates in order of preference; the router claims the
conversation for the first one it can (claims are race-free, so a candidate
taken meanwhile is simply skipped).

Built in, by name: ``least_busy`` (the default), ``round_robin`` and
``sticky``. Others plug in through the entry-point group ``chatkit.routing``:

```toml
[project.entry-points."chatkit.routing"]
vip_first = "mypackage.routing:VipFirst"
```
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .models import Agent, Conversation
from .plugins import Builtin, PluginLoader

__all__ = [
    "LeastBusy",
    "RoundRobin",
    "RoutingContext",
    "RoutingStrategy",
    "Sticky",
    "strategies",
]


@dataclass(frozen=True)
class RoutingContext:
    """What a strategy may want beyond the conversation and the candidates.

    Attributes:
        now: The time of the decision.
        previous_agent_ids: Agents who handled this contact's earlier
            conversations, most recent first (only for strategies with
            `RoutingStrategy.uses_history`; empty otherwise).
    """

    now: datetime
    previous_agent_ids: Sequence[str] = ()


class RoutingStrategy(ABC):
    """Orders the candidates for a conversation; the first that can take it gets it.

    Subclass it and register the class under the ``chatkit.routing`` entry
    point group, or pass an instance to `Routing.route`.
    """

    name: str = "custom"
    uses_history: bool = False
    """Set to ``True`` to get `RoutingContext.previous_agent_ids` filled in
    (it costs the router one more read per decision)."""
    order: Literal["load", "turn"] | None = None
    """The store order the ranking agrees with, if any.

    With ``"load"`` (least busy first) or ``"turn"`` (longest since the last
    assignment first) the router reads the candidates from the store's
    indexed lists of available agents a page at a time, best first, and
    `rank` sees one page (plus, with `uses_history`, the customer's earlier
    agents who can take it): a decision costs about the same with 10,000
    agents as with 100. With ``None`` `rank` gets every candidate, which
    costs time in proportion to the number of available agents.
    """

    @abstractmethod
    def rank(
        self, conversation: Conversation, candidates: Sequence[Agent], context: RoutingContext
    ) -> list[Agent]:
        """The candidates to try, best first (leave out any that should not get it)."""


def _load(agent: Agent) -> float:
    return agent.active_chats / agent.max_concurrent_chats


class LeastBusy(RoutingStrategy):
    """The agent with the most room: lowest share of capacity in use, then longest free."""

    name = "least_busy"
    order = "load"

    def rank(
        self, conversation: Conversation, candidates: Sequence[Agent], context: RoutingContext
    ) -> list[Agent]:
        return sorted(
            candidates,
            key=lambda a: (_load(a), a.last_assigned_at or a.created_at, a.id),
        )


class RoundRobin(RoutingStrategy):
    """Take turns: the agent whose last assignment is the oldest."""

    name = "round_robin"
    order = "turn"

    def rank(
        self, conversation: Conversation, candidates: Sequence[Agent], context: RoutingContext
    ) -> list[Agent]:
        return sorted(candidates, key=lambda a: (a.last_assigned_at or a.created_at, a.id))


class Sticky(RoutingStrategy):
    """The agent who helped this customer last, when available; otherwise least busy."""

    name = "sticky"
    uses_history = True
    order = "load"

    def rank(
        self, conversation: Conversation, candidates: Sequence[Agent], context: RoutingContext
    ) -> list[Agent]:
        by_id = {a.id: a for a in candidates}
        known = [by_id[i] for i in dict.fromkeys(context.previous_agent_ids) if i in by_id]
        rest = [a for a in LeastBusy().rank(conversation, candidates, context) if a not in known]
        return [*known, *rest]


strategies: PluginLoader[type[RoutingStrategy]] = PluginLoader(
    "chatkit.routing",
    {
        "least_busy": Builtin("chatkit.routing:LeastBusy"),
        "round_robin": Builtin("chatkit.routing:RoundRobin"),
        "sticky": Builtin("chatkit.routing:Sticky"),
    },
)
"""Routing strategy classes by name."""
