"""Putting each conversation in front of the right agent, or in line for one.

`Routing` is one service (``kit.routing``) made of parts a reader can find by name:

- `chatkit.services.routing.candidates`: the decision, who could take a conversation;
- `chatkit.services.routing.assignment`: `Routing.route` and `Routing.transfer`;
- `chatkit.services.routing.queue`: the queues, places, expected waits and call-backs;
- `chatkit.services.routing.escalation`: the escalation matrix and the customer's mood;
- `chatkit.services.routing.results`: `RoutingResult` and `Escalation`.
"""

from __future__ import annotations

from .assignment import Assignment
from .escalation import Escalations
from .results import Escalation, RoutingResult

__all__ = ["Escalation", "Routing", "RoutingResult"]


class Routing(Assignment, Escalations):
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
