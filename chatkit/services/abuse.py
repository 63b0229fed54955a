"""Abuse: incidents, blocks, and refusing blocked senders' messages."""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Sequence
from datetime import datetime

from ..errors import (
    ConflictError,
    ContactBlockedError,
    DuplicateKeyError,
    InvalidInputError,
    NotFoundError,
)
from ..events import (
    AbuseIncidentRecorded,
    ContactBlocked,
    ContactUnblocked,
    ContactUpdated,
    Event,
    MessageRefused,
)
from ..models import (
    Agent,
    Author,
    AuthorRole,
    Block,
    BlockKind,
    Contact,
    Conversation,
    Identity,
    IdentityKind,
    Incident,
    IncidentCategory,
    Message,
    Page,
)
from ..models._base import new_id, utcnow
from ..models.abuse import block_value
from ..stores.base import Delete, Gt, In, Insert, Op, Update
from ._core import bump, check_limit, checked, choice, decode_cursor, encode_cursor
from .contacts import Contacts, IdentityLike, Service, as_identity, check_key
from .pipeline import Screening, standard_screen

__all__ = ["Abuse"]

_NO_BLOCKS_TTL = 1.0
"""Seconds a process trusts that there is no block at all before it reads again."""

log = logging.getLogger(__name__)

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_PRECEDENCE = (BlockKind.CONTACT, BlockKind.IDENTITY, BlockKind.EMAIL_DOMAIN, BlockKind.IP)


def _aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInputError(f"{field} must be a timezone-aware datetime", field=field)
    return value


def _value(kind: BlockKind, value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a string", field=field)
    try:
        return block_value(kind, value)
    except ValueError as exc:
        raise InvalidInputError(f"{field}: {exc}", field=field) from exc


def _domains(address: str) -> builtins.list[str]:
    """The domain of an e-mail address and its parents (``a.b.example`` → ``b.example``...)."""
    labels = address.rpartition("@")[2].strip().rstrip(".").lower().split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1) if labels[i]]


