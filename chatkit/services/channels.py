"""Messaging channels: provider webhooks in, replies out, delivery states (``kit.channels``).

How a customer's text gets in:

1. The provider POSTs to ``/channels/<name>/...`` (`chatkit.web`), or the
   application calls `Channels.handle_webhook`. The adapter verifies the
   signature and reads the body (`ChannelAdapter.parse_webhook`); a refused
   request raises `ChannelWebhookError` and writes nothing.
2. One commit writes a `ChannelReceipt` per provider message id and a
   ``channel.message_received`` event to the outbox; the provider gets its
   answer right away. A redelivery (same provider id) hits the receipt's
   primary key and is answered the same, written once.
3. The ``channel-inbound`` dispatch group (the worker, or `Channels.drain`)
   turns each event into a customer message with `Messages.receive`: the
   sender's number in E.164 finds the contact (SMS and WhatsApp share it),
   the message goes into the contact's open conversation, its media is
   fetched into the blob store. Events of one batch are written in the
   provider's time order where it gives one.

How a reply gets out:

1. The ``channel-sends`` dispatch group reads ``message.created`` events. An
   agent's, bot's or automatic text message on a ``sms``/``whatsapp``
   conversation gets a `ChannelSend` (one per message, whatever the number
   of deliveries) and ``Message.delivery`` ``pending``.
2. Due sends are claimed (a version-checked write that counts the attempt),
   handed to `ChannelAdapter.send` with a status callback URL, and the
   outcome recorded: ``queued`` with the provider's id, a retry after a
   backoff (429, 5xx, timeouts), or ``failed`` with the provider's error.
   A send whose previous attempt's outcome was never recorded (a worker
   stopped mid-send) is looked up with `ChannelAdapter.find_sent` before it
   is sent again: at least once to the adapter, at most once to the customer.
3. Status callbacks move ``Message.delivery`` forward (queued, sent,
   delivered, read; failed with the error) and publish
   ``message.delivery_updated``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import logging
import os
import random
import tempfile
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from ..channels.base import (
    ChannelAdapter,
    ChannelRequest,
    ChannelResponse,
    InboundMessage,
    OutboundMessage,
    SendResult,
    StatusUpdate,
)
from ..channels.phone import normalize_phone
from ..channels.settings import ChannelSettings
from ..errors import (
    ChannelMediaError,
    ChannelSendError,
    ChannelWebhookError,
    ConfigurationError,
    ConflictError,
    DuplicateKeyError,
    InvalidInputError,
    NotFoundError,
)
from ..events import ChannelMessageReceived, ChannelStatusReceived, Event, MessageDeliveryUpdated
from ..events.conversations import MessageCreated
from ..models._base import utcnow
from ..models.authors import AuthorRole
from ..models.channels import ChannelReceipt, ChannelSend, ChannelSendStatus
from ..models.contacts import IdentityKind
from ..models.conversations import Channel
from ..models.messages import DeliveryState, Message, MessageDelivery, MessageKind
from ..redact import mask_text
from ..stores.base import In, Insert, Lt, Op, Update, column_value
from ._core import Core, bump, check_limit, choice, short
from .contacts import Service
from .dispatch import Dispatcher
from .messages import Inbound, Messages

__all__ = [
    "INBOUND_GROUP",
    "SENDS_GROUP",
    "ChannelDispatcher",
    "ChannelSettings",
    "Channels",
]

log = logging.getLogger("chatkit.channels")

INBOUND_GROUP = "channel-inbound"
"""The dispatch group that writes received provider messages into conversations."""

SENDS_GROUP = "channel-sends"
"""The dispatch group that turns agents' replies into sends."""

_PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


def _key(moment: datetime) -> str:
    return str(column_value(moment))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def receipt_id(account: str, provider_id: str, kind: str = "message") -> str:
    """The `ChannelReceipt` id of a provider delivery (the same for every redelivery)."""
    return f"chr_{_digest(account, kind, provider_id)}"


def send_id(message_id: str) -> str:
    """The `ChannelSend` id of a message."""
    return f"chs_{_digest(message_id)}"


def _check_batch(batch_size: object) -> None:
    if (
        not isinstance(batch_size, int)
        or isinstance(batch_size, bool)
        or not 1 <= batch_size <= 10_000
    ):
        raise InvalidInputError("batch_size must be an integer from 1 to 10000", field="batch_size")


