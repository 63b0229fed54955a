"""Knowledge-base articles: help texts that customers, agents and bots search."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._base import Record, SafeText

__all__ = ["Article", "ArticleHit"]

MAX_BODY = 50_000
"""The longest article body, in characters."""


def _labels(values: list[str], field: str) -> list[str]:
    out: list[str] = []
    for value in values:
        label = " ".join(value.split()).lower()
        if not label:
            raise ValueError(f"{field} must not hold empty names")
        if len(label) > 100:
            raise ValueError(f"{field} holds a name over 100 characters")
        if label not in out:
            out.append(label)
    if len(out) > 50:
        raise ValueError(f"at most 50 {field}")
    return out


class Article(Record):
    """A knowledge-base article.

    Articles are searched by full text (see `chatkit.services.KnowledgeBase`):
    stores index ``title``, ``tags`` and ``body`` with decreasing weight. A
    draft (``published=False``) is found only when a search asks for drafts.

    Attributes:
        title: One line, 1 to 300 characters.
        body: The text, at most 50,000 characters (plain text or Markdown).
        language: BCP 47 tag of the text, normalised (``"en-US"``, ``"tr"``).
        tags: Labels, lower case, each once, in the order given.
        published: Whether customers and bots may see it.
        intents: Intents it answers (``"order_status"``), lower case: a bot
            that recognised an intent can offer it without a text search.
    """

    table: ClassVar[str] = "kb_articles"
    columns: ClassVar[tuple[str, ...]] = ("language", "published")
    text_index: ClassVar[str] = "kb_search"
    """The full-text index of this kind (see `chatkit.stores.Store.search_text`)."""
    text_fields: ClassVar[tuple[tuple[str, float], ...]] = (
        ("title", 10.0),
        ("body", 1.0),
        ("tags", 3.0),
    )
    """Indexed fields and their relative weights, in the index's column order."""

    title: SafeText = Field(min_length=1, max_length=300)
    body: SafeText = Field(default="", max_length=MAX_BODY)
    language: str = "en"
    tags: list[SafeText] = Field(default_factory=list)
    published: bool = False
    intents: list[SafeText] = Field(default_factory=list)

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        title = " ".join(value.split())
        if not title:
            raise ValueError("title must not be blank")
        return title

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        from ..automation._language import normalize_language

        return normalize_language(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _labels(value, "tags")

    @field_validator("intents")
    @classmethod
    def _intents(cls, value: list[str]) -> list[str]:
        return _labels(value, "intents")


class ArticleHit(BaseModel):
    """One result of a knowledge-base search.

    Attributes:
        article: The article found.
        score: Its relevance, above 0 and below 1; it orders the hits of one
            search (each store computes it its own way).
        snippet: A short piece of the body around the first word that
            matched (the start of the body when only the title or tags did),
            plain text, at most about 200 characters.
    """

    model_config = ConfigDict(frozen=True)

    article: Article
    score: float
    snippet: str
