"""JSON-lines export and import of conversations with their messages."""

from __future__ import annotations

import builtins
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

import anyio.to_thread
import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConflictError, InvalidInputError, quoted
from ..events import ConversationImported
from ..models import (
    Agent,
    Attachment,
    Contact,
    Conversation,
    IdentityRecord,
    Message,
    ReviewNote,
    Team,
    Ticket,
)
from ..models._base import Record
from ..stores.base import Insert, Op, Store
from .contacts import Service
from .transcripts import Transcripts

__all__ = ["ConversationRecord", "Exports"]

_BATCH = 500


class ConversationRecord(BaseModel):
    """One line of a JSON-lines export: a conversation and everything that hangs on it.

    Attributes:
        format: Format version of the line: ``2`` (lines of format ``1``,
            which had only the contact, the conversation and its messages,
            are still read).
        contact: The conversation's contact.
        conversation: The conversation.
        messages: Its messages, in order (private notes included).
        agents: The agents it refers to: its assignee and its tickets'
            owners, so that the line can be imported into a store that does
            not have them.
        teams: The teams it and its tickets are queued for.
        tickets: The tickets opened from it, with their notes.
        attachments: Its attachments' records (the bytes stay in the blob
            store; see `Transcripts` for an export with them).
        reviews: Reviewers' notes on it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1, 2] = 2
    contact: Contact
    conversation: Conversation
    messages: list[Message]
    agents: list[Agent] = Field(default_factory=list)
    teams: list[Team] = Field(default_factory=list)
    tickets: list[Ticket] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    reviews: list[ReviewNote] = Field(default_factory=list)


Target = str | Path | IO[str] | IO[bytes]
"""Where to write or read: a path, or an open text or binary file."""


class _Lines:
    """Writes or reads lines on a path or an open file, off the event loop."""

    def __init__(self, target: Target, mode: str, field: str) -> None:
        method = "write" if mode == "w" else "readline"
        if not isinstance(target, str | Path) and not callable(getattr(target, method, None)):
            raise InvalidInputError(f"{field} is a path or an open file", field=field)
        self.target, self.mode, self.field = target, mode, field
        self.handle: IO[Any] | None = None
        self.owned = False
        self.text = True

    async def __aenter__(self) -> _Lines:
        if isinstance(self.target, (str, Path)):
            path, mode = Path(self.target), self.mode
            try:
                self.handle = await anyio.to_thread.run_sync(
                    lambda: path.open(mode, encoding="utf-8", newline="\n")
                )
            except (OSError, ValueError) as exc:  # ValueError: a NUL or a lone surrogate
                reason = getattr(exc, "strerror", None) or "not a usable file name"
                raise InvalidInputError(
                    f"cannot open {quoted(str(path))}: {reason}", field=self.field
                ) from exc
            self.owned = True
        else:
            self.handle = self.target
            self.text = isinstance(self.target, io.TextIOBase) or "b" not in getattr(
                self.target, "mode", "b"
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.owned and self.handle is not None:
            await anyio.to_thread.run_sync(self.handle.close)

    async def write(self, line: str) -> None:
        assert self.handle is not None
        await anyio.to_thread.run_sync(self.handle.write, line if self.text else line.encode())

    async def read(self) -> str:
        assert self.handle is not None
        try:
            raw = await anyio.to_thread.run_sync(self.handle.readline)
            return raw.decode() if isinstance(raw, bytes) else str(raw)
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{self.field} is not UTF-8 text", field=self.field) from exc


class Exports(Service):
    """Streaming JSON-lines export for warehouses, and import of the same format.

    Each line is one `ConversationRecord`. An export imported into another
    store and exported again gives the same lines, byte for byte.

    Example:
        ```python
        count = await kit.exports.write_jsonl("conversations.jsonl", since=last_night)
        await other_kit.exports.read_jsonl("conversations.jsonl")
        ```
    """

    async def write_jsonl(
        self,
        target: Target,
        *,
        conversation_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Write one line per conversation; returns how many were written.

        Conversations are read and written one at a time, so memory stays flat.
        Filters are those of `Transcripts.select`.
        """
        if conversation_ids is None:
            chosen = [c.id for c in await Transcripts(self._core).select(since=since, until=until)]
        elif not isinstance(conversation_ids, list | tuple) or not all(
            isinstance(c, str) for c in conversation_ids
        ):
            raise InvalidInputError(
                "conversation_ids must be a list of ids", field="conversation_ids"
            )
        else:
            chosen = list(conversation_ids)
        store = await self._core.ready()
        count = 0
        async with _Lines(target, "w", "target") as out:
            for conversation_id in chosen:
                record = await self._record(store, conversation_id)
                await out.write(record.model_dump_json() + "\n")
                count += 1
        return count

    async def _record(self, store: Store, conversation_id: str) -> ConversationRecord:
        conversation = await self._load(Conversation, conversation_id, "conversation")
        contact = await self._load(Contact, conversation.contact_id, "contact")
        mine = {"conversation_id": conversation.id}
        messages = await store.find(Message, mine, order_by="seq")
        tickets = await store.find(Ticket, mine)
        attachments = await store.find(Attachment, mine)
        reviews = await store.find(ReviewNote, mine)
        agent_ids = sorted(
            i for i in {conversation.assignee_id, *(t.owner_id for t in tickets)} if i is not None
        )
        agents = [a for i in agent_ids if (a := await store.get(Agent, i)) is not None]
        names = sorted(n for n in {conversation.team, *(t.team for t in tickets)} if n is not None)
        teams = [t for n in names for t in await store.find(Team, {"name": n})]
        return ConversationRecord(
            contact=contact,
            conversation=conversation,
            messages=messages,
            agents=agents,
            teams=teams,
            tickets=tickets,
            attachments=attachments,
            reviews=reviews,
        )

    async def read_jsonl(self, source: Target) -> int:
        """Import a JSON-lines export; returns how many conversations were imported.

        Ids, versions and time stamps are kept exactly. Each conversation is
        imported in one commit with a ``conversation.imported`` event: the
        teams and agents it refers to that the store does not have yet (a
        team is matched by id or name; agents and teams the store has are
        kept as they are), its contact unless present, then the
        conversation, its messages, attachments, tickets and reviews. The
        same lines give the same outcome on every store.

        A conversation that already exists is skipped when it and every
        message, ticket, attachment and review of its line are stored
        unchanged, so an import can be re-run; when any of them differs
        (a message whose text was edited, say), nothing is written and
        `ConflictError` is raised.

        Raises:
            InvalidInputError: A line is not a conversation record, or its
                rows do not belong together or refer to an agent or contact
                found neither in the line nor in the store (its line number
                is in the message); lines before it were imported.
            ConflictError: A conversation, contact or one of their records
                exists with other content (or, for a new conversation, a
                record of the line has an id the store already uses).
        """
        imported = 0
        number = 0
        async with _Lines(source, "r", "source") as lines:
            while line := await lines.read():
                number += 1
                if not line.strip():
                    continue
                try:
                    record = ConversationRecord.model_validate_json(line)
                except pydantic.ValidationError as exc:
                    raise InvalidInputError(
                        f"line {number} is not a conversation record: {exc.errors()[0]['msg']}"
                    ) from exc
                try:
                    done = await self._import(record)
                except InvalidInputError as exc:
                    raise InvalidInputError(f"line {number}: {exc}") from exc
                if done:
                    imported += 1
        return imported

    async def _import(self, record: ConversationRecord) -> bool:
        store = await self._core.ready()
        conversation = record.conversation
        _check_consistent(record)
        existing = await store.get(Conversation, conversation.id)
        if existing is not None:
            # Imported before: every record of the line must be as stored.
            if not _same(existing, conversation):
                self._clash(conversation)
            await self._same_children(store, record)
            existing_contact = await store.get(Contact, record.contact.id)
            if existing_contact is not None and not _same(existing_contact, record.contact):
                self._clash(record.contact)
            return False
        # Referenced rows first (teams, agents, the contact), then the
        # conversation, then what refers to it, so that every store (SQLite
        # checks foreign keys statement by statement) accepts the same lines.
        ops: builtins.list[Op] = []
        for team in record.teams:
            if await store.get(Team, team.id) is None and not await store.find(
                Team, {"name": team.name}, limit=1
            ):
                ops.append(Insert(team))
        known_agents: set[str] = set()
        for agent in record.agents:
            known_agents.add(agent.id)
            if await store.get(Agent, agent.id) is None:
                ops.append(Insert(agent))
        for agent_id in _agent_ids(record) - known_agents:
            if await store.get(Agent, agent_id) is None:
                raise InvalidInputError(
                    f"agent {agent_id} is referred to by the line but is neither in it "
                    "nor in this store"
                )
        existing_contact = await store.get(Contact, record.contact.id)
        if existing_contact is None:
            ops.append(Insert(record.contact))
            ops += [
                Insert(IdentityRecord(id=i.key, contact_id=record.contact.id))
                for i in record.contact.identities
            ]
        elif not _same(existing_contact, record.contact):
            self._clash(record.contact)
        for ticket in record.tickets:
            if ticket.contact_id != record.contact.id and (
                await store.get(Contact, ticket.contact_id) is None
            ):
                raise InvalidInputError(
                    f"ticket {ticket.id} is for contact {ticket.contact_id}, which is neither "
                    "in the line nor in this store"
                )
        ops.append(Insert(conversation))
        ops += [Insert(m) for m in record.messages]
        ops += [Insert(a) for a in record.attachments]
        ops += [Insert(t) for t in record.tickets]
        ops += [Insert(r) for r in record.reviews]
        event = ConversationImported(
            conversation_id=conversation.id,
            contact_id=record.contact.id,
            messages=len(record.messages),
        )
        await self._core.commit(ops, [event])
        return True

    async def _same_children(self, store: Store, record: ConversationRecord) -> None:
        """Raise `ConflictError` when a message, ticket, attachment or review differs."""
        mine = {"conversation_id": record.conversation.id}
        children: builtins.list[tuple[type[Record], Sequence[Record]]] = [
            (Message, record.messages),
            (Ticket, record.tickets),
            (Attachment, record.attachments),
            (ReviewNote, record.reviews),
        ]
        for kind, given in children:
            stored = {r.id: r for r in await store.find(kind, mine)}
            for item in given:
                if not _same(stored.pop(item.id, None), item):
                    self._clash(item)
            if stored:
                self._clash(min(stored.values(), key=lambda r: r.id))

    @staticmethod
    def _clash(record: Record) -> None:
        raise ConflictError(
            f"{record.id} already exists with different content", resource_id=record.id
        )


