"""Events about reusable content: canned replies and knowledge-base articles."""

from __future__ import annotations

from typing import Literal

from ..models.canned import CannedReply
from ..models.kb import Article
from .base import BaseEvent

__all__ = [
    "ArticleCreated",
    "ArticleDeleted",
    "ArticleUpdated",
    "CannedReplyCreated",
    "CannedReplyDeleted",
    "CannedReplyUpdated",
    "CannedReplyUsed",
]


class CannedReplyCreated(BaseEvent):
    """A canned reply was saved."""

    type: Literal["canned.created"] = "canned.created"
    reply: CannedReply


class CannedReplyUpdated(BaseEvent):
    """A canned reply changed: its text, labels, shortcut or language, or its review date."""

    type: Literal["canned.updated"] = "canned.updated"
    reply: CannedReply
    changed: list[str]


class CannedReplyDeleted(BaseEvent):
    """A canned reply was deleted."""

    type: Literal["canned.deleted"] = "canned.deleted"
    reply_id: str
    shortcut: str
    language: str


class CannedReplyUsed(BaseEvent):
    """A canned reply was sent (or an agent recorded a use of it).

    ``conversation_id`` and ``message_id`` are set when it was sent with
    `CannedReplies.send`.
    """

    type: Literal["canned.used"] = "canned.used"
    reply_id: str
    shortcut: str
    language: str
    usage_count: int
    """The count after this use."""
    message_id: str | None = None


class ArticleCreated(BaseEvent):
    """A knowledge-base article was written (published or as a draft)."""

    type: Literal["kb.article_created"] = "kb.article_created"
    article: Article


class ArticleUpdated(BaseEvent):
    """A knowledge-base article changed: its text, labels or language, or was (un)published."""

    type: Literal["kb.article_updated"] = "kb.article_updated"
    article: Article
    changed: list[str]


class ArticleDeleted(BaseEvent):
    """A knowledge-base article was deleted."""

    type: Literal["kb.article_deleted"] = "kb.article_deleted"
    article_id: str
    language: str
