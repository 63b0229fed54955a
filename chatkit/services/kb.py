"""The knowledge base: help articles, kept in the store and found by full-text search."""

from __future__ import annotations

import builtins
import functools
import logging
import re
from collections.abc import Sequence
from typing import Any

from ..automation._language import base_language, normalize_language
from ..errors import InvalidInputError
from ..events import ArticleCreated, ArticleDeleted, ArticleUpdated
from ..models import Conversation, Message, Page
from ..models._base import new_id
from ..models.kb import Article, ArticleHit
from ..models.messages import AuthorRole, MessageKind
from ..stores.base import (
    Condition,
    Delete,
    In,
    Insert,
    Update,
    fold_text,
    text_index_of,
    text_relevance,
    text_terms,
)
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
from .contacts import Service, check_key

__all__ = ["KnowledgeBase"]

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+")
_SNIPPET = 200
_MAX_QUERY = 2_000
_LOOKBACK = 50
"""How many of a conversation's latest messages `KnowledgeBase.suggest_for` reads."""


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{field} must be True or False", field=field)
    return value


def _languages(language: str) -> builtins.list[str]:
    """The article languages that serve a reader of ``language``: itself and its base."""
    return builtins.list(dict.fromkeys((language, base_language(language))))


@functools.cache
def _stopwords() -> dict[str, frozenset[str]]:
    """Folded stop-words of each built-in language (``"en"``: the, my, is...)."""
    from ..understanding.languages import Languages

    languages = Languages()
    out: dict[str, frozenset[str]] = {}
    for code in languages.codes:
        lexicon = languages.get(code)
        out[code] = frozenset(fold_text(w) for w in lexicon.pack.stopwords)
    return out


def search_words(query: str, language: str | None = None) -> str:
    """The words of ``query`` worth searching for: its stop-words dropped.

    Stop-words are those of ``language``'s built-in pack (English, Korean,
    Turkish), of every built-in pack when ``language`` is ``None`` or has
    none. A query made only of stop-words is kept whole.
    """
    packs = _stopwords()
    base = base_language(language) if language else None
    stop = packs[base] if base in packs else frozenset().union(*packs.values())
    words = _WORD.findall(query)
    kept = [w for w in words if fold_text(w) not in stop]
    return " ".join(kept or words)


