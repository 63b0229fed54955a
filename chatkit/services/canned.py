"""Canned replies: saved agent scripts, kept in the store, ranked, rendered and counted."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..automation._language import base_language, normalize_language
from ..automation.canned import suggest as rank
from ..errors import DuplicateKeyError, InvalidInputError, NotFoundError
from ..events import CannedReplyCreated, CannedReplyDeleted, CannedReplyUpdated, CannedReplyUsed
from ..models import Agent, Author, CannedReply, Contact, Conversation, Message, Page
from ..models._base import new_id, utcnow
from ..stores.base import Delete, Insert, Lt, Update
from ._core import (
    UNSET,
    Unset,
    bump,
    changed,
    check_language,
    check_limit,
    check_names,
    checked,
)
from .contacts import Contacts, Service, check_key
from .messages import Messages

__all__ = ["CannedReplies"]

log = logging.getLogger(__name__)

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def _aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInputError(f"{field} must be a timezone-aware datetime", field=field)
    return value


def _check_context(context: object) -> None:
    if context is not None and not isinstance(context, Mapping):
        raise InvalidInputError("context must be a mapping of plain values", field="context")


def _merge(base: Mapping[str, object], extra: Mapping[str, object]) -> dict[str, object]:
    """``base`` with ``extra`` laid over it; nested mappings are merged, not replaced."""
    merged: dict[str, object] = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _person(name: str | None, extra: Mapping[str, object] | None = None) -> dict[str, object]:
    person: dict[str, object] = dict(extra or {})
    if name and name.strip():
        person["name"] = name.strip()
        person["first_name"] = name.split()[0]
    return person


class CannedReplies(Service):
    """Canned replies (agent scripts): saved, suggested, rendered, sent and reviewed.

    Each reply is a `chatkit.automation.Template` with a shortcut that is
    unique per language. Templates are parsed when saved, so a broken one
    never reaches a customer; every send is counted, and `due_for_review`
    lists the replies nobody has checked for a while.

    Example:
        ```python
        await kit.canned.create(
            "/late-order", "Late order",
            "Sorry {{ contact.first_name | there }}, order {{ order.number }} is late. "
            "-- {{ agent.name }}",
            intents=["order_status"],
        )
        best = await kit.canned.suggest(intent="order_status", language="en-US")
        await kit.canned.send(
            conversation.id, "/late-order", agent_id=agent.id,
            context={"order": {"number": "A-17"}},
        )
        for reply in await kit.canned.due_for_review():
            ...  # check it, then:
            await kit.canned.mark_reviewed(reply.id)
        ```
    """

    async def create(
        self,
        shortcut: str,
        title: str,
        body: str,
        *,
        language: str = "en",
        intents: Sequence[str] = (),
        topics: Sequence[str] = (),
        tags: Sequence[str] = (),
    ) -> CannedReply:
        """Save a canned reply.

        Args:
            shortcut: ``/`` and a lower-case slug (``"/late-order"``).
            title: A human name for pickers.
            body: The template text (see `chatkit.automation.Template`).
            language: BCP 47 tag of the body.
            intents: Intents it answers (``"order_status"``).
            topics: Topics it belongs to.
            tags: Free labels.

        Returns:
            The stored reply.

        Raises:
            TemplateError: ``body`` does not parse. Nothing was written.
            InvalidInputError: Another field is malformed, or a reply with this
                shortcut exists in this language (``field="shortcut"``).
        """
        reply = checked(
            CannedReply,
            id=new_id("canned"),
            shortcut=shortcut,
            title=title,
            body=body,
            language=check_language(language),
            intents=check_names(intents, "intents"),
            topics=check_names(topics, "topics"),
            tags=check_names(tags, "tags"),
        )
        try:
            await self._core.commit([Insert(reply)], [CannedReplyCreated(reply=reply)])
        except DuplicateKeyError as exc:
            raise _duplicate(reply) from exc
        return reply

    async def get(self, reply_id: str) -> CannedReply:
        """The reply with this id.

        Raises:
            NotFoundError: No such reply.
        """
        return await self._load(CannedReply, reply_id, "canned reply")

    async def find(self, shortcut: str, language: str = "en") -> CannedReply:
        """The reply for ``shortcut`` in ``language``, else in its base language.

        ``find("/late-order", "en-US")`` returns the ``en-US`` reply when
        there is one, otherwise the ``en`` one.

        Raises:
            NotFoundError: Neither exists.
            InvalidInputError: ``language`` is not a language tag.
        """
        check_key(shortcut, "shortcut")
        wanted = check_language(language)
        store = await self._core.ready()
        for tag in dict.fromkeys((wanted, base_language(wanted))):
            found = await store.find(CannedReply, {"shortcut": shortcut, "language": tag}, limit=1)
            if found:
                return found[0]
        raise NotFoundError("canned reply", f"{shortcut} ({wanted})")

    async def update(
        self,
        reply_id: str,
        *,
        shortcut: str | Unset = UNSET,
        title: str | Unset = UNSET,
        body: str | Unset = UNSET,
        language: str | Unset = UNSET,
        intents: Sequence[str] | Unset = UNSET,
        topics: Sequence[str] | Unset = UNSET,
        tags: Sequence[str] | Unset = UNSET,
    ) -> CannedReply:
        """Change the fields given; the others, the usage and the review date stay.

        Returns:
            The reply as stored now (unchanged when nothing differs, and then
            no event is emitted).

        Raises:
            NotFoundError: No such reply.
            TemplateError: The new ``body`` does not parse. Nothing was written.
            InvalidInputError: Another field is malformed, or the new shortcut
                and language belong to another reply.
        """
        updates: dict[str, Any] = {}
        if not isinstance(shortcut, Unset):
            updates["shortcut"] = shortcut
        if not isinstance(title, Unset):
            updates["title"] = title
        if not isinstance(body, Unset):
            updates["body"] = body
        if not isinstance(language, Unset):
            updates["language"] = check_language(language)
        for field, value in (("intents", intents), ("topics", topics), ("tags", tags)):
            if not isinstance(value, Unset):
                updates[field] = check_names(value, field)

        async def attempt() -> CannedReply:
            reply = await self.get(reply_id)
            new = changed(reply, **updates)
            diff = sorted(k for k in updates if getattr(new, k) != getattr(reply, k))
            if not diff:
                return reply
            try:
                await self._core.commit(
                    [Update(new)], [CannedReplyUpdated(reply=new, changed=diff)]
                )
            except DuplicateKeyError as exc:
                raise _duplicate(new) from exc
            return new

        return await self._core.retry(attempt)

    async def delete(self, reply_id: str) -> None:
        """Delete a reply; deleting one that is gone does nothing (and emits nothing)."""
        check_key(reply_id, "reply_id")

        async def attempt() -> None:
            store = await self._core.ready()
            reply = await store.get(CannedReply, reply_id)
            if reply is None:
                return
            # The version check makes one of two racing deletes the one that emits.
            await self._core.commit(
                [Update(bump(reply)), Delete(CannedReply, reply.id)],
                [
                    CannedReplyDeleted(
                        reply_id=reply.id, shortcut=reply.shortcut, language=reply.language
                    )
                ],
            )

        await self._core.retry(attempt)

    async def list(
        self, *, language: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[CannedReply]:
        """Page through replies by shortcut, then language.

        Args:
            language: Only replies in exactly this language (``"en"`` lists
                no ``"en-US"`` reply); ``None`` lists all.
            limit: Page size, 1 to 1000.
            cursor: ``next_cursor`` of the previous page.
        """
        where = {} if language is None else {"language": check_language(language)}
        return await self._core.paged(
            CannedReply, where, order_by="shortcut_key", limit=limit, cursor=cursor
        )

    async def suggest(
        self,
        *,
        intent: str | None = None,
        language: str = "en",
        topic: str | None = None,
        limit: int = 5,
    ) -> builtins.list[CannedReply]:
        """The stored replies that best fit a conversation, best first.

        Candidates are the replies of the customer's language family (same
        tag, base language, other variants), ranked by
        `chatkit.automation.suggest`: answering ``intent`` first, then in
        ``topic``, then the closest language, then the most used.

        Args:
            intent: The detected intent, if any.
            language: The customer's language.
            topic: The conversation's topic, if any.
            limit: At most this many, 1 to 1000.

        Raises:
            InvalidInputError: ``language`` is not a language tag, or a bad ``limit``.
        """
        check_limit(limit)
        wanted = check_language(language)
        store = await self._core.ready()
        family = await store.find(CannedReply, {"base_language": base_language(wanted)})
        by_key = {(r.shortcut, r.language): r for r in family}
        ranked = rank(
            (r.response() for r in family),
            language=wanted,
            intent=intent,
            topic=topic,
            limit=limit,
        )
        return [by_key[(r.shortcut, r.language)] for r in ranked]

    async def render(
        self,
        shortcut_or_id: str,
        context: Mapping[str, object] | None = None,
        *,
        language: str = "en",
    ) -> str:
        """The reply's text filled in from ``context``.

        Args:
            shortcut_or_id: A shortcut (``"/late-order"``, looked up with
                `find` in ``language``) or a reply id.
            context: Nested mappings of plain values, e.g.
                ``{"contact": {"first_name": "Ada"}}``; values are inserted
                literally, never parsed as template text.
            language: The customer's language (used with a shortcut).

        Raises:
            NotFoundError: No such reply.
            TemplateError: A variable without fallback has no value, or the
                context holds something other than plain data.
        """
        _check_context(context)
        reply = await self._resolve(shortcut_or_id, language)
        return reply.response().render(context or {})

    async def use(
        self,
        reply_id: str,
        *,
        conversation_id: str | None = None,
        message_id: str | None = None,
    ) -> CannedReply:
        """Count one use of a reply now (`send` does this for you).

        Concurrent uses are all counted: each is a version-checked write,
        retried when another one won the race.

        Args:
            reply_id: The reply.
            conversation_id: Where it was sent, for the ``canned.used`` event.
            message_id: The message it became, for the event.

        Returns:
            The reply with its new ``usage_count`` and ``last_used_at``.

        Raises:
            NotFoundError: No such reply.
            InvalidInputError: ``conversation_id`` or ``message_id`` is not an id.
        """
        for field, value in (("conversation_id", conversation_id), ("message_id", message_id)):
            if value is not None:
                check_key(value, field)

        async def attempt() -> CannedReply:
            reply = await self.get(reply_id)
            new = bump(reply, usage_count=reply.usage_count + 1, last_used_at=utcnow())
            event = CannedReplyUsed(
                reply_id=new.id,
                shortcut=new.shortcut,
                language=new.language,
                usage_count=new.usage_count,
                conversation_id=conversation_id,
                message_id=message_id,
            )
            await self._core.commit([Update(new)], [event])
            return new

        return await self._core.retry(attempt)

    async def mark_reviewed(self, reply_id: str, at: datetime | None = None) -> CannedReply:
        """Record that a person checked the reply is still right.

        Args:
            reply_id: The reply.
            at: When (timezone-aware); now by default.

        Raises:
            NotFoundError: No such reply.
            InvalidInputError: ``at`` is naive.
        """
        when = utcnow() if at is None else _aware(at, "at")

        async def attempt() -> CannedReply:
            reply = await self.get(reply_id)
            new = changed(reply, last_reviewed_at=when)
            if new.last_reviewed_at == reply.last_reviewed_at:
                return reply
            event = CannedReplyUpdated(reply=new, changed=["last_reviewed_at"])
            await self._core.commit([Update(new)], [event])
            return new

        return await self._core.retry(attempt)

    async def due_for_review(
        self,
        every: timedelta = timedelta(days=30),
        *,
        limit: int = 100,
        now: datetime | None = None,
    ) -> builtins.list[CannedReply]:
        """Replies nobody reviewed within ``every``: the monthly review's to-do list.

        Never reviewed replies come first (oldest created first), then the
        others by their last review, oldest first. A reply counts as due
        when ``now - last_reviewed_at >= every``, as in
        `chatkit.automation.CannedResponse.needs_review`.

        Args:
            every: How often each reply should be checked.
            limit: At most this many, 1 to 1000.
            now: The time to measure from (timezone-aware); now by default.

        Raises:
            InvalidInputError: ``every`` is negative, ``now`` is naive, or a bad ``limit``.
        """
        if not isinstance(every, timedelta) or every < timedelta(0):
            raise InvalidInputError("every must be a non-negative timedelta", field="every")
        check_limit(limit)
        moment = utcnow() if now is None else _aware(now, "now")
        cutoff = (moment - every).astimezone(UTC)
        store = await self._core.ready()
        # "1|<review time>|<id>" sorts after every never-reviewed "0|..." key;
        # "~" sorts after any id, so a review exactly at the cutoff is due.
        return await store.find(
            CannedReply,
            {"review_key": Lt(f"1|{cutoff.strftime(_STAMP)}|~")},
            order_by="review_key",
            limit=limit,
        )

    async def send(
        self,
        conversation_id: str,
        shortcut: str,
        *,
        agent_id: str,
        context: Mapping[str, object] | None = None,
        language: str | None = None,
    ) -> Message:
        """Render a reply for a conversation, send it as the agent, and count the use.

        The template sees ``contact.name``, ``contact.first_name`` (the first
        word of the name) and the contact's attributes (``contact.plan``...),
        ``agent.name`` and ``agent.first_name``, ``conversation.id``,
        ``conversation.subject`` and ``conversation.topic``, with ``context``
        laid over them (nested mappings are merged). Values are inserted
        literally: a contact called ``{{agent.name}}`` is greeted as exactly that.

        The use is counted after the message is sent; when rendering or
        sending fails nothing is sent and nothing is counted.

        Args:
            conversation_id: The conversation.
            shortcut: The reply's shortcut (or its id).
            agent_id: The agent who sends it.
            context: Extra values, e.g. ``{"order": {"number": "A-17"}}``.
            language: The reply language to look for; by default the
                conversation's language, else ``"en"``.

        Returns:
            The message sent.

        Raises:
            NotFoundError: No such conversation, agent or reply.
            TemplateError: A variable without fallback has no value.
            InvalidInputError: As `Messages.send` (e.g. the rendered text is too long).
            ConversationClosedError: The conversation is closed.
        """
        reply, text = await self.prepare(
            conversation_id, shortcut, agent_id=agent_id, context=context, language=language
        )
        message = await Messages(self._core).send(
            conversation_id, text, author=Author.agent(agent_id)
        )
        try:
            await self.use(reply.id, conversation_id=message.conversation_id, message_id=message.id)
        except NotFoundError:
            log.warning("canned reply %s was deleted before its use could be counted", reply.id)
        return message

    async def prepare(
        self,
        conversation_id: str,
        shortcut: str,
        *,
        agent_id: str,
        context: Mapping[str, object] | None = None,
        language: str | None = None,
    ) -> tuple[CannedReply, str]:
        """The reply and its text filled in for a conversation, as `send` would send it.

        Nothing is sent and no use is counted: an agent console inserts the
        text into the reply box for the agent to edit. The template sees the
        same values as in `send`.

        Args:
            conversation_id: The conversation.
            shortcut: The reply's shortcut (or its id).
            agent_id: The agent who will send it.
            context: Extra values laid over the built ones.
            language: The reply language; by default the conversation's, else ``"en"``.

        Raises:
            NotFoundError: No such conversation, agent or reply.
            TemplateError: A variable without fallback has no value.
        """
        _check_context(context)
        conversation = await self._load(Conversation, conversation_id, "conversation")
        agent = await self._load(Agent, agent_id, "agent")
        contact = await Contacts(self._core).get(conversation.contact_id)
        reply = await self._resolve(shortcut, language or _conversation_language(conversation))
        built = _context(contact, agent, conversation)
        return reply, reply.response().render(_merge(built, context or {}))

    async def _resolve(self, shortcut_or_id: str, language: str) -> CannedReply:
        check_key(shortcut_or_id, "shortcut")
        if shortcut_or_id.startswith("/"):
            return await self.find(shortcut_or_id, language)
        return await self.get(shortcut_or_id)


def _duplicate(reply: CannedReply) -> InvalidInputError:
    return InvalidInputError(
        f"a canned reply {reply.shortcut!r} exists in {reply.language!r}", field="shortcut"
    )


def _conversation_language(conversation: Conversation) -> str:
    if conversation.language:
        try:
            return normalize_language(conversation.language)
        except ValueError:
            pass
    return "en"


def _context(contact: Contact, agent: Agent, conversation: Conversation) -> dict[str, object]:
    return {
        "contact": _person(contact.name, contact.attributes),
        "agent": _person(agent.name),
        "conversation": {
            "id": conversation.id,
            "subject": conversation.subject,
            "topic": conversation.topic,
        },
    }
