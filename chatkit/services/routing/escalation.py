"""The escalation matrix: rules that raise, move or reassign conversations that wait too long."""

from __future__ import annotations

import builtins
import dataclasses
from datetime import datetime

from ...errors import (
    InvalidInputError,
    NotFoundError,
)
from ...escalation import EscalationRule
from ...events import ConversationEscalated
from ...models import (
    Agent,
    Contact,
    Conversation,
    ConversationStatus,
)
from ...models._base import utcnow
from ...stores.base import Gt, Update
from .._core import bump
from ..contacts import Service
from ..teams import Teams
from ..tickets import Tickets
from ..workload import workload_changes
from .results import Escalation

__all__ = ["Escalations"]


class Escalations(Service):
    """The escalation part of `Routing`: the customer's mood and the escalation rules."""

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