def _same(stored: Record | None, given: Record) -> bool:
    """Whether two records hold the same data, field by field.

    Not ``==``: identities compare by kind and value alone, and an import
    must tell a verified identity from an unverified one.
    """
    return stored is not None and stored.model_dump() == given.model_dump()


def _agent_ids(record: ConversationRecord) -> set[str]:
    """The agents that the line's rows refer to by foreign key."""
    ids = {record.conversation.assignee_id, *(t.owner_id for t in record.tickets)}
    return {i for i in ids if i is not None}


def _check_consistent(record: ConversationRecord) -> None:
    """Raise `InvalidInputError` when the rows of a line do not belong together."""
    conversation = record.conversation
    if conversation.contact_id != record.contact.id:
        raise InvalidInputError("the conversation belongs to another contact than its line's")
    owned: builtins.list[Message | Ticket | Attachment | ReviewNote] = [
        *record.messages,
        *record.tickets,
        *record.attachments,
        *record.reviews,
    ]
    for item in owned:
        if item.conversation_id != conversation.id:
            raise InvalidInputError(f"{item.id} belongs to another conversation than its line's")
    message_ids = {m.id for m in record.messages}
    for attachment in record.attachments:
        if attachment.message_id is not None and attachment.message_id not in message_ids:
            raise InvalidInputError(
                f"attachment {attachment.id} is on message {attachment.message_id}, "
                "which is not in its line"
            )
