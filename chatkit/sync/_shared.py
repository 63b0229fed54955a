"""Pieces shared by the outbound and inbound halves of the sync engine."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from pydantic import JsonValue

from ..integrations import RateBudget, SyncObject
from ..models import Contact, Conversation, ConversationStatus, IdentityKind, Message
from ..stores.base import column_value

__all__ = [
    "PARENT_KIND",
    "TRANSCRIPT_SUFFIX",
    "RateLimiter",
    "contact_fields",
    "conversation_fields",
    "digest",
    "key_of",
    "message_fields",
    "next_midnight",
]

TRANSCRIPT_SUFFIX = "#transcript"
"""Appended to a conversation id: the local id of its transcript's link."""

PARENT_KIND: dict[SyncObject, SyncObject] = {
    SyncObject.CONVERSATION: SyncObject.CONTACT,
    SyncObject.MESSAGE: SyncObject.CONVERSATION,
    SyncObject.NOTE: SyncObject.CONVERSATION,
    SyncObject.TRANSCRIPT: SyncObject.CONVERSATION,
}
"""The kind each kind hangs off (contacts hang off nothing)."""


def key_of(moment: datetime) -> str:
    """A sortable UTC key for ``moment`` (the stores' datetime column form)."""
    return str(column_value(moment))


def digest(*parts: str) -> str:
    """A short stable hash of ``parts``: compares content without keeping it."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


def _first(contact: Contact, kind: IdentityKind) -> str | None:
    return next((i.value for i in contact.identities if i.kind is kind), None)


def contact_fields(contact: Contact) -> dict[str, JsonValue]:
    """The synced fields of a contact, as compared on both sides."""
    return {
        "name": contact.name,
        "email": _first(contact, IdentityKind.EMAIL),
        "phone": _first(contact, IdentityKind.PHONE),
    }


def conversation_fields(conversation: Conversation) -> dict[str, JsonValue]:
    """The synced fields of a conversation (its owner, the assigned agent, goes out only).

    Vendors have no "snoozed": a snoozed conversation is compared as
    ``pending`` (waiting), so a vendor's "pending" does not wake it.
    """
    status = conversation.status
    if status is ConversationStatus.SNOOZED:
        status = ConversationStatus.PENDING
    return {
        "subject": conversation.subject,
        "status": status.value,
        "priority": conversation.priority.value,
        "tags": list(conversation.tags),
        "assignee_id": conversation.assignee_id,
    }


def message_fields(message: Message) -> dict[str, JsonValue]:
    """A message's synced state: a hash of its kind and text (never the text itself)."""
    return {"hash": digest(message.kind.value, message.text)}


def next_midnight(now: datetime) -> datetime:
    """The next 00:00 UTC after ``now`` (when daily API limits reset)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


class RateLimiter:
    """Keeps calls under ``budget.calls`` per ``budget.per_seconds``, in this process."""

    def __init__(self, budget: RateBudget) -> None:
        self._budget = budget
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more call fits in the window, then count it."""
        async with self._lock:
            while True:
                now = time.monotonic()
                window = self._budget.per_seconds
                while self._times and self._times[0] <= now - window:
                    self._times.popleft()
                if len(self._times) < self._budget.calls:
                    self._times.append(now)
                    return
                await asyncio.sleep(self._times[0] + window - now)
