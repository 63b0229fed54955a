"""Messages: send, receive from a channel, page through history."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar

from pydantic import BaseModel, ConfigDict, JsonValue

from ..errors import (
    AttachmentError,
    ConversationClosedError,
    DuplicateKeyError,
    InvalidInputError,
    MessageTooLargeError,
    TooManyAttachmentsError,
)
from ..events import ConversationCreated, Event, MessageCreated
from ..models import (
    Agent,
    Attachment,
    Author,
    AuthorRole,
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Identity,
    IdentityClaim,
    IdentityKind,
    Message,
    MessageKind,
    Page,
)
from ..models._base import new_id, utcnow
from ..stores.base import Insert, Lt, Op, Update
from ._core import bump, check_limit, checked, choice, decode_cursor, encode_cursor
from .attachments import Attachments, Source
from .contacts import (
    Contacts,
    IdentityLike,
    Service,
    as_identity,
    check_flag,
    check_key,
    check_mapping,
    encodable,
)
from .conversations import Conversations, transition
from .pipeline import Arrival, MessageDraft, MessagePipeline, Screening

__all__ = ["CHANNEL_IDENTITY", "Inbound", "Messages"]

_S = ConversationStatus

_log = logging.getLogger("chatkit.messages")

CHANNEL_IDENTITY: dict[Channel, IdentityKind] = {
    Channel.WEB: IdentityKind.WEB,
    Channel.SMS: IdentityKind.PHONE,
    Channel.WHATSAPP: IdentityKind.PHONE,
    Channel.MESSENGER: IdentityKind.MESSENGER,
    Channel.EMAIL: IdentityKind.EMAIL,
}
"""Which identity a channel's sender address is (SMS and WhatsApp share phone numbers)."""

_screened: ContextVar[str | None] = ContextVar("chatkit_screened_contact", default=None)
"""The contact `Messages.receive` already checked for blocks (so `send` does not read again)."""


class Inbound(BaseModel):
    """What `Messages.receive` did with an incoming customer message.

    Attributes:
        contact: The contact the sender was recognised as (or created).
        conversation: The conversation the message landed in.
        message: The stored message.
        acknowledgement: The automatic reply, when one was sent.
        new_conversation: Whether a conversation was started for it.
    """

    model_config = ConfigDict(frozen=True)

    contact: Contact
    conversation: Conversation
    message: Message
    acknowledgement: Message | None = None
    new_conversation: bool = False


