"""Typing previews: a customer's draft, shown live to watching agents.

Previews are ephemeral: they are never stored, never part of a transcript,
never in the event outbox and never synced anywhere. They fan out to the
watchers in this process (a cross-process transport can carry them later).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType

from pydantic import BaseModel, ConfigDict

from ..errors import InvalidInputError, MessageTooLargeError
from ..models import Author, AuthorRole, Conversation, UTCDateTime, utcnow
from ._core import Core
from .contacts import Contacts, Service

__all__ = ["PreviewWatch", "Previews", "TypingPreview"]


class TypingPreview(BaseModel):
    """What a watcher sees while someone types.

    Attributes:
        conversation_id: The conversation.
        author: Who is typing.
        text: The draft so far; ``None`` when the writer does not share
            drafts (only "is typing" is shown). An empty string means the
            draft was cleared.
        at: When the draft was taken.
    """

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    author: Author
    text: str | None
    at: UTCDateTime


@dataclass(eq=False)
class _Watcher:
    conversation_id: str | None
    queue: deque[TypingPreview] = field(default_factory=lambda: deque(maxlen=100))
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class PreviewWatch:
    """An endless stream of typing previews. Get one from `Previews.watch`.

    Use it with ``async with`` (or call `close`) so it stops receiving. A
    slow watcher keeps the latest 100 previews and loses older ones.
    """

    def __init__(self, hub: set[_Watcher], watcher: _Watcher) -> None:
        self._hub, self._watcher = hub, watcher

    def __aiter__(self) -> PreviewWatch:
        return self

    async def __anext__(self) -> TypingPreview:
        while not self._watcher.queue:
            if self._watcher not in self._hub:
                raise StopAsyncIteration
            self._watcher.wake.clear()
            await self._watcher.wake.wait()
        return self._watcher.queue.popleft()

    def close(self) -> None:
        """Stop receiving previews."""
        self._hub.discard(self._watcher)
        self._watcher.wake.set()

    async def __aenter__(self) -> PreviewWatch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Previews(Service):
    """Live drafts from the chat widget to the agent console.

    Example:
        ```python
        # widget side, on every keystroke
        await kit.previews.send(conv.id, "my order num", author=Author.customer(ada.id))

        # agent console
        async with kit.previews.watch(conv.id) as previews:
            async for preview in previews:
                print("customer is typing:", preview.text or "…")
        ```
    """

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._watchers: set[_Watcher] = set()
        self._last_sent: dict[tuple[str, str], float] = {}
        self._latest: dict[tuple[str, str], TypingPreview] = {}

    async def send(self, conversation_id: str, draft: str, *, author: Author) -> bool:
        """Offer a draft to the conversation's watchers.

        Deliveries per writer and conversation are throttled to one per
        `ChatKitSettings.preview_interval`; the latest draft is always
        delivered at the end of an interval.

        Returns:
            ``False`` when the preview was dropped (blocked contact), else ``True``.

        Raises:
            NotFoundError: No such conversation.
            InvalidInputError: Bad draft or author.
        """
        if not isinstance(author, Author) or author.role not in (
            AuthorRole.CUSTOMER,
            AuthorRole.AGENT,
        ):
            raise InvalidInputError(
                "typing previews come from a customer or an agent", field="author"
            )
        if not isinstance(draft, str):
            raise InvalidInputError("the draft must be a string", field="draft")
        limit = self._core.settings.max_message_length
        if len(draft) > limit:
            raise MessageTooLargeError(length=len(draft), limit=limit)
        conversation = await self._load(Conversation, conversation_id, "conversation")
        shared = self._core.settings.typing_previews
        if author.role is AuthorRole.CUSTOMER:
            if author.id != conversation.contact_id:
                raise InvalidInputError("not this conversation's customer", field="author")
            contact = await Contacts(self._core).get(conversation.contact_id)
            if contact.blocked:
                return False
            shared = shared and contact.share_typing
        preview = TypingPreview(
            conversation_id=conversation.id,
            author=author,
            text=draft if shared or not draft else None,
            at=utcnow(),
        )
        self._offer(preview)
        return True

    def _offer(self, preview: TypingPreview) -> None:
        key = (preview.conversation_id, preview.author.id or "")
        loop = asyncio.get_running_loop()
        interval = self._core.settings.preview_interval
        waited = loop.time() - self._last_sent.get(key, float("-inf"))
        if waited >= interval:
            self._deliver(key, preview, loop.time())
            return
        if key not in self._latest:
            loop.call_later(interval - waited, self._flush, key)
        self._latest[key] = preview

    def _flush(self, key: tuple[str, str]) -> None:
        preview = self._latest.pop(key, None)
        if preview is not None:
            self._deliver(key, preview, asyncio.get_running_loop().time())

    def _deliver(self, key: tuple[str, str], preview: TypingPreview, now: float) -> None:
        self._last_sent[key] = now
        for watcher in self._watchers:
            if watcher.conversation_id in (None, preview.conversation_id):
                watcher.queue.append(preview)
                watcher.wake.set()

    def watch(self, conversation_id: str | None = None) -> PreviewWatch:
        """Follow typing previews of one conversation, or of all with ``None``."""
        watcher = _Watcher(conversation_id)
        self._watchers.add(watcher)
        return PreviewWatch(self._watchers, watcher)
