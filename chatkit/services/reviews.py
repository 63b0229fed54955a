"""The review loop: best- and worst-rated chats, the angriest ones, and reviewers' notes."""

from __future__ import annotations

import builtins
import heapq
from datetime import datetime
from typing import Literal

from ..errors import InvalidInputError, quoted
from ..events import ReviewNoteAdded
from ..models import (
    Agent,
    Conversation,
    ReviewItem,
    ReviewNote,
    Survey,
    SurveyStatus,
)
from ..models._base import new_id
from ..stores.base import Gt, Insert, Lt
from ._core import check_limit, checked
from .contacts import Service, check_key

__all__ = ["QueueKind", "Reviews"]

QueueKind = Literal["worst", "best", "angriest"]
"""Which review queue: lowest survey scores, highest, or worst customer mood."""

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_BATCH = 200


def _since(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInputError("since must be a timezone-aware datetime", field="since")
    return value


class Reviews(Service):
    """Review queues for weekly training, and reviewers' notes on conversations.

    Example:
        ```python
        week_ago = datetime.now(timezone.utc) - timedelta(days=7)
        for item in await kit.reviews.queue("worst", since=week_ago, limit=10):
            print(item.survey.score, item.conversation.id)
            await kit.reviews.add_note(item.conversation.id, lead.id, "Apologise first.")
        ```
    """

    async def queue(
        self,
        kind: QueueKind | str = "worst",
        *,
        since: datetime | None = None,
        limit: int = 20,
    ) -> builtins.list[ReviewItem]:
        """The conversations to review, with their survey, mood and notes so far.

        Args:
            kind: ``"worst"``: lowest survey scores first; ``"best"``: highest
                first (both: answered surveys, read in score order from an
                index); ``"angriest"``: the worst customer mood (`Conversation.mood`)
                first, among conversations active since ``since``.
            since: Only surveys answered (or, for ``angriest``, conversations
                active) at or after this time; the last week, typically.
            limit: How many (1 to 1000).

        Raises:
            InvalidInputError: An unknown kind, a bad ``since`` or ``limit``.
        """
        after = _since(since)
        check_limit(limit)
        if kind == "angriest":
            return await self._angriest(after, limit)
        if kind not in ("worst", "best"):
            raise InvalidInputError(
                f"unknown review queue {quoted(kind)}; one of worst, best, angriest",
                field="kind",
            )
        surveys = await self._rated(descending=kind == "best", since=after, limit=limit)
        store = await self._core.ready()
        items: builtins.list[ReviewItem] = []
        for survey in surveys:
            conversation = await store.get(Conversation, survey.conversation_id)
            if conversation is None:
                continue  # purged
            items.append(
                ReviewItem(
                    conversation=conversation,
                    survey=survey,
                    mood=conversation.mood,
                    notes=await self.notes(conversation.id),
                )
            )
        return items

    async def _rated(
        self, *, descending: bool, since: datetime | None, limit: int
    ) -> builtins.list[Survey]:
        """Answered surveys in score order, one per conversation (its latest)."""
        store = await self._core.ready()
        found: dict[str, Survey] = {}
        cursor: str | None = None
        while len(found) < limit:
            where: dict[str, object] = {"status": SurveyStatus.ANSWERED}
            if cursor is not None:
                where["score_key"] = Lt(cursor) if descending else Gt(cursor)
            batch = await store.find(
                Survey, where, order_by="score_key", descending=descending, limit=_BATCH
            )
            for survey in batch:
                if since is not None and (survey.answered_at is None or survey.answered_at < since):
                    continue
                if survey.conversation_id not in found:
                    found[survey.conversation_id] = survey
                if len(found) == limit:
                    break
            if len(batch) < _BATCH:
                break
            cursor = batch[-1].score_key
        return list(found.values())

    async def _angriest(self, since: datetime | None, limit: int) -> builtins.list[ReviewItem]:
        store = await self._core.ready()
        where: dict[str, object] = {}
        if since is not None:
            where["activity_key"] = Gt(since.strftime(_STAMP))
        moody: builtins.list[Conversation] = []
        cursor: str | None = None
        while True:
            if cursor is not None:
                where["activity_key"] = Gt(cursor)
            batch = await store.find(Conversation, where, order_by="activity_key", limit=_BATCH)
            moody = heapq.nsmallest(
                limit,
                [*moody, *(c for c in batch if c.mood is not None)],
                key=lambda c: (c.mood, c.id),
            )
            if len(batch) < _BATCH:
                break
            cursor = batch[-1].activity_key
        return [
            ReviewItem(
                conversation=c,
                survey=await self._latest_answered(c.id),
                mood=c.mood,
                notes=await self.notes(c.id),
            )
            for c in moody
        ]

    async def _latest_answered(self, conversation_id: str) -> Survey | None:
        store = await self._core.ready()
        surveys = await store.find(
            Survey, {"conversation_id": conversation_id, "status": SurveyStatus.ANSWERED}
        )
        return max(surveys, key=lambda s: (s.answered_at or s.created_at, s.id), default=None)

    async def add_note(self, conversation_id: str, reviewer_id: str, text: str) -> ReviewNote:
        """Write a reviewer's note on a conversation (``review.note_added``).

        Raises:
            NotFoundError: Unknown conversation or reviewer (an agent).
            InvalidInputError: Empty or over-long text.
        """
        conversation = await self._load(Conversation, conversation_id, "conversation")
        await self._load(Agent, reviewer_id, "agent")
        note = checked(
            ReviewNote,
            id=new_id("rvw"),
            conversation_id=conversation.id,
            reviewer_id=reviewer_id,
            text=text,
        )
        event = ReviewNoteAdded(
            conversation_id=conversation.id, contact_id=conversation.contact_id, note=note
        )
        await self._core.commit([Insert(note)], [event])
        return note

    async def notes(self, conversation_id: str) -> builtins.list[ReviewNote]:
        """A conversation's review notes, oldest first (who, when, text)."""
        check_key(conversation_id, "conversation_id")
        store = await self._core.ready()
        found = await store.find(ReviewNote, {"conversation_id": conversation_id})
        return sorted(found, key=lambda n: (n.created_at, n.id))