class Messages(Service):
    """Messages, notes and system entries in conversations.

    Example:
        ```python
        inbound = await kit.messages.receive(channel="sms", sender="+90 555 010 0000",
                                             text="Where is my order 245-12784?")
        await kit.messages.send(inbound.conversation.id, "Checking now!",
                                author=Author.agent(mia.id))
        ```
    """

    @property
    def pipeline(self) -> MessagePipeline:
        """What writing a message sets off in this kit: screens, commit steps, reactions.

        Features register here (see `chatkit.services.pipeline`); so can an
        application, for one kit.
        """
        return self._core.pipeline

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        author: Author,
        kind: MessageKind | str = MessageKind.TEXT,
        channel: Channel | str | None = None,
        idempotency_key: str | None = None,
        metadata: Mapping[str, JsonValue] | None = None,
        attachments: Sequence[str] = (),
    ) -> Message:
        """Add a message to a conversation.

        A customer message reopens a pending, snoozed or resolved conversation.

        Args:
            conversation_id: The conversation.
            text: The body; not empty, at most `ChatKitSettings.max_message_length`.
            author: Who writes (`Author.customer`, `Author.agent`, ...).
            kind: ``text``, ``note`` (agents only, never shown to the customer) or ``system``.
            channel: Channel it arrives or leaves on; defaults to the conversation's current one.
            idempotency_key: Retrying with the same key returns the first message
                instead of writing a second.
            metadata: Free JSON for the application.
            attachments: Ids of attachments uploaded to this conversation with
                `Attachments.upload` and not sent yet. With attachments the
                text may be empty.

        Raises:
            NotFoundError: No such conversation, or the agent author does not exist.
            TooManyAttachmentsError: More attachments than the limit.
            ConversationClosedError: The conversation is closed.
            MessageTooLargeError: The text is over the limit.
            InvalidInputError: Empty text, bad unicode, wrong author for the kind,
                or the key was used before for a different text.
            ContactBlockedError: The customer author is blocked (see `Abuse`).
        """
        check_key(conversation_id, "conversation_id")
        if not isinstance(author, Author):
            raise InvalidInputError("author must be an Author", field="author")
        check_mapping(metadata, "metadata")
        if idempotency_key is not None and (
            not isinstance(idempotency_key, str)
            or "\x00" in idempotency_key
            or not encodable(idempotency_key)
        ):
            raise InvalidInputError(
                "idempotency_key must be a string without NUL or invalid unicode",
                field="idempotency_key",
            )
        if (
            isinstance(attachments, str)
            or not isinstance(attachments, Iterable)
            or not all(isinstance(a, str) for a in attachments)
        ):
            raise InvalidInputError(
                "attachments must be a list of attachment ids", field="attachments"
            )
        attachment_ids = list(dict.fromkeys(attachments))
        most = self._core.settings.attachments.max_per_message
        if len(attachment_ids) > most:
            raise TooManyAttachmentsError(count=len(attachment_ids), limit=most)
        if not isinstance(text, str) or not (text.strip() or attachment_ids):
            raise InvalidInputError("message text must be a non-empty string", field="text")
        limit = self._core.settings.max_message_length
        if len(text) > limit:
            raise MessageTooLargeError(length=len(text), limit=limit)
        kind = choice(MessageKind, kind, "kind", "message kind")
        chosen = choice(Channel, channel, "channel", "channel") if channel is not None else None
        if kind is MessageKind.NOTE and author.role not in (AuthorRole.AGENT, AuthorRole.BOT):
            raise InvalidInputError(
                "private notes are written by agents (or a bot, for agents)", field="author"
            )
        if author.role is AuthorRole.AGENT:
            await self._load(Agent, author.id or "", "agent")
        if author.role is AuthorRole.CUSTOMER and _screened.get() != author.id:
            await self.pipeline.screen(
                Screening(
                    self._core, contact_id=author.id, channel=chosen.value if chosen else None
                )
            )
        extra = dict(metadata or {})

        async def attempt() -> Message:
            if idempotency_key is not None:
                found = await self._by_key(conversation_id, idempotency_key)
                if found is not None:
                    return self._same(found, text)
            conversation = await self._load(Conversation, conversation_id, "conversation")
            uploads = [await self._unsent(conversation, a) for a in attachment_ids]
            message = checked(
                Message,
                id=new_id("msg"),
                conversation_id=conversation.id,
                seq=conversation.last_seq + 1,
                kind=kind,
                author=author,
                channel=chosen or conversation.channel,
                text=text,
                idempotency_key=idempotency_key,
                metadata=extra,
                attachments=[a.info() for a in uploads],
            )
            customer = await self._customer(author, conversation)
            draft = self._draft(conversation, message, customer)
            draft.ops += [Update(bump(a, message_id=message.id)) for a in uploads]
            await self.pipeline.build(draft)
            message = draft.message
            ops = [Update(draft.conversation), Insert(message), *draft.ops]
            events = [*draft.leading, self._created(draft), *draft.trailing]
            try:
                await self._core.commit(ops, events)
            except DuplicateKeyError as exc:
                if idempotency_key is not None and "idempotency_key" in exc.columns:
                    found = await self._by_key(conversation_id, idempotency_key)
                    if found is not None:
                        return self._same(found, text)
                raise
            return message

        return await self._core.retry(attempt)

    async def _customer(self, author: Author, conversation: Conversation) -> str | None:
        if author.role is not AuthorRole.CUSTOMER:
            return None
        if author.id == conversation.contact_id:
            return author.id
        # Possibly an id that was merged into the conversation's contact.
        return (await Contacts(self._core).get(author.id or "")).id

    def _append(
        self, conversation: Conversation, message: Message, customer_id: str | None
    ) -> tuple[builtins.list[Op], builtins.list[Event]]:
        """The bare commit of ``message``, without the pipeline's steps (for sync's imports)."""
        draft = self._draft(conversation, message, customer_id)
        return [Update(draft.conversation), Insert(message)], [
            *draft.leading,
            self._created(draft),
        ]

    @staticmethod
    def _created(draft: MessageDraft) -> MessageCreated:
        return MessageCreated(
            conversation_id=draft.before.id,
            contact_id=draft.before.contact_id,
            message=draft.message,
        )

    def _draft(
        self, conversation: Conversation, message: Message, customer_id: str | None
    ) -> MessageDraft:
        """Check ``message`` can go into ``conversation`` and start its commit."""
        if conversation.status is _S.CLOSED:
            raise ConversationClosedError(conversation.id)
        if customer_id is not None and customer_id != conversation.contact_id:
            raise InvalidInputError(
                f"contact {customer_id} is not the customer of {conversation.id}", field="author"
            )
        events: builtins.list[Event] = []
        current = conversation
        if customer_id is not None and current.status is not _S.OPEN:
            current, reopened = transition(current, _S.OPEN, reason="customer_message")
            events.append(reopened)
        channels = current.channels
        if message.channel not in channels:
            channels = [*channels, message.channel]
        now = utcnow()
        updated = current.model_copy(
            update={
                "last_seq": message.seq,
                "last_message_at": message.created_at,
                "channel": message.channel
                if message.kind is not MessageKind.NOTE
                else current.channel,
                "channels": channels,
                "updated_at": now,
                "version": conversation.version + 1,
            }
        )
        return MessageDraft(
            self._core, before=conversation, conversation=updated, message=message, leading=events
        )

    async def _unsent(self, conversation: Conversation, attachment_id: str) -> Attachment:
        attachment = await self._load(Attachment, attachment_id, "attachment")
        if attachment.conversation_id != conversation.id:
            raise InvalidInputError(
                f"attachment {attachment_id} belongs to another conversation", field="attachments"
            )
        if attachment.message_id is not None:
            raise InvalidInputError(
                f"attachment {attachment_id} was already sent", field="attachments"
            )
        return attachment

    async def _by_key(self, conversation_id: str, key: str) -> Message | None:
        store = await self._core.ready()
        found = await store.find(
            Message, {"conversation_id": conversation_id, "idempotency_key": key}, limit=1
        )
        return found[0] if found else None

    @staticmethod
    def _same(found: Message, text: str) -> Message:
        if found.text != text:
            raise InvalidInputError(
                f"idempotency key {found.idempotency_key!r} was used for a different message",
                field="idempotency_key",
            )
        return found

    async def note(self, conversation_id: str, text: str, *, agent_id: str) -> Message:
        """Add a private note by an agent (never shown to the customer)."""
        author = Author.agent(check_key(agent_id, "agent_id"))
        return await self.send(conversation_id, text, author=author, kind=MessageKind.NOTE)

    async def get(self, message_id: str) -> Message:
        """Return one message.

        Raises:
            NotFoundError: No such message.
        """
        return await self._load(Message, message_id, "message")

    async def list(
        self, conversation_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Message]:
        """One page of a conversation's history, oldest first within the page.

        The first call returns the latest ``limit`` messages; pass ``next_cursor``
        to get the ones before them, and so on back to the first message.

        Raises:
            NotFoundError: No such conversation.
        """
        check_key(conversation_id, "conversation_id")
        check_limit(limit)
        where: dict[str, object] = {"conversation_id": conversation_id}
        if cursor is not None:
            before = decode_cursor(cursor)
            if not (before.isascii() and before.isdigit()):
                raise InvalidInputError("malformed page cursor", field="cursor")
            where["seq"] = Lt(int(before))
        store = await self._core.ready()
        items = await store.find(Message, where, order_by="seq", descending=True, limit=limit + 1)
        if not items and cursor is None:
            await self._load(Conversation, conversation_id, "conversation")
        more = len(items) > limit
        items = items[:limit]
        items.reverse()
        return Page(items=items, next_cursor=encode_cursor(str(items[0].seq)) if more else None)

    async def _current(
        self, contact_id: str, channel: Channel, claim: IdentityClaim | None = None
    ) -> tuple[Conversation, bool]:
        """The contact's latest conversation that is not closed, else a new one (and True).

        A new conversation records ``claim`` (the unproven identity its sender claimed).

        Starting a conversation also bumps the contact's version in the same
        commit, so of two messages racing to start one, one wins and the other
        (retried on the conflict) finds the winner's conversation.
        """
        contact = await Contacts(self._core).get(contact_id)
        latest = await Conversations(self._core).list(
            contact_id=contact.id, status=[s for s in _S if s is not _S.CLOSED], limit=1
        )
        if latest.items:
            return latest.items[0], False
        conversation = checked(
            Conversation,
            id=new_id("conv"),
            contact_id=contact.id,
            channel=channel,
            channels=[channel],
            claim=claim,
        )
        event = ConversationCreated(
            conversation_id=conversation.id, contact_id=contact.id, conversation=conversation
        )
        guard = contact.model_copy(update={"version": contact.version + 1})
        await self._core.commit([Insert(conversation), Update(guard)], [event])
        return conversation, True

    async def receive(
        self,
        *,
        channel: Channel | str,
        sender: str | IdentityLike,
        text: str,
        name: str | None = None,
        idempotency_key: str | None = None,
        metadata: Mapping[str, JsonValue] | None = None,
        ip: str | None = None,
        email: str | None = None,
        verified: bool | None = None,
        uploads: Sequence[tuple[str, Source]] = (),
    ) -> Inbound:
        """Take in a customer's message from a channel.

        The sender address (phone number for SMS and WhatsApp, e-mail address,
        widget visitor id, Messenger id) finds the contact, or creates one.
        The message goes into the contact's most recent conversation that is
        not closed, on whatever channel it started, so the history stays one;
        otherwise a new conversation starts (and gets the configured
        acknowledgement).

        Only a verified sender joins the contact that holds its identity. A
        sender that merely claims an identity another contact holds gets a
        contact and conversation of its own, and sees none of the holder's
        history; the conversation's `Conversation.claim` tells agents whom
        it claims to be (see `Contacts.identify`).

        Args:
            channel: The channel it arrived on.
            sender: The sender's address on that channel, or an explicit identity.
            text: The message.
            name: The sender's name, used when a contact is created.
            idempotency_key: The channel's message id, so redelivery is harmless.
                It counts within the conversation the sender lands in: a
                sender without proof lands in a new conversation each time,
                so its redelivery is a new message (verify the sender, or
                drop redeliveries before calling).
            metadata: Free JSON for the application.
            ip: The sender's IP address, as the web widget saw it (checked against IP blocks).
            email: An e-mail address the widget collected (checked against e-mail domain blocks).
            verified: Whether the application proved the sender's identity
                (a signed-in user, a widget visitor id it issued and checked,
                mail it authenticated). ``None`` (the default): a plain
                string ``sender`` is verified on the channels in
                `ChatKitSettings.verified_channels` (SMS, WhatsApp and
                Messenger, whose provider delivered it from that address)
                and not on the others (web, e-mail); an explicit identity is
                verified only when it is an `Identity` with ``verified`` set.
            uploads: Files that came with it, as ``(name, bytes or chunks)``,
                stored as its attachments (`Attachments.upload`; one its
                limits refuse is left out and logged). With uploads the text
                may be empty.

        Raises:
            ContactBlockedError: The sender is blocked (by contact, identity, IP
                or e-mail domain); no contact, conversation or message was written.
            InvalidInputError: Bad channel, sender, text or metadata, or
                ``verified`` neither ``None`` nor a bool; nothing was written.
        """
        via = choice(Channel, channel, "channel", "channel")
        if verified is not None:
            check_flag(verified, "verified")
        if isinstance(sender, str):
            if via not in CHANNEL_IDENTITY:
                raise InvalidInputError(
                    f"channel {via.value!r} has no sender address; pass an identity",
                    field="sender",
                )
            identity = checked(Identity, kind=CHANNEL_IDENTITY[via], value=sender)
            proven = via in self._core.settings.verified_channels
        else:
            identity = as_identity(sender)
            proven = identity.verified
        identity = identity.as_verified(proven if verified is None else verified)
        if not isinstance(text, str) or not (text.strip() or uploads):
            raise InvalidInputError("message text must be a non-empty string", field="text")
        # Check the message as `send` will, before a contact or conversation is written for it.
        limit = self._core.settings.max_message_length
        if len(text) > limit:
            raise MessageTooLargeError(length=len(text), limit=limit)
        check_mapping(metadata, "metadata")
        checked(
            Message,
            id="msg_check",
            conversation_id="conv_check",
            seq=1,
            author=Author.bot(),
            channel=via,
            text=text,
            idempotency_key=idempotency_key,
            metadata=dict(metadata or {}),
        )
        known = await Contacts(self._core).find(identity)
        await self.pipeline.screen(
            Screening(
                self._core,
                contact_id=known.id if known else None,
                identity=identity,
                ip=ip,
                email=email,
                channel=via.value,
            )
        )
        contact, claim = await Contacts(self._core)._identify(
            identity, name=name, verified=identity.verified
        )
        conversations = Conversations(self._core)
        conversation, new = await self._core.retry(lambda: self._current(contact.id, via, claim))
        attachment_ids: builtins.list[str] = []
        if uploads and (
            idempotency_key is None or await self._by_key(conversation.id, idempotency_key) is None
        ):
            files = Attachments(self._core)
            for file_name, source in uploads:
                try:
                    uploaded = await files.upload(
                        conversation.id, source, name=file_name, author=Author.customer(contact.id)
                    )
                except AttachmentError as exc:
                    _log.warning("an inbound attachment was refused: %s", type(exc).__name__)
                    continue
                attachment_ids.append(uploaded.id)
        if not text.strip() and not attachment_ids:
            text = "[attachment]"
        screened = _screened.set(contact.id)
        try:
            message = await self.send(
                conversation.id,
                text,
                author=Author.customer(contact.id),
                channel=via,
                idempotency_key=idempotency_key,
                metadata=metadata,
                attachments=attachment_ids,
            )
        finally:
            _screened.reset(screened)
        arrival = Arrival(
            self._core,
            contact=contact,
            conversation=conversation,
            message=message,
            new_conversation=new,
        )
        await self.pipeline.react(arrival)
        return Inbound(
            contact=await Contacts(self._core).get(contact.id),
            conversation=await conversations.get(conversation.id),
            message=message,
            acknowledgement=arrival.acknowledgement,
            new_conversation=new,
        )
