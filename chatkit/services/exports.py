"""JSON-lines export and import of conversations with their messages."""

from __future__ import annotations

import builtins
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import anyio.to_thread
import pydantic
from pydantic import BaseModel, ConfigDict

from ..errors import ConflictError, InvalidInputError
from ..events import ConversationImported
from ..models import Contact, Conversation, IdentityRecord, Message
from ..models._base import Record
from ..stores.base import Insert, Op
from .contacts import Service
from .transcripts import Transcripts

__all__ = ["ConversationRecord", "Exports"]

_BATCH = 500


class ConversationRecord(BaseModel):
    """One line of a JSON-lines export: a conversation, its contact and every message.

    Attributes:
        format: Format version of the line (``1``).
        contact: The conversation's contact.
        conversation: The conversation.
        messages: Its messages, in order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = 1
    contact: Contact
    conversation: Conversation
    messages: list[Message]


Target = str | Path | IO[str] | IO[bytes]
"""Where to write or read: a path, or an open text or binary file."""


class _Lines:
    """Writes or reads lines on a path or an open file, off the event loop."""

    def __init__(self, target: Target, mode: str) -> None:
        self.target, self.mode = target, mode
        self.handle: IO[Any] | None = None
        self.owned = False
        self.text = True

    async def __aenter__(self) -> _Lines:
        if isinstance(self.target, (str, Path)):
            path, mode = Path(self.target), self.mode
            self.handle = await anyio.to_thread.run_sync(
                lambda: path.open(mode, encoding="utf-8", newline="\n")
            )
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
        raw = await anyio.to_thread.run_sync(self.handle.readline)
        return raw.decode() if isinstance(raw, bytes) else str(raw)


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
        else:
            chosen = list(conversation_ids)
        store = await self._core.ready()
        count = 0
        async with _Lines(target, "w") as out:
            for conversation_id in chosen:
                conversation = await self._load(Conversation, conversation_id, "conversation")
                contact = await self._load(Contact, conversation.contact_id, "contact")
                messages = await store.find(
                    Message, {"conversation_id": conversation.id}, order_by="seq"
                )
                record = ConversationRecord(
                    contact=contact, conversation=conversation, messages=messages
                )
                await out.write(record.model_dump_json() + "\n")
                count += 1
        return count

    async def read_jsonl(self, source: Target) -> int:
        """Import a JSON-lines export; returns how many conversations were imported.

        Ids, versions and time stamps are kept exactly. A conversation that
        already exists unchanged is skipped, so an import can be re-run. Each
        conversation is imported in one commit with a ``conversation.imported``
        event.

        Raises:
            InvalidInputError: A line is not a conversation record (its line
                number is in the message); lines before it were imported.
            ConflictError: A conversation or contact exists with other content.
        """
        imported = 0
        number = 0
        async with _Lines(source, "r") as lines:
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
                if await self._import(record):
                    imported += 1
        return imported

    async def _import(self, record: ConversationRecord) -> bool:
        store = await self._core.ready()
        ops: builtins.list[Op] = []
        existing_contact = await store.get(Contact, record.contact.id)
        if existing_contact is None:
            ops.append(Insert(record.contact))
            ops += [
                Insert(IdentityRecord(id=i.key, contact_id=record.contact.id))
                for i in record.contact.identities
            ]
        elif existing_contact != record.contact:
            self._clash(record.contact)
        existing = await store.get(Conversation, record.conversation.id)
        if existing is not None:
            if existing != record.conversation:
                self._clash(record.conversation)
            return False
        ops.append(Insert(record.conversation))
        ops += [Insert(m) for m in record.messages]
        if any(m.conversation_id != record.conversation.id for m in record.messages):
            raise InvalidInputError("a message belongs to another conversation than its line")
        event = ConversationImported(
            conversation_id=record.conversation.id,
            contact_id=record.contact.id,
            messages=len(record.messages),
        )
        await self._core.commit(ops, [event])
        return True

    @staticmethod
    def _clash(record: Record) -> None:
        raise ConflictError(
            f"{record.id} already exists with different content", resource_id=record.id
        )
