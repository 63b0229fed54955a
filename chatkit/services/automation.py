"""Running automation rules (`ChatKitSettings.automation_rules`) on the event outbox."""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from ..automation.actions import (
    Action,
    AssignAction,
    CreateTicketAction,
    EscalateAction,
    NotifyAction,
    ReplyAction,
    RouteAction,
    SetPriorityAction,
    TagAction,
    WebhookAction,
)
from ..automation.conditions import Facts
from ..automation.rules import Rule, RuleSet, Trigger, trigger_of
from ..errors import ChatKitError, ConflictError, InvalidInputError, NotFoundError
from ..events import AutomationActionTaken, ConversationEscalated, Event, MessageCreated
from ..models import (
    Agent,
    Author,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    Team,
)
from ..models._base import utcnow
from ..redact import mask_text
from ..stores.base import Gt, Update
from ..webhooks import webhook_client
from ._core import bump, check_events, check_time
from .contacts import Service
from .dispatch import Dispatcher

__all__ = ["Automation"]

log = logging.getLogger(__name__)

_GROUP = "automation"


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


class Automation(Service):
    """Runs the rules of `ChatKitSettings.automation_rules` on events, and logs every action.

    Rules are data (`chatkit.automation.RuleSet`): on a trigger (a customer
    message, a new, assigned, queued, escalated or resolved conversation, or
    an idle one), when conditions hold (intent, entities, sentiment, mood,
    channel, language, tags, business hours, contact attributes...), run
    actions (reply, tag, set priority, assign, route, escalate, create a
    ticket, notify, call a webhook). Each action taken, or failed, is an
    ``automation.action_taken`` event naming the rule and the event it
    fired on.

    Run it as a dispatcher in one or more processes (`dispatcher`, or
    `drain` in tests and scripts), plus `check_idle` every minute or so for
    ``conversation.idle`` rules. Events are handled at least once: replies,
    tags, priorities, assignments, routing and escalations are idempotent;
    a crash in the middle of a batch can repeat a ticket, a notification or
    a webhook call of that batch.

    Example:
        ```python
        rules = RuleSet.load("automation.yaml")
        kit = AsyncChatKit(settings=ChatKitSettings(automation_rules=rules))
        worker = kit.automation.dispatcher()
        await worker.run()  # or: await kit.automation.drain()
        ```
    """

    @property
    def rules(self) -> RuleSet:
        """The rules in effect."""
        return self._core.settings.automation_rules

    def dispatcher(self, *, batch_size: int = 50, lease_seconds: float = 30.0) -> Dispatcher:
        """A worker of the ``automation`` dispatch group (start one per process)."""
        from .events import Events

        return Events(self._core).dispatcher(
            _GROUP, self.handle, batch_size=batch_size, lease_seconds=lease_seconds
        )

    async def drain(self) -> int:
        """Handle every event not handled yet, in this process; returns how many were read."""
        worker = self.dispatcher()
        try:
            return await worker.drain()
        finally:
            await worker.close()

    async def handle(self, events: Sequence[Event]) -> None:
        """Run the rules for each event (the dispatcher's handler)."""
        events = check_events(events)
        if not self.rules.rules:
            return
        for event in events:
            trigger = trigger_of(event)
            if trigger is None or event.conversation_id is None:
                continue
            await self._run(trigger, event, idle_minutes=None)

    async def check_idle(self, *, now: datetime | None = None) -> int:
        """Fire ``conversation.idle`` rules for open conversations quiet that long.

        Each rule fires once per quiet spell of a conversation (a new
        message starts a new one). Returns how many rules fired.
        """
        now = check_time(now)
        idle_rules = [r for r in self.rules.rules if r.on == "conversation.idle" and r.enabled]
        if not idle_rules:
            return 0
        store = await self._core.ready()
        fired, cursor = 0, ""
        while True:
            where: dict[str, object] = {"status": ConversationStatus.OPEN}
            if cursor:
                where["id"] = Gt(cursor)
            batch = await store.find(Conversation, where, limit=200)
            if not batch:
                return fired
            for conversation in batch:
                since = conversation.last_message_at or conversation.created_at
                minutes = (now - since).total_seconds() / 60
                if minutes >= min(r.idle_minutes or 0 for r in idle_rules):
                    fired += await self._idle(conversation, since, minutes)
            cursor = batch[-1].id

    async def _idle(self, conversation: Conversation, since: datetime, minutes: float) -> int:
        if f"idle@{since.isoformat()}" in conversation.auto_replies:
            return 0
        event = ConversationEscalated(  # a stand-in source event; never committed
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            rule="idle",
            reason=f"idle {minutes:.0f} min",
            actions=[],
        )
        count = await self._run("conversation.idle", event, idle_minutes=minutes)
        # The spell is marked as of the last message now (a rule's own reply
        # included), so it fires once; the next message starts a new spell.
        # If someone wrote meanwhile the marker is lost, and the rules' reply
        # keys still keep replies single.
        fresh = await self._load(Conversation, conversation.id, "conversation")
        stamp = (fresh.last_message_at or fresh.created_at).isoformat()
        with contextlib.suppress(ConflictError):
            await self._core.commit(
                [Update(bump(fresh, auto_replies=[*fresh.auto_replies[-19:], f"idle@{stamp}"]))]
            )
        return count

    # -- one event -------------------------------------------------------------

    async def _run(
        self,
        trigger: Trigger,
        event: Event,
        *,
        idle_minutes: float | None,
    ) -> int:
        store = await self._core.ready()
        assert event.conversation_id is not None
        conversation = await store.get(Conversation, event.conversation_id)
        if conversation is None:
            return 0
        contact = await store.get(Contact, conversation.contact_id)
        message = event.message if isinstance(event, MessageCreated) else None
        facts = await self._facts(conversation, contact, message, idle_minutes)
        context = await self._context(conversation, contact, message)
        count = 0
        for rule, actions in self.rules.evaluate(trigger, facts):
            count += 1
            for index, action in enumerate(actions):
                await self._act(rule, trigger, event, index, action, conversation, context)
        return count

    async def _facts(
        self,
        conversation: Conversation,
        contact: Contact | None,
        message: Message | None,
        idle_minutes: float | None,
    ) -> Facts:
        analysis = message.analysis if message is not None else None
        entities: dict[str, builtins.list[str]] = {}
        for entity in analysis.entities if analysis else []:
            entities.setdefault(entity.type, []).append(entity.value)
        open_now = None
        if conversation.team is not None:
            store = await self._core.ready()
            teams = await store.find(Team, {"name": conversation.team}, limit=1)
            if teams and teams[0].hours is not None:
                open_now = teams[0].hours.is_open(utcnow())
            elif teams:
                open_now = True
        language = (analysis.language if analysis else None) or conversation.language
        return Facts(
            text=message.text if message is not None else None,
            intent=analysis.intent if analysis else conversation.intent,
            intent_confidence=analysis.confidence if analysis and analysis.intent else None,
            entities={k: tuple(v) for k, v in entities.items()},
            sentiment=analysis.sentiment if analysis else None,
            mood=conversation.mood,
            channel=conversation.channel,
            language=language,
            tags=frozenset(t.lower() for t in conversation.tags),
            contact=dict(contact.attributes) if contact is not None else {},
            priority=conversation.priority,
            open_now=open_now,
            idle_minutes=idle_minutes,
        )

    async def _context(
        self, conversation: Conversation, contact: Contact | None, message: Message | None
    ) -> dict[str, Any]:
        name = contact.name if contact is not None else None
        context: dict[str, Any] = {
            "contact": {
                **(dict(contact.attributes) if contact is not None else {}),
                "name": name,
                "first_name": name.split()[0] if name and name.split() else None,
            },
            "conversation": {
                "id": conversation.id,
                "subject": conversation.subject,
                "priority": conversation.priority.value,
                "team": conversation.team,
                "topic": conversation.topic,
                "language": conversation.language,
                "channel": conversation.channel.value,
            },
            "team": {"name": conversation.team},
        }
        if message is not None:
            context["message"] = {"text": message.text}
            numbers = message.analysis.entity_values("order_number") if message.analysis else []
            if numbers:
                context["order"] = {"number": numbers[0]}
        if conversation.assignee_id is not None:
            store = await self._core.ready()
            agent = await store.get(Agent, conversation.assignee_id)
            if agent is not None:
                context["agent"] = {"name": agent.name, "email": agent.email}
        return context

    async def _act(
        self,
        rule: Rule,
        trigger: str,
        event: Event,
        index: int,
        action: Action,
        conversation: Conversation,
        context: dict[str, Any],
    ) -> None:
        """Run one action and publish what happened; a failure is logged, never raised."""
        target: str | None = None
        try:
            detail = await self._perform(rule, event, index, action, conversation, context)
            ok, error = True, None
            if isinstance(action, NotifyAction):
                target = action.target
        except (ChatKitError, httpx.HTTPError) as exc:
            detail, ok, error = "", False, mask_text(f"{type(exc).__name__}: {exc}")
            log.warning(
                "automation rule %r action %d (%s) failed: %s", rule.name, index, action.type, error
            )
        taken = AutomationActionTaken(
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            rule=rule.name,
            trigger=trigger,
            action=action.type,
            detail=detail,
            ok=ok,
            error=error,
            source_event_id=event.id,
            target=target,
        )
        await self._core.commit([], [taken])

    async def _perform(
        self,
        rule: Rule,
        event: Event,
        index: int,
        action: Action,
        conversation: Conversation,
        context: dict[str, Any],
    ) -> str:
        from .conversations import Conversations
        from .messages import Messages
        from .routing import Routing
        from .tickets import Tickets

        conversations = Conversations(self._core)
        if isinstance(action, ReplyAction):
            text = await self._reply_text(action, conversation, context)
            sent = await Messages(self._core).send(
                conversation.id,
                text,
                author=Author.bot(),
                idempotency_key=f"rule:{rule.name}:{event.id}:{index}"[:200],
                metadata={"automation_rule": rule.name},
            )
            return sent.id
        if isinstance(action, TagAction):
            if action.add:
                await conversations.add_tags(conversation.id, *action.add)
            if action.remove:
                await conversations.remove_tags(conversation.id, *action.remove)
            return " ".join([*(f"+{t}" for t in action.add), *(f"-{t}" for t in action.remove)])
        if isinstance(action, SetPriorityAction):
            await conversations.set_priority(conversation.id, action.priority)
            return action.priority.value
        if isinstance(action, AssignAction):
            agent = await self._agent(action.to)
            await conversations.assign(conversation.id, agent.id)
            return agent.id
        if isinstance(action, RouteAction):
            routing = Routing(self._core)
            current = await conversations.get(conversation.id)
            if current.assignee_id is not None or current.status is not ConversationStatus.OPEN:
                return "already routed"
            result = await routing.route(conversation.id, team=action.team)
            return result.agent_id or f"queued:{result.position}"
        if isinstance(action, EscalateAction):
            return await self._escalate(rule, conversation.id, action.reason)
        if isinstance(action, CreateTicketAction):
            ticket = await Tickets(self._core).create(
                subject=action.subject.render(context),
                conversation_id=conversation.id,
                priority=action.priority,
                team=action.team,
            )
            return ticket.id
        if isinstance(action, NotifyAction):
            return action.message.render(context)
        if isinstance(action, WebhookAction):
            return await self._webhook(action, rule, event, context)
        raise InvalidInputError(f"unknown action {action!r}")  # pragma: no cover

    async def _reply_text(
        self, action: ReplyAction, conversation: Conversation, context: dict[str, Any]
    ) -> str:
        if action.canned is not None:
            from .canned import CannedReplies

            return await CannedReplies(self._core).render(
                action.canned, context, language=conversation.language or "en"
            )
        template = action.template_for(conversation.language)
        assert template is not None
        return template.render(context)

    async def _agent(self, reference: str) -> Agent:
        store = await self._core.ready()
        if "@" in reference:
            found = await store.find(Agent, {"email": reference.strip().lower()}, limit=1)
            if found:
                return found[0]
            raise NotFoundError("agent", reference)
        agent = await store.get(Agent, reference)
        if agent is None:
            raise NotFoundError("agent", reference)
        return agent

    async def _escalate(self, rule: Rule, conversation_id: str, reason: str) -> str:
        """Record the escalation once per conversation and rule, with its event."""
        marker = f"automation:{rule.name}"

        async def attempt() -> str:
            current = await self._load(Conversation, conversation_id, "conversation")
            if marker in current.escalations:
                return "already escalated"
            updated = bump(current, escalations=[*current.escalations, marker])
            event = ConversationEscalated(
                conversation_id=current.id,
                contact_id=current.contact_id,
                rule=marker,
                reason=reason,
                actions=[],
            )
            await self._core.commit([Update(updated)], [event])
            return event.id

        return await self._core.retry(attempt)

    async def _webhook(
        self, action: WebhookAction, rule: Rule, event: Event, context: dict[str, Any]
    ) -> str:
        payload = {
            "rule": rule.name,
            "event_id": event.id,
            "event_type": event.type,
            "conversation_id": event.conversation_id,
            "data": action.render_payload(context),
        }
        async with webhook_client(self._core.settings.webhooks, timeout=10.0) as client:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(3),
                wait=wait_exponential(multiplier=0.2, max=2.0),
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    response = await client.post(
                        action.url,
                        json=payload,
                        headers={"Idempotency-Key": f"{event.id}:{rule.name}"},
                    )
                    response.raise_for_status()
        return str(response.status_code)