def snippet(text: str, query: str, size: int = _SNIPPET) -> str:
    """About ``size`` characters of ``text`` around the first word that matches ``query``.

    Words match as in the search (folded, prefixes of suffixed words). The
    cut falls on spaces; ``…`` marks a cut. With no match, the start of
    ``text``.
    """
    flat = " ".join(text.split())
    if len(flat) <= size:
        return flat
    terms = text_terms(query)
    start = 0
    for match in _WORD.finditer(flat):
        word = fold_text(match.group())
        if any(word.startswith(t.text) if t.prefix else word == t.text for t in terms):
            cut = max(0, min(match.start() - size // 4, len(flat) - size))
            space = flat.find(" ", cut, match.start())
            start = space + 1 if cut and space >= 0 else cut
            break
    end = min(len(flat), start + size)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start else end
    piece = flat[start:end].strip()
    return ("…" if start else "") + piece + ("…" if end < len(flat) else "")


class KnowledgeBase(Service):
    """Help articles in every language, found by full-text search ranked by relevance.

    One `search` serves the customer's message (a widget or a bot offers the
    best articles before an agent answers), the agent's composer (what the
    agent types) and bots (what the customer asked); `suggest_for` runs it
    on a conversation's last customer message in its language. Articles are
    drafts until published, and searches show only published ones unless
    asked.

    Example:
        ```python
        article = await kit.kb.create(
            "Where is my order?", "Track it under Account, then Orders.",
            language="en", tags=["orders", "delivery"], published=True,
        )
        for hit in await kit.kb.search("my order is late", language="en"):
            print(hit.article.title, round(hit.score, 2), hit.snippet)
        hits = await kit.kb.suggest_for(conversation.id)  # from the customer's last message
        ```
    """

    async def create(
        self,
        title: str,
        body: str = "",
        *,
        language: str = "en",
        tags: Sequence[str] = (),
        intents: Sequence[str] = (),
        published: bool = False,
    ) -> Article:
        """Write an article.

        Args:
            title: One line, 1 to 300 characters.
            body: The text (plain or Markdown), at most 50,000 characters.
            language: BCP 47 tag of the text.
            tags: Labels (stored lower case, each once).
            intents: Intents it answers (``"order_status"``), for bots.
            published: Whether it is visible to customers and bots now;
                otherwise it is a draft until `publish`.

        Returns:
            The stored article.

        Raises:
            InvalidInputError: A malformed field (named in ``field``).
                Nothing was written.
        """
        article = checked(
            Article,
            id=new_id("kb"),
            title=title,
            body=body,
            language=check_language(language),
            tags=check_names(tags, "tags"),
            intents=check_names(intents, "intents"),
            published=_flag(published, "published"),
        )
        await self._core.commit([Insert(article)], [ArticleCreated(article=article)])
        return article

    async def get(self, article_id: str) -> Article:
        """The article with this id.

        Raises:
            NotFoundError: No such article.
        """
        return await self._load(Article, article_id, "article")

    async def update(
        self,
        article_id: str,
        *,
        title: str | Unset = UNSET,
        body: str | Unset = UNSET,
        language: str | Unset = UNSET,
        tags: Sequence[str] | Unset = UNSET,
        intents: Sequence[str] | Unset = UNSET,
        published: bool | Unset = UNSET,
    ) -> Article:
        """Change the fields given; the others stay.

        Returns:
            The article as stored now (unchanged when nothing differs, and
            then no event is emitted).

        Raises:
            NotFoundError: No such article.
            InvalidInputError: A malformed field. Nothing was written.
        """
        updates: dict[str, Any] = {}
        if not isinstance(title, Unset):
            updates["title"] = title
        if not isinstance(body, Unset):
            updates["body"] = body
        if not isinstance(language, Unset):
            updates["language"] = check_language(language)
        if not isinstance(tags, Unset):
            updates["tags"] = check_names(tags, "tags")
        if not isinstance(intents, Unset):
            updates["intents"] = check_names(intents, "intents")
        if not isinstance(published, Unset):
            updates["published"] = _flag(published, "published")

        async def attempt() -> Article:
            article = await self.get(article_id)
            new = changed(article, **updates)
            diff = sorted(k for k in updates if getattr(new, k) != getattr(article, k))
            if not diff:
                return article
            await self._core.commit([Update(new)], [ArticleUpdated(article=new, changed=diff)])
            return new

        return await self._core.retry(attempt)

    async def publish(self, article_id: str) -> Article:
        """Make an article visible to customers and bots (no event when it already is).

        Raises:
            NotFoundError: No such article.
        """
        return await self.update(article_id, published=True)

    async def unpublish(self, article_id: str) -> Article:
        """Turn an article back into a draft (no event when it already is one).

        Raises:
            NotFoundError: No such article.
        """
        return await self.update(article_id, published=False)

    async def delete(self, article_id: str) -> None:
        """Delete an article; deleting one that is gone does nothing (and emits nothing)."""
        check_key(article_id, "article_id")

        async def attempt() -> None:
            store = await self._core.ready()
            article = await store.get(Article, article_id)
            if article is None:
                return
            # The version check makes one of two racing deletes the one that emits.
            await self._core.commit(
                [Update(bump(article)), Delete(Article, article.id)],
                [ArticleDeleted(article_id=article.id, language=article.language)],
            )

        await self._core.retry(attempt)

    async def list(
        self,
        *,
        language: str | None = None,
        published: bool | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Article]:
        """Page through articles (in id order, stable while pages are read).

        Args:
            language: Only articles in exactly this language; ``None``: all.
            published: Only published (``True``) or draft (``False``)
                articles; ``None``: both.
            limit: Page size, 1 to 1000.
            cursor: ``next_cursor`` of the previous page.

        Raises:
            InvalidInputError: A malformed argument.
        """
        where: dict[str, Condition] = {}
        if language is not None:
            where["language"] = check_language(language)
        if published is not None:
            where["published"] = _flag(published, "published")
        return await self._core.paged(Article, where, limit=limit, cursor=cursor)

    async def search(
        self,
        query: str,
        *,
        language: str | None = None,
        limit: int = 5,
        published_only: bool = True,
    ) -> builtins.list[ArticleHit]:
        """The articles that best match ``query``, most relevant first.

        ``query`` is what someone typed — a customer's message, an agent's
        draft, a bot's input — taken as plain words: any of them may match,
        a title hit counts more than a tag hit, which counts more than a
        body hit, and suffixed words find their stem (``siparişim`` finds
        ``Sipariş``, ``배송이`` finds ``배송``). Stop-words (``my``,
        ``the``, ``bir``...) are left out.

        Args:
            query: The text to search with (up to 2,000 characters are used).
            language: Only articles in this language or its base language
                (``"en-US"`` searches ``en-US`` and ``en`` articles);
                ``None`` searches every language.
            limit: How many hits at most, 1 to 100.
            published_only: Leave drafts out (set ``False`` for editors).

        Returns:
            The hits, with a score (0 to 1, for ordering) and a snippet;
            empty when ``query`` holds no word.

        Raises:
            InvalidInputError: A malformed argument.
        """
        if not isinstance(query, str):
            raise InvalidInputError("query must be a string", field="query")
        check_limit(limit, 100)
        where: dict[str, Condition] = {}
        wanted = None if language is None else check_language(language)
        if wanted is not None:
            where["language"] = In(_languages(wanted))
        if _flag(published_only, "published_only"):
            where["published"] = True
        text = search_words(query[:_MAX_QUERY], wanted)
        if not text:
            return []
        store = await self._core.ready()
        # The store's index finds and orders candidates; the score is
        # recomputed the same way on every store, so thresholds (a bot's
        # "answer when sure") mean the same on SQLite, PostgreSQL and memory.
        found = await store.search_text(Article, text, where=where, limit=min(100, limit * 4))
        _, fields = text_index_of(Article)
        terms = text_terms(text)
        rescored = [
            (article, text_relevance(fields, article, terms), rank)
            for rank, (article, _) in enumerate(found)
        ]
        rescored.sort(key=lambda hit: (-round(hit[1], 6), hit[2]))
        return [
            ArticleHit(article=article, score=score, snippet=snippet(article.body, text))
            for article, score, _ in rescored[:limit]
            if score > 0
        ]

    async def suggest_for(
        self, source: str | Message, *, limit: int = 3
    ) -> builtins.list[ArticleHit]:
        """Articles for the customer's last message: what an agent or a bot could send.

        Searches published articles with the text of the customer's latest
        text message, in its detected language (else the conversation's;
        any language when neither is known).

        Args:
            source: A conversation id (its latest customer message is used)
                or a `Message`.
            limit: How many hits at most, 1 to 100.

        Returns:
            The hits, most relevant first; empty when the customer has not
            written yet.

        Raises:
            NotFoundError: No such conversation.
            InvalidInputError: A malformed argument.
        """
        check_limit(limit, 100)
        if isinstance(source, Message):
            message: Message | None = source
            conversation = await self._load(Conversation, source.conversation_id, "conversation")
        else:
            conversation = await self._load(Conversation, source, "conversation")
            message = await self._last_customer_message(conversation)
        if message is None or not message.text.strip():
            return []
        language = message.analysis.language if message.analysis else conversation.language
        try:
            wanted = None if language is None else normalize_language(language)
        except ValueError:
            wanted = None  # a free-form language on the conversation: search them all
        return await self.search(message.text, language=wanted, limit=limit)

    async def _last_customer_message(self, conversation: Conversation) -> Message | None:
        store = await self._core.ready()
        recent = await store.find(
            Message,
            {"conversation_id": conversation.id},
            order_by="seq",
            descending=True,
            limit=_LOOKBACK,
        )
        for message in recent:
            if message.author.role is AuthorRole.CUSTOMER and message.kind is MessageKind.TEXT:
                return message
        return None
