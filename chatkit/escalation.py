"""The escalation matrix: declarative rules for conversations that need more.

Each `EscalationRule` has conditions (all that are set must hold) and
actions. `Routing.escalate` checks the open conversations against the rules
of `ChatKitSettings.escalation_rules`; a rule fires at most once per
conversation, and each firing is a ``conversation.escalated`` event with the
rule's name and the reason, written in the same commit as its actions.

Example:
    ```python
    settings = ChatKitSettings(escalation_rules=[
        EscalationRule(name="long wait", waiting_longer_than=timedelta(minutes=1),
                       raise_priority_to="high"),
        EscalationRule(name="angry VIP", vip=True, mood_below=-0.5,
                       reassign_to="lead@example.com", raise_priority_to="urgent"),
        EscalationRule(name="legal", topics={"legal"}, mode="ticket"),
    ])
    ```
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .models import Contact, Conversation, Priority

__all__ = ["EscalationRule"]


class EscalationRule(BaseModel):
    """When a conversation needs more, and what to do then.

    Conditions (all that are set must hold):
        waiting_longer_than: Queued without an agent for longer than this.
        open_longer_than: Not resolved this long after it was created.
        mood_below: The customer's mood (`Routing.set_mood`, -1 angry to 1
            happy; the understanding features supply it) is below this.
        topics: The conversation's topic is one of these.
        tags: The conversation carries one of these tags.
        vip: The contact's ``vip`` attribute is true.

    Actions:
        raise_priority_to: Raise the priority to at least this.
        reassign_to: Give it to this agent (a supervisor), by id or e-mail
            address, within their capacity.
        move_to_team: Put it in this team's queue.
        mode: Move to another mode: ``ticket`` opens a ticket from it,
            ``callback`` and ``email`` are recorded on the event for the
            application to act on.

    The ``conversation.escalated`` event is the notification; subscribe to
    it (or run a dispatcher) to page a supervisor.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    waiting_longer_than: timedelta | None = None
    open_longer_than: timedelta | None = None
    mood_below: float | None = Field(default=None, ge=-1, le=1)
    topics: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    vip: bool = False
    raise_priority_to: Priority | None = None
    reassign_to: str | None = None
    move_to_team: str | None = None
    mode: Literal["ticket", "callback", "email"] | None = None

    @field_validator("waiting_longer_than", "open_longer_than")
    @classmethod
    def _not_negative(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta():
            raise ValueError("durations must not be negative")
        return value

    @field_validator("topics", "tags")
    @classmethod
    def _lower(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        return frozenset(v.strip().lower() for v in value) if value is not None else None

    @model_validator(mode="after")
    def _complete(self) -> EscalationRule:
        conditions = (
            self.waiting_longer_than,
            self.open_longer_than,
            self.mood_below,
            self.topics,
            self.tags,
        )
        if all(c is None for c in conditions) and not self.vip:
            raise ValueError(f"escalation rule {self.name!r} has no condition")
        if self.reassign_to is not None and self.move_to_team is not None:
            raise ValueError(
                f"escalation rule {self.name!r}: reassign_to and move_to_team exclude each other"
            )
        return self

    def reasons(self, conversation: Conversation, contact: Contact, now: datetime) -> list[str]:
        """Why the rule applies to ``conversation`` at ``now`` (empty when it does not)."""
        found: list[str] = []
        if self.waiting_longer_than is not None:
            if not conversation.waiting or conversation.queued_at is None:
                return []
            waited = now - conversation.queued_at
            if waited <= self.waiting_longer_than:
                return []
            found.append(f"waiting {int(waited.total_seconds())} s")
        if self.open_longer_than is not None:
            lasted = now - conversation.created_at
            if lasted <= self.open_longer_than:
                return []
            found.append(f"open {int(lasted.total_seconds())} s")
        if self.mood_below is not None:
            if conversation.mood is None or conversation.mood >= self.mood_below:
                return []
            found.append(f"mood {conversation.mood:+.2f}")
        if self.topics is not None:
            if (conversation.topic or "").lower() not in self.topics:
                return []
            found.append(f"topic {conversation.topic}")
        if self.tags is not None:
            hit = sorted(self.tags & {t.lower() for t in conversation.tags})
            if not hit:
                return []
            found.append(f"tag {hit[0]}")
        if self.vip:
            if contact.attributes.get("vip") is not True:
                return []
            found.append("VIP customer")
        return found