class Abuse(Service):
    """Abuse incidents and blocks.

    Agents (or automation rules) record incidents with an exact timestamp;
    blocks refuse a sender's messages: by contact, by identity (before any
    contact exists), and for the web widget by IP address or e-mail domain.
    A refused message raises `ContactBlockedError`, is stored nowhere, and
    counts on its block (``Block.refused``, with a ``message.refused`` event
    in the same commit).

    Example:
        ```python
        await kit.abuse.record(contact.id, category="harassment",
                               reported_by=Author.agent(mia.id),
                               conversation_id=conv.id, message_ids=[msg.id])
        await kit.abuse.block(contact_id=contact.id, ip="203.0.113.7", note="threats")
        ```
    """

    # -- incidents --------------------------------------------------------------

    async def record(
        self,
        contact_id: str,
        *,
        category: IncidentCategory | str,
        reported_by: Author,
        conversation_id: str | None = None,
        message_ids: Sequence[str] = (),
        note: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Incident:
        """Record an abuse incident (``abuse.incident_recorded``).

        Args:
            contact_id: Whom it is about.
            category: One of `IncidentCategory`.
            reported_by: `Author.agent` for an agent (who must exist), or
                `Author.bot` naming the rule.
            conversation_id: Where it happened (the contact's conversation).
            message_ids: The offending messages, of that conversation.
            note: Free text.
            occurred_at: When it happened (default: now), kept to the microsecond.

        Raises:
            NotFoundError: Unknown contact, conversation, message or agent.
            InvalidInputError: A bad category, messages without their
                conversation or from another one.
        """
        if not isinstance(reported_by, Author) or reported_by.role is AuthorRole.CUSTOMER:
            raise InvalidInputError(
                "reported_by is an agent (Author.agent) or a rule (Author.bot)", field="reported_by"
            )
        if not isinstance(message_ids, list | tuple) or not all(
            isinstance(m, str) for m in message_ids
        ):
            raise InvalidInputError(
                "message_ids must be a list of message ids", field="message_ids"
            )
        ids = list(dict.fromkeys(message_ids))
        at = utcnow() if occurred_at is None else _aware(occurred_at, "occurred_at")
        contact = await Contacts(self._core).get(contact_id)
        if reported_by.role is AuthorRole.AGENT:
            await self._load(Agent, reported_by.id or "", "agent")
        if conversation_id is not None:
            conversation = await self._load(Conversation, conversation_id, "conversation")
            if conversation.contact_id != contact.id:
                raise InvalidInputError(
                    f"conversation {conversation.id} is not the contact's", field="conversation_id"
                )
        elif ids:
            raise InvalidInputError("message_ids need their conversation_id", field="message_ids")
        if ids:
            store = await self._core.ready()
            found = {m.id for m in await store.find(Message, {"id": In(ids)})}
            missing = [m for m in ids if m not in found]
            if missing:
                raise NotFoundError("message", missing[0])
            inside = await store.find(Message, {"id": In(ids), "conversation_id": conversation_id})
            if len(inside) != len(ids):
                raise InvalidInputError(
                    "message_ids must be messages of the conversation", field="message_ids"
                )
        incident = checked(
            Incident,
            id=new_id("inc"),
            contact_id=contact.id,
            conversation_id=conversation_id,
            message_ids=ids,
            category=category,
            note=note,
            reported_by=reported_by,
            occurred_at=at,
        )
        event = AbuseIncidentRecorded(
            conversation_id=conversation_id, contact_id=contact.id, incident=incident
        )
        await self._core.commit([Insert(incident)], [event])
        return incident

    async def incidents(
        self,
        *,
        contact_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Incident]:
        """Page through incidents in time order, of one contact and/or a period.

        Args:
            contact_id: Only this contact's.
            since: Only those that occurred at or after this time.
            until: Only those that occurred before this time.
            limit: Page size (1 to 1000).
            cursor: ``next_cursor`` of the previous page.
        """
        check_limit(limit)
        where: dict[str, object] = {}
        if contact_id is not None:
            where["contact_id"] = check_key(contact_id, "contact_id")
        floor = _aware(since, "since").strftime(_STAMP) if since is not None else None
        ceiling = _aware(until, "until").strftime(_STAMP) if until is not None else None
        if cursor is not None:
            floor = max(floor or "", decode_cursor(cursor))
            where["occurred_key"] = Gt(floor)
        elif floor is not None:
            where["occurred_key"] = Gt(floor)  # "<stamp>|id" sorts after "<stamp>"
        store = await self._core.ready()
        items = await store.find(Incident, where, order_by="occurred_key", limit=limit + 1)
        if ceiling is not None:
            items = [i for i in items if i.occurred_key < ceiling]
        if len(items) <= limit:
            return Page(items=items)
        return Page(items=items[:limit], next_cursor=encode_cursor(items[limit - 1].occurred_key))

    # -- blocks -----------------------------------------------------------------

    async def block(
        self,
        *,
        contact_id: str | None = None,
        identity: IdentityLike | None = None,
        ip: str | None = None,
        email_domain: str | None = None,
        note: str | None = None,
        blocked_by: Author | None = None,
        incident_id: str | None = None,
    ) -> builtins.list[Block]:
        """Block a contact, an identity, an IP address or an e-mail domain (or several at once).

        Each new block publishes ``contact.blocked``; blocking a contact also
        sets `Contact.blocked` (its typing previews are dropped). Blocking
        what is blocked already keeps the existing block.

        Args:
            contact_id: A contact: every message they write, on any channel.
            identity: An identity (``("email", "x@example.com")``), refused in
                `Messages.receive` before a contact is created for it.
            ip: An IP address the widget reports (``Messages.receive(ip=...)``).
            email_domain: An e-mail domain; its subdomains too.
            note: Why.
            blocked_by: The agent or rule that blocks.
            incident_id: The incident that led to it.

        Returns:
            The blocks, in the order of the arguments.

        Raises:
            InvalidInputError: Nothing to block, or a malformed value.
            NotFoundError: Unknown contact or incident.
        """
        wanted: builtins.list[tuple[BlockKind, str]] = []
        contact: Contact | None = None
        if contact_id is not None:
            contact = await Contacts(self._core).get(contact_id)
            wanted.append((BlockKind.CONTACT, contact.id))
        if identity is not None:
            wanted.append((BlockKind.IDENTITY, as_identity(identity).key))
        if ip is not None:
            wanted.append((BlockKind.IP, _value(BlockKind.IP, ip, "ip")))
        if email_domain is not None:
            domain = _value(BlockKind.EMAIL_DOMAIN, email_domain, "email_domain")
            wanted.append((BlockKind.EMAIL_DOMAIN, domain))
        if not wanted:
            raise InvalidInputError(
                "say what to block: contact_id, identity, ip or email_domain", field="contact_id"
            )
        if blocked_by is not None and not isinstance(blocked_by, Author):
            raise InvalidInputError("blocked_by must be an Author", field="blocked_by")
        if incident_id is not None:
            await self._load(Incident, incident_id, "incident")
        owner = contact.id if contact is not None else None
        fresh = [
            checked(
                Block,
                id=new_id("blk"),
                kind=kind,
                value=value,
                contact_id=owner,
                note=note,
                blocked_by=blocked_by,
                incident_id=incident_id,
            )
            for kind, value in wanted
        ]

        async def attempt() -> builtins.list[Block]:
            existing = {(b.kind, b.value): b for b in await self._find(wanted)}
            ops: builtins.list[Op] = []
            events: builtins.list[Event] = []
            result: builtins.list[Block] = []
            for block in fresh:
                kept = existing.get((block.kind, block.value))
                if kept is not None:
                    result.append(kept)
                    continue
                result.append(block)
                ops.append(Insert(block))
                events.append(ContactBlocked(contact_id=owner, block=block))
            if contact is not None and any(b.kind is BlockKind.CONTACT for b in fresh):
                ops_, events_ = await self._flag(contact.id, blocked=True)
                ops += ops_
                events += events_
            if ops:
                try:
                    await self._core.commit(ops, events)
                except DuplicateKeyError as exc:  # a racing call made it: read it next time
                    raise ConflictError("block made concurrently") from exc
                self._forget_no_blocks()  # it applies at once in this process
            return result

        return await self._core.retry(attempt)

    async def unblock(
        self,
        block_id: str | None = None,
        *,
        contact_id: str | None = None,
        identity: IdentityLike | None = None,
        ip: str | None = None,
        email_domain: str | None = None,
    ) -> builtins.list[Block]:
        """Lift blocks: one by id, or by what they match. Idempotent.

        Each lifted block publishes ``contact.unblocked``; lifting a contact
        block clears `Contact.blocked`.

        Returns:
            The blocks lifted (none when nothing matched).
        """
        wanted: builtins.list[tuple[BlockKind, str]] = []
        if contact_id is not None:
            wanted.append((BlockKind.CONTACT, check_key(contact_id, "contact_id")))
        if identity is not None:
            wanted.append((BlockKind.IDENTITY, as_identity(identity).key))
        if ip is not None:
            wanted.append((BlockKind.IP, _value(BlockKind.IP, ip, "ip")))
        if email_domain is not None:
            wanted.append(
                (
                    BlockKind.EMAIL_DOMAIN,
                    _value(BlockKind.EMAIL_DOMAIN, email_domain, "email_domain"),
                )
            )
        if block_id is None and not wanted:
            raise InvalidInputError("say which block to lift", field="block_id")

        async def attempt() -> builtins.list[Block]:
            store = await self._core.ready()
            found = await self._find(wanted) if wanted else []
            if block_id is not None:
                one = await store.get(Block, check_key(block_id, "block_id"))
                if one is not None and one.id not in {b.id for b in found}:
                    found.append(one)
            ops: builtins.list[Op] = []
            events: builtins.list[Event] = []
            for block in found:
                ops.append(Delete(Block, block.id))
                events.append(ContactUnblocked(contact_id=block.contact_id, block=block))
                if block.kind is BlockKind.CONTACT:
                    ops_, events_ = await self._flag(block.value, blocked=False)
                    ops += ops_
                    events += events_
            if ops:
                await self._core.commit(ops, events)
            return found

        return await self._core.retry(attempt)

    async def _flag(
        self, contact_id: str, *, blocked: bool
    ) -> tuple[builtins.list[Op], builtins.list[Event]]:
        """Set `Contact.blocked` in the same commit (a version-checked update)."""
        store = await self._core.ready()
        contact = await store.get(Contact, contact_id)
        if contact is None or contact.blocked is blocked:
            return [], []
        new = bump(contact, blocked=blocked)
        return [Update(new)], [ContactUpdated(contact_id=new.id, contact=new, changed=["blocked"])]

    async def _find(self, pairs: Sequence[tuple[BlockKind, str]]) -> builtins.list[Block]:
        """The blocks matching any of ``pairs``: one indexed read on (kind, value)."""
        if not pairs:
            return []
        store = await self._core.ready()
        # Most stores hold no block at all: then one read a second (per
        # process) says so, instead of one per message. A block made in this
        # process applies at once; one made in another within a second.
        now = time.monotonic()
        if now < getattr(self._core, "_no_blocks_until", 0.0):
            return []
        if not await store.find(Block, limit=1):
            self._core._no_blocks_until = now + _NO_BLOCKS_TTL  # type: ignore[attr-defined]
            return []
        kinds = sorted({k.value for k, _ in pairs})
        values = sorted({v for _, v in pairs})
        # Bounded, so the SQLite store reads it inline (no thread hop on every message).
        found = await store.find(
            Block, {"kind": In(kinds), "value": In(values)}, limit=len(pairs) * 4
        )
        wanted = set(pairs)
        return [b for b in found if (b.kind, b.value) in wanted]

    async def get_block(self, block_id: str) -> Block:
        """Return a block.

        Raises:
            NotFoundError: No such block (or it was lifted).
        """
        return await self._load(Block, block_id, "block")

    async def blocks(
        self, *, kind: BlockKind | str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Block]:
        """Page through the blocks in force, by id."""
        where: dict[str, object] = {}
        if kind is not None:
            where["kind"] = choice(BlockKind, kind, "kind", "block kind")
        return await self._core.paged(Block, where, limit=limit, cursor=cursor)

    async def is_blocked(
        self,
        *,
        contact_id: str | None = None,
        identity: IdentityLike | None = None,
        ip: str | None = None,
        email: str | None = None,
    ) -> Block | None:
        """The block that would refuse such a sender, or ``None`` (counts nothing).

        Args:
            contact_id: The contact.
            identity: The sender's identity (an e-mail identity also checks its domain).
            ip: The widget's client IP address.
            email: An e-mail address the widget collected (its domain is checked).
        """
        pairs = self._pairs(contact_id, identity, ip, email)
        found = await self._find(pairs)
        if not found:
            return None
        return min(found, key=lambda b: _PRECEDENCE.index(b.kind))

    def _pairs(
        self,
        contact_id: str | None,
        identity: IdentityLike | None,
        ip: str | None,
        email: str | None,
    ) -> builtins.list[tuple[BlockKind, str]]:
        pairs: builtins.list[tuple[BlockKind, str]] = []
        if contact_id is not None:
            pairs.append((BlockKind.CONTACT, check_key(contact_id, "contact_id")))
        addresses: builtins.list[str] = []
        if identity is not None:
            ident: Identity = as_identity(identity)
            pairs.append((BlockKind.IDENTITY, ident.key))
            if ident.kind is IdentityKind.EMAIL:
                addresses.append(ident.value)
        if ip is not None:
            pairs.append((BlockKind.IP, _value(BlockKind.IP, ip, "ip")))
        if email is not None:
            if not isinstance(email, str) or "@" not in email:
                raise InvalidInputError("email must be an e-mail address", field="email")
            addresses.append(email)
        pairs += [(BlockKind.EMAIL_DOMAIN, d) for a in addresses for d in _domains(a)]
        return pairs

    async def screen(
        self,
        *,
        contact_id: str | None = None,
        identity: IdentityLike | None = None,
        ip: str | None = None,
        email: str | None = None,
        channel: str | None = None,
    ) -> None:
        """Refuse a message from a blocked sender; return quietly otherwise.

        `Messages` calls it for every customer message (one indexed read).
        A refusal adds one to the block's ``refused`` count and publishes
        ``message.refused`` in one version-checked commit, retried on
        conflict, so concurrent refusals are all counted.

        Raises:
            ContactBlockedError: A block matched.
            InvalidInputError: A malformed argument.
        """
        if channel is not None:
            check_key(channel, "channel")
        block = await self.is_blocked(contact_id=contact_id, identity=identity, ip=ip, email=email)
        if block is None:
            return
        refused = await self._count(block.id, contact_id, channel)
        if refused is None:
            return  # lifted meanwhile
        raise ContactBlockedError(
            block_id=refused.id, kind=refused.kind.value, contact_id=contact_id
        )

    def _forget_no_blocks(self) -> None:
        self._core._no_blocks_until = 0.0  # type: ignore[attr-defined]

    async def _count(
        self, block_id: str, contact_id: str | None, channel: str | None
    ) -> Block | None:
        async def attempt() -> Block | None:
            store = await self._core.ready()
            block = await store.get(Block, block_id)
            if block is None:
                return None
            new = bump(block, refused=block.refused + 1, last_refused_at=utcnow())
            event = MessageRefused(
                contact_id=contact_id or block.contact_id,
                block_id=new.id,
                kind=new.kind.value,
                value=new.value,
                channel=channel,
                refused=new.refused,
            )
            await self._core.commit([Update(new)], [event])
            return new

        try:
            return await self._core.retry(attempt)
        except ConflictError:
            # Refuse all the same: losing count under a storm beats letting the message in.
            log.warning("block %s: refused message not counted (write contention)", block_id)
            store = await self._core.ready()
            return await store.get(Block, block_id)


@standard_screen("abuse", order=100)
async def _refuse_blocked(screening: Screening) -> None:
    """The ``abuse`` screen of every message write: refuse blocked senders."""
    await Abuse(screening.core).screen(
        contact_id=screening.contact_id,
        identity=screening.identity,
        ip=screening.ip,
        email=screening.email,
        channel=screening.channel,
    )