def _clean(text: str, limit: int = 500) -> str:
    return short(mask_text(text.replace("\x00", " ")), limit)


class Channels(Service):
    """Channel accounts of this kit, and what they receive and send (``kit.channels``).

    Example:
        ```python
        from chatkit_integrations.twilio import TwilioAdapter

        kit.channels.add(TwilioAdapter.from_env())
        app = kit.asgi()          # Twilio posts to /channels/twilio/messages
        await kit.run_worker()    # writes what came in, sends the replies
        ```
    """

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._adapters: dict[str, ChannelAdapter] = {}

    @property
    def settings(self) -> ChannelSettings:
        """The settings in effect (`ChatKitSettings.channels`)."""
        return self._core.settings.channels

    # -- accounts ----------------------------------------------------------------

    def add(self, adapter: ChannelAdapter) -> ChannelAdapter:
        """Serve ``adapter``'s account: its webhooks, and replies on its channels.

        Raises:
            ConfigurationError: Not a `ChannelAdapter`, or its name is taken.
        """
        if not isinstance(adapter, ChannelAdapter):
            raise ConfigurationError("kit.channels.add takes a ChannelAdapter")
        if adapter.name in self._adapters:
            raise ConfigurationError(f"a channel account named {adapter.name!r} is already added")
        self._adapters[adapter.name] = adapter
        return adapter

    def add_from_env(
        self, environ: Mapping[str, str] | None = None
    ) -> builtins.list[ChannelAdapter]:
        """Add the accounts ``CHATKIT_CHANNELS`` names, each configured from its own variables.

        ``CHATKIT_CHANNELS`` is a comma-separated list of account names,
        each optionally ``name=provider`` (``"twilio"``,
        ``"twilio,twilio-eu=twilio"``); the provider's adapter (entry-point
        group ``chatkit.channels``) reads the account's variables
        (``CHATKIT_TWILIO_EU_ACCOUNT_SID``...). ``chatkit serve`` and
        ``chatkit worker`` call this.

        Returns:
            The adapters added (none when the variable is unset).

        Raises:
            ConfigurationError: An unknown provider, or an account's variables
                are missing or invalid.
        """
        from ..channels import adapters

        env = os.environ if environ is None else environ
        if not isinstance(env, Mapping):
            raise InvalidInputError("environ must be a mapping", field="environ")
        value = env.get("CHATKIT_CHANNELS")
        if value is not None and not isinstance(value, str):
            raise InvalidInputError("CHATKIT_CHANNELS must be a string", field="environ")
        added: builtins.list[ChannelAdapter] = []
        for item in (env.get("CHATKIT_CHANNELS") or "").split(","):
            name, _, kind = item.strip().partition("=")
            if not name:
                continue
            adapter_class = adapters.load(kind.strip() or name)
            added.append(self.add(adapter_class.from_env(name, env)))
        return added

    def get(self, name: str) -> ChannelAdapter:
        """The account called ``name``.

        Raises:
            NotFoundError: No account of that name was added.
        """
        if not isinstance(name, str):
            raise InvalidInputError("a channel account's name is a string", field="name")
        adapter = self._adapters.get(name)
        if adapter is None:
            raise NotFoundError("channel account", short(name, 60))
        return adapter

    def accounts(self) -> builtins.list[ChannelAdapter]:
        """The accounts added, in the order they were."""
        return builtins.list(self._adapters.values())

    def _for_channel(self, channel: Channel) -> ChannelAdapter | None:
        for adapter in self._adapters.values():
            if channel in adapter.channels:
                return adapter
        return None

    async def aclose(self) -> None:
        """Close every account's connections."""
        for adapter in self._adapters.values():
            await adapter.aclose()

    # -- inbound -----------------------------------------------------------------

    async def handle_webhook(self, name: str, request: ChannelRequest) -> ChannelResponse:
        """Verify, read and durably record one provider request; what to answer.

        Messages and status reports are written once per provider id (a
        redelivery is answered the same and writes nothing) and processed
        after the answer, by the dispatch groups.

        Raises:
            NotFoundError: No account called ``name``.
            ChannelWebhookError: The adapter refused the request; nothing was written.
        """
        if not isinstance(request, ChannelRequest):
            raise InvalidInputError("request must be a ChannelRequest", field="request")
        adapter = self.get(name)
        if request.method.upper() == "GET":
            answer = await adapter.handshake(request)
            if answer is None:
                raise ChannelWebhookError(
                    f"channel {name}: GET is not a delivery",
                    channel=name,
                    reason="malformed",
                    status_code=405,
                )
            return answer
        parsed = await adapter.parse_webhook(request)
        now = utcnow()
        rows: dict[str, tuple[ChannelReceipt, Event]] = {}
        for inbound in parsed.messages:
            rid = receipt_id(name, inbound.provider_message_id)
            rows[rid] = (
                ChannelReceipt(
                    id=rid,
                    account=name,
                    provider_message_id=inbound.provider_message_id,
                    kind="message",
                    received_at=now,
                ),
                ChannelMessageReceived(account=name, inbound=inbound),
            )
        for status in parsed.statuses:
            kind = f"status:{status.state.value}"
            rid = receipt_id(name, status.provider_message_id, kind)
            rows[rid] = (
                ChannelReceipt(
                    id=rid,
                    account=name,
                    provider_message_id=status.provider_message_id,
                    kind=kind[:20],
                    received_at=now,
                ),
                ChannelStatusReceived(account=name, status=status),
            )
        await self._write_new(rows)
        return parsed.response

    async def _write_new(self, rows: dict[str, tuple[ChannelReceipt, Event]]) -> int:
        if not rows:
            return 0
        store = await self._core.ready()
        for _ in range(self._core.settings.conflict_retries + 1):
            found = {
                r.id for r in await store.find(ChannelReceipt, {"id": In(builtins.list(rows))})
            }
            new = [pair for rid, pair in rows.items() if rid not in found]
            if not new:
                if found:
                    log.info("channel delivery already received; written once")
                return 0
            try:
                await self._core.commit([Insert(r) for r, _ in new], [e for _, e in new])
            except (DuplicateKeyError, ConflictError):
                continue  # a concurrent redelivery wrote some: read again
            return len(new)
        raise ConflictError("channel receipts kept changing")  # pragma: no cover

    def inbound_dispatcher(self, *, batch_size: int = 100) -> Dispatcher:
        """The ``channel-inbound`` dispatch group: received messages into conversations."""
        _check_batch(batch_size)
        return Dispatcher(
            self._core,
            INBOUND_GROUP,
            self._handle_inbound,
            batch_size=batch_size,
            types=("channel.message_received", "channel.status_received"),
        )

    async def _handle_inbound(self, events: builtins.list[Event]) -> None:
        messages = [e for e in events if isinstance(e, ChannelMessageReceived)]
        # The provider's time first (messages delivered out of order), then arrival.
        messages.sort(key=lambda e: (e.inbound.sent_at or e.occurred_at, e.position or 0))
        for received in messages:
            await self.receive(received.account, received.inbound)
        for event in events:
            if isinstance(event, ChannelStatusReceived):
                await self.apply_status(event.account, event.status)

    async def receive(self, account: str, inbound: InboundMessage) -> Inbound | None:
        """Write one provider message into its contact's conversation (once per provider id).

        Returns what `Messages.receive` did, or ``None`` when it was written
        before or could not be (a sender that is not a phone number, a
        blocked sender: logged).
        """
        if not isinstance(inbound, InboundMessage):
            raise InvalidInputError("inbound must be an InboundMessage", field="inbound")
        adapter = self.get(account)
        store = await self._core.ready()
        rid = receipt_id(account, inbound.provider_message_id)
        receipt = await store.get(ChannelReceipt, rid)
        if receipt is not None and receipt.kind == "done":
            return None
        sender = inbound.sender
        if inbound.channel in _PHONE_CHANNELS:
            try:
                sender = normalize_phone(sender, region=self.settings.default_region)
            except ValueError as exc:
                log.warning("channel %s: message %s refused: sender %s", account, rid, exc)
                return None
        spooled = await self._fetch_media(adapter, inbound)
        metadata: dict[str, Any] = {
            "channel": {
                "account": account,
                "provider_message_id": inbound.provider_message_id,
                "from": sender,
                "to": inbound.recipient,
            }
        }
        try:
            uploads = [(name, self._stream(f)) for name, f in spooled]
            result = await Messages(self._core).receive(
                channel=inbound.channel,
                sender=sender,
                text=inbound.text,
                name=inbound.name,
                idempotency_key=f"{account}:{inbound.provider_message_id}"[:200],
                metadata=metadata,
                uploads=uploads,
            )
        except Exception as exc:
            from ..errors import ContactBlockedError

            if isinstance(exc, ContactBlockedError | InvalidInputError):
                log.warning(
                    "channel %s: message %s not written: %s", account, rid, type(exc).__name__
                )
                await self._mark_done(rid)
                return None
            raise
        finally:
            for _, handle in spooled:
                handle.close()
        await self._mark_done(rid)
        return result

    async def _mark_done(self, rid: str) -> None:
        store = await self._core.ready()
        receipt = await store.get(ChannelReceipt, rid)
        if receipt is not None and receipt.kind != "done":
            with contextlib.suppress(ConflictError):
                await self._core.commit([Update(bump(receipt, kind="done"))])

    async def _fetch_media(
        self, adapter: ChannelAdapter, inbound: InboundMessage
    ) -> builtins.list[tuple[str, Any]]:
        """Fetch every attachment into spooled files before anything is written."""
        out: builtins.list[tuple[str, Any]] = []
        limit = min(adapter.max_media_bytes, self._core.settings.attachments.max_bytes)
        for index, media in enumerate(inbound.media):
            handle = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed by the caller
            size = 0
            try:
                async for chunk in adapter.fetch_media(media):
                    size += len(chunk)
                    if size > limit:
                        raise ChannelMediaError(
                            f"channel {adapter.name}: media over {limit} bytes",
                            channel=adapter.name,
                            reason="too_large",
                        )
                    handle.write(chunk)
            except ChannelMediaError as exc:
                handle.close()
                log.warning(
                    "channel %s: media %d of %s refused: %s",
                    adapter.name,
                    index,
                    inbound.provider_message_id,
                    exc.reason,
                )
                continue
            except BaseException:
                handle.close()
                for _, other in out:
                    other.close()
                raise
            handle.seek(0)
            out.append((media.name or f"media-{index + 1}", handle))
        return out

    @staticmethod
    async def _stream(handle: Any) -> AsyncIterator[bytes]:
        while chunk := handle.read(1 << 16):
            yield chunk

    async def apply_status(self, account: str, status: StatusUpdate) -> Message | None:
        """Move a sent message's delivery state forward (never back); the message, if known."""
        if not isinstance(status, StatusUpdate):
            raise InvalidInputError("status must be a StatusUpdate", field="status")
        self.get(account)
        store = await self._core.ready()
        send: ChannelSend | None = None
        if status.message_id:
            send = await store.get(ChannelSend, send_id(status.message_id))
        if send is None:
            found = await store.find(
                ChannelSend,
                {"account": account, "provider_message_id": status.provider_message_id},
                limit=1,
            )
            send = found[0] if found else None
        if send is None or send.account != account:
            log.info("channel %s: status for an unknown message; ignored", account)
            return None
        message_id = send.message_id

        async def attempt() -> Message | None:
            current = await store.get(ChannelSend, send_id(message_id))
            message = await store.get(Message, message_id)
            if current is None or message is None:
                return None
            if current.state is DeliveryState.FAILED or status.state.rank <= current.state.rank:
                return None
            updates: dict[str, object] = {"state": status.state}
            if current.provider_message_id is None:
                updates["provider_message_id"] = status.provider_message_id
                updates["status"] = ChannelSendStatus.SENT
                updates["due_key"] = None
            if status.state is DeliveryState.FAILED:
                updates["error_code"] = status.error_code
                updates["error"] = _clean(status.error or "the provider reported a failure")
            new_send = bump(current, **updates)
            return await self._set_delivery(
                message,
                new_send,
                [Update(new_send)],
            )

        return await self._core.retry(attempt)

    async def _set_delivery(
        self, message: Message, send: ChannelSend, ops: builtins.list[Op]
    ) -> Message:
        delivery = MessageDelivery(
            state=send.state,
            account=send.account,
            provider_message_id=send.provider_message_id,
            error_code=send.error_code if send.state is DeliveryState.FAILED else None,
            error=send.error if send.state is DeliveryState.FAILED else None,
            updated_at=utcnow(),
        )
        new = bump(message, delivery=delivery)
        await self._core.commit(
            [*ops, Update(new)],
            [
                MessageDeliveryUpdated(
                    conversation_id=message.conversation_id,
                    message_id=message.id,
                    delivery=delivery,
                )
            ],
        )
        return new

    # -- outbound ----------------------------------------------------------------

    def dispatcher(self, *, batch_size: int = 100) -> ChannelDispatcher:
        """A dispatcher of both groups (what the worker runs): inbound, sends, and due sends."""
        _check_batch(batch_size)
        return ChannelDispatcher(
            self,
            self.inbound_dispatcher(batch_size=batch_size),
            Dispatcher(
                self._core,
                SENDS_GROUP,
                self._handle_created,
                batch_size=batch_size,
                types=("message.created",),
            ),
        )

    async def _handle_created(self, events: builtins.list[Event]) -> None:
        for event in events:
            if isinstance(event, MessageCreated):
                await self._queue(event.message)

    def _wants(self, message: Message) -> bool:
        return (
            message.kind is MessageKind.TEXT
            and message.author.role is not AuthorRole.CUSTOMER
            and message.channel in _PHONE_CHANNELS
            and self._for_channel(message.channel) is not None
        )

    async def _queue(self, message: Message) -> ChannelSend | None:
        """Write the send of ``message`` (once) and mark it pending."""
        if not self._wants(message):
            return None
        age = (utcnow() - message.created_at).total_seconds()
        if age > self.settings.max_reply_age:
            log.warning(
                "channel: message %s is %.0f s old (max_reply_age); not sent", message.id, age
            )
            return None
        store = await self._core.ready()
        sid = send_id(message.id)
        if await store.get(ChannelSend, sid) is not None:
            return None
        route = await self._route(message)
        now = utcnow()
        if route is None:
            log.warning("channel: no address to send message %s to; not sent", message.id)
            return None
        adapter, to, sender, last_seen = route
        send = ChannelSend(
            id=sid,
            message_id=message.id,
            conversation_id=message.conversation_id,
            account=adapter.name,
            channel=message.channel,
            to=to,
            sender=sender,
            due_key=_key(now),
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        window = adapter.window(message.channel)
        if window is not None and (last_seen is None or now - last_seen > window):
            send = send.model_copy(
                update={
                    "status": ChannelSendStatus.FAILED,
                    "state": DeliveryState.FAILED,
                    "due_key": None,
                    "next_attempt_at": None,
                    "error_code": "window_closed",
                    "error": f"the customer last wrote more than {window} ago; "
                    f"{message.channel.value} allows free-form replies only within that window",
                }
            )

        async def attempt() -> ChannelSend | None:
            current = await store.get(Message, message.id)
            if current is None:
                return None
            try:
                await self._set_delivery(current, send, [Insert(send)])
            except DuplicateKeyError:
                return None
            return send

        return await self._core.retry(attempt)

    async def _route(
        self, message: Message
    ) -> tuple[ChannelAdapter, str, str | None, datetime | None] | None:
        """Account, customer address, business address and the customer's last message time."""
        store = await self._core.ready()
        recent = await store.find(
            Message,
            {"conversation_id": message.conversation_id, "seq": Lt(message.seq)},
            order_by="seq",
            descending=True,
            limit=200,
        )
        for earlier in recent:
            if earlier.author.role is not AuthorRole.CUSTOMER or earlier.channel != message.channel:
                continue
            info = earlier.metadata.get("channel")
            if not isinstance(info, dict):
                continue
            account, to, sender = info.get("account"), info.get("from"), info.get("to")
            adapter = self._adapters.get(account) if isinstance(account, str) else None
            if adapter is not None and isinstance(to, str):
                return (
                    adapter,
                    to,
                    sender if isinstance(sender, str) and sender else None,
                    earlier.created_at,
                )
        adapter = self._for_channel(message.channel)
        if adapter is None:
            return None
        from ..models.conversations import Conversation
        from .contacts import Contacts

        conversation = await store.get(Conversation, message.conversation_id)
        if conversation is None:
            return None
        contact = await Contacts(self._core).get(conversation.contact_id)
        for identity in contact.identities:
            if identity.kind is IdentityKind.PHONE:
                try:
                    return adapter, normalize_phone(identity.value), None, None
                except ValueError:
                    continue
        return None

    async def _claim_due(self, free: int) -> builtins.list[tuple[ChannelSend, datetime | None]]:
        """Claim due sends; with each, since when an unrecorded earlier attempt may have sent it."""
        store = await self._core.ready()
        now = utcnow()
        due = _key(now + timedelta(microseconds=1))
        out: builtins.list[tuple[ChannelSend, datetime | None]] = []
        for name in self._adapters:
            if len(out) >= free:
                break
            rows = await store.find(
                ChannelSend,
                {"account": name, "due_key": Lt(due)},
                order_by="due_key",
                limit=free - len(out),
            )
            for row in rows:
                if row.status is not ChannelSendStatus.PENDING:
                    continue
                hold = now + timedelta(seconds=self.settings.timeout * 2 + 1.0)
                claimed = bump(
                    row,
                    attempts=row.attempts + 1,
                    last_attempt_at=now,
                    due_key=_key(hold),
                    next_attempt_at=hold,
                )
                try:
                    await self._core.commit([Update(claimed)])
                except ConflictError:
                    continue
                unknown = row.attempts > 0 and row.error is None
                out.append((claimed, row.last_attempt_at if unknown else None))
        return out

    async def _attempt(
        self, send: ChannelSend, unknown_since: datetime | None = None
    ) -> ChannelSend:
        """Send one claimed send and record the outcome."""
        adapter = self.get(send.account)
        store = await self._core.ready()
        message = await store.get(Message, send.message_id)
        if message is None:
            return await self._record(send, {"status": ChannelSendStatus.FAILED, "due_key": None})
        outbound = OutboundMessage(
            message_id=message.id,
            channel=send.channel,
            to=send.to,
            sender=send.sender,
            text=message.text,
            status_callback=None,
        )
        result: SendResult | None = None
        if unknown_since is not None:
            # The previous attempt's outcome was never recorded: it may have gone out.
            since = unknown_since - timedelta(seconds=5)
            with contextlib.suppress(ChannelSendError):
                result = await adapter.find_sent(outbound, since)
            if result is not None:
                log.info("channel %s: %s was sent by an earlier attempt", send.account, send.id)
        error: ChannelSendError | None = None
        if result is None:
            try:
                async with asyncio.timeout(self.settings.timeout):
                    result = await adapter.send(outbound)
            except ChannelSendError as exc:
                error = exc
            except TimeoutError:
                error = ChannelSendError(
                    f"no answer within {self.settings.timeout:g} s",
                    channel=send.account,
                    retryable=True,
                    uncertain=True,
                )
        if result is not None:
            return await self._record(
                send,
                {
                    "status": ChannelSendStatus.SENT,
                    "state": max(result.state, DeliveryState.QUEUED, key=lambda s: s.rank),
                    "provider_message_id": result.provider_message_id,
                    "due_key": None,
                    "next_attempt_at": None,
                    "error": None,
                    "error_code": None,
                },
            )
        assert error is not None
        text = _clean(str(error))
        updates: dict[str, object] = {"error": text, "error_code": error.provider_code}
        if not error.retryable or send.attempts >= self.settings.max_attempts:
            updates.update(
                status=ChannelSendStatus.FAILED,
                state=DeliveryState.FAILED,
                due_key=None,
                next_attempt_at=None,
            )
            log.warning(
                "channel %s: %s failed for good (attempt %d): %s",
                send.account,
                send.id,
                send.attempts,
                text,
            )
        else:
            wait = (
                min(error.retry_after, self.settings.max_retry_delay)
                if error.retry_after is not None
                else min(
                    self.settings.max_retry_delay,
                    self.settings.retry_delay
                    * 3.0 ** max(0, min(send.attempts - 1, 30))
                    * random.uniform(0.8, 1.2),
                )
            )
            due = utcnow() + timedelta(seconds=wait)
            updates.update(due_key=_key(due), next_attempt_at=due)
            if error.uncertain:
                updates["error"] = None  # checked with find_sent before the next attempt
            log.info(
                "channel %s: %s attempt %d failed (%s); retry in %.1f s",
                send.account,
                send.id,
                send.attempts,
                text,
                wait,
            )
        return await self._record(send, updates)

    async def _record(self, send: ChannelSend, updates: dict[str, object]) -> ChannelSend:
        store = await self._core.ready()
        new = bump(send, **updates)
        message = await store.get(Message, send.message_id)
        terminal_or_sent = new.status is not ChannelSendStatus.PENDING
        try:
            if message is not None and terminal_or_sent:
                if message.delivery is not None and message.delivery.state.rank > new.state.rank:
                    new = new.model_copy(update={"state": message.delivery.state})
                await self._set_delivery(message, new, [Update(new)])
            else:
                await self._core.commit([Update(new)])
        except ConflictError:
            # A status callback came first: it recorded the provider's id and state.
            current = await store.get(ChannelSend, send.id)
            log.info("channel send %s changed during its attempt; kept what is stored", send.id)
            return current if current is not None else new
        return new

    async def drain(self) -> int:
        """Handle every event waiting in both groups and send every due reply; the work done."""
        async with self.dispatcher() as dispatcher:
            return await dispatcher.drain()

    async def sends(
        self, *, status: ChannelSendStatus | None = None, limit: int = 100
    ) -> builtins.list[ChannelSend]:
        """The sent-log (all accounts), or only pending, sent or failed sends."""
        if status is not None:
            status = choice(ChannelSendStatus, status, "status", "send status")
        limit = check_limit(limit)
        store = await self._core.ready()
        where = {"status": status} if status is not None else None
        return await store.find(ChannelSend, where, limit=limit)


class ChannelDispatcher:
    """Runs the channel groups in one loop: inbound events, new replies, due sends.

    Get one from `Channels.dispatcher`; the worker runs one (job ``channels``).
    """

    def __init__(self, service: Channels, inbound: Dispatcher, sends: Dispatcher) -> None:
        self._service = service
        self._inbound = inbound
        self._sends = sends
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def group(self) -> str:
        """The name reported for this job (``channel-sends``)."""
        return self._sends.group

    @property
    def in_flight(self) -> int:
        """Sends under way."""
        return len(self._tasks)

    async def run_once(self) -> int:
        """One batch of each group, and start the due sends there is room for."""
        handled = await self._inbound.run_once()
        handled += await self._sends.run_once()
        return handled + await self._start_due()

    async def deliver_due(self) -> int:
        """Send every due reply, waiting for them; the attempts made."""
        made = 0
        while True:
            started = await self._start_due()
            made += started
            if not started and not self._tasks:
                return made
            if self._tasks:
                await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)

    async def drain(self) -> int:
        """Both groups to the end, then `deliver_due`."""
        handled = await self._inbound.drain()
        handled += await self._sends.drain()
        return handled + await self.deliver_due()

    async def run(self) -> None:
        """Run until `stop`."""
        core = self._service._core
        try:
            while not self._stopping:
                try:
                    count = await self.run_once()
                except Exception:
                    log.exception("channel dispatcher: a cycle failed; trying again")
                    count = 0
                if not count and not self._stopping:
                    await core.wait_for_events(min(core.settings.event_poll_interval, 0.5))
        finally:
            self._stopping = False
            await self.close()

    def stop(self) -> None:
        """Make `run` return after the step in hand."""
        self._stopping = True
        self._service._core.notify()

    async def close(self) -> None:
        """Wait for sends in flight and finish the groups' batches."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._service.settings.timeout + 5.0)
            for task in builtins.list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._inbound.close()
        await self._sends.close()

    async def __aenter__(self) -> ChannelDispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _start_due(self) -> int:
        free = self._service.settings.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        claimed = await self._service._claim_due(free)
        for send, unknown_since in claimed:
            task = asyncio.ensure_future(self._send(send, unknown_since))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def _send(self, send: ChannelSend, unknown_since: datetime | None) -> None:
        try:
            await self._service._attempt(send, unknown_since)
        except Exception:
            log.exception("channel send %s failed unexpectedly", send.id)


__all__ += ["receipt_id", "send_id"]
