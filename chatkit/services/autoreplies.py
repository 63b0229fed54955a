"""Sending the automatic replies of `chatkit.automation.replies`: once each, never a flood."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..automation.replies import choose_first, format_opening, format_wait, pick_language
from ..automation.templates import Template
from ..errors import ChatKitError, ConflictError
from ..hours import time_zone
from ..models import Author, Contact, Conversation, Message, Team
from ..models._base import utcnow
from ..stores.base import Update
from ._core import bump
from .contacts import Service
from .messages import Messages
from .pipeline import Arrival, standard_reaction

if TYPE_CHECKING:
    from .routing import RoutingResult

__all__ = ["AutoReplies"]


def _first_name(name: str | None) -> str | None:
    return name.split()[0] if name and name.split() else None


class AutoReplies(Service):
    """Instant replies that answer what the customer said (`ChatKitSettings.auto_replies`).

    `Messages.receive` calls `first_message` for a new conversation's first
    message; `Routing.route` calls `routed` when the conversation waits or
    its team is closed. Each reply is sent once per trigger (its idempotency
    key says which), at most `AutoReplySettings.max_replies` per window in
    one conversation, as a bot message.
    """

    async def first_message(self, message: Message) -> Message | None:
        """Answer a customer's first message: apology, intent reply or greeting.

        An angry customer's conversation is also raised to
        `AutoReplySettings.angry_priority`, so it is served sooner.
        """
        settings = self._core.settings.auto_replies
        legacy = self._core.settings.acknowledgement
        if not settings.enabled:
            if not legacy:
                return None
            return await self._send(message.conversation_id, "greeting", legacy, {})
        conversation = await self._load(Conversation, message.conversation_id, "conversation")
        language = conversation.language or (
            message.analysis.language if message.analysis else None
        )
        kind, template = choose_first(settings, message.analysis, language)
        reply: Template | str = legacy if kind == "greeting" and legacy else template
        extra: dict[str, Any] = {}
        numbers = message.analysis.entity_values("order_number") if message.analysis else []
        if numbers:
            extra["order"] = {"number": numbers[0]}
        sent = await self._send(conversation.id, kind, reply, extra)
        if sent is not None and kind == "apology" and settings.angry_priority is not None:
            current = await self._load(Conversation, conversation.id, "conversation")
            if settings.angry_priority.rank > current.priority.rank:
                from .conversations import Conversations

                await Conversations(self._core).set_priority(
                    conversation.id, settings.angry_priority
                )
        return sent

    async def routed(self, result: RoutingResult, team: Team | None) -> Message | None:
        """Tell a waiting customer their place and wait, or when a closed team opens."""
        settings = self._core.settings.auto_replies
        conversation = result.conversation
        if not settings.enabled or not result.queued:
            return None
        language = conversation.language
        if not result.open_now and result.opens_at is not None and team is not None:
            contact = await self._load(Contact, conversation.contact_id, "contact")
            zone = self._zone(contact, team)
            opens = format_opening(result.opens_at, utcnow(), zone, language)
            template = pick_language(settings.out_of_hours, language)
            key = f"closed:{result.opens_at.isoformat()}"
            return await self._send(conversation.id, key, template, {"team": {"opens_at": opens}})
        wait = result.expected_wait or settings.default_wait
        context = {
            "conversation": {
                "position": result.position or 1,
                "wait": format_wait(wait, language),
            }
        }
        stamp = conversation.queued_at.isoformat() if conversation.queued_at else ""
        template = pick_language(settings.queued, language)
        return await self._send(conversation.id, f"queued:{stamp}", template, context)

    @staticmethod
    def _zone(contact: Contact, team: Team) -> Any:
        """The customer's zone (contact attribute ``time_zone``), else the team's."""
        name = contact.attributes.get("time_zone")
        if isinstance(name, str):
            try:
                return time_zone(name)
            except ChatKitError:
                pass
        assert team.hours is not None
        return time_zone(team.hours.timezone)

    async def _send(
        self, conversation_id: str, key: str, template: Template | str, extra: dict[str, Any]
    ) -> Message | None:
        """Render and send once per ``key``, within the rate limit; ``None`` when held back.

        A plain string (`ChatKitSettings.acknowledgement`) is sent as it is.
        """
        settings = self._core.settings.auto_replies
        conversation = await self._load(Conversation, conversation_id, "conversation")
        now = utcnow()
        recent = []
        for entry in conversation.auto_replies:
            done, _, when = entry.rpartition("|")
            if done == key:
                return None  # this trigger was answered already
            try:
                if now - datetime.fromisoformat(when) < settings.window:
                    recent.append(entry)
            except ValueError:
                continue
        if len(recent) >= settings.max_replies:
            return None
        contact = await self._load(Contact, conversation.contact_id, "contact")
        context: dict[str, Any] = {
            "contact": {
                **{k: v for k, v in contact.attributes.items() if isinstance(k, str)},
                "name": contact.name,
                "first_name": _first_name(contact.name),
            },
            **extra,
        }
        try:
            text = template if isinstance(template, str) else template.render(context)
        except ChatKitError:
            return None  # a variable the situation lacks: better no reply than a broken one
        sent = await Messages(self._core).send(
            conversation_id,
            text,
            author=Author.bot(),
            channel=conversation.channel,
            idempotency_key=f"auto:{key}"[:200],
            metadata={"auto_reply": key.split(":", 1)[0]},
        )
        await self._remember(conversation_id, f"{key}|{now.isoformat()}")
        return sent

    async def _remember(self, conversation_id: str, entry: str) -> None:
        async def attempt() -> None:
            conversation = await self._load(Conversation, conversation_id, "conversation")
            kept = conversation.auto_replies[-19:]
            updated = bump(conversation, auto_replies=[*kept, entry], auto_replied_at=utcnow())
            await self._core.commit([Update(updated)])

        # Under endless contention the note is lost; the reply's key still keeps it single.
        with contextlib.suppress(ConflictError):
            await self._core.retry(attempt)


@standard_reaction("auto_replies", order=200)
async def _acknowledge(arrival: Arrival) -> None:
    """The ``auto_replies`` reaction: answer a new conversation's first message."""
    if arrival.taken or not arrival.new_conversation:
        return
    arrival.acknowledgement = await AutoReplies(arrival.core).first_message(arrival.message)
