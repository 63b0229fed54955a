"""What routing tells its caller: where a conversation went, what an escalation did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ...models import Conversation

__all__ = ["Escalation", "RoutingResult"]


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
