"""Canned responses: saved replies agents and rules send by shortcut, and their ranking.

A `CannedResponse` is a reply `Template` with a shortcut (``/late-order``),
a language and the intents and topics it answers. `suggest` ranks a
collection of them for a conversation. Storage is not here: keep them
where you keep the rest and hand them in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import InvalidInputError
from ..models import UTCDateTime
from ._language import language_tier, normalize_language
from ._validation import typed_error
from .templates import Template

__all__ = ["CannedResponse", "suggest"]

_SHORTCUT = re.compile(r"^/[a-z0-9]+(?:-[a-z0-9]+)*$")


class CannedResponse(BaseModel):
    """A saved reply agents (and rules) send by its shortcut.

    Attributes:
        shortcut: What agents type, a lower-case slug after ``/``
            (``"/late-order"``); unique per language in your store.
        title: A human name for pickers.
        body: The reply `Template`; parsed when the response is created,
            so a broken template never reaches a customer.
        language: BCP 47 tag of the body (``"en"``, ``"en-US"``), normalised.
        intents: Intents it answers (``"order_status"``), lower case.
        topics: Topics (routing categories) it belongs to, lower case.
        tags: Free labels, lower case.
        usage_count: How often it was sent.
        last_used_at: When it was last sent.
        last_reviewed_at: When a person last checked it is still right.

    Raises:
        InvalidInputError: A malformed field (a `TemplateError` for the body).

    Example:
        ```python
        late = CannedResponse(
            shortcut="/late-order", title="Late order", language="en",
            body="Sorry {{ contact.first_name | there }}, order {{ order.number }} is late.",
            intents=["order_status"],
        )
        late.render({"order": {"number": "A-17"}})
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    shortcut: str = Field(max_length=64)
    title: str = Field(min_length=1, max_length=200)
    body: Template
    language: str
    intents: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    usage_count: int = Field(default=0, ge=0)
    last_used_at: UTCDateTime | None = None
    last_reviewed_at: UTCDateTime | None = None

    @field_validator("shortcut")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SHORTCUT.match(value):
            raise ValueError(
                "must be '/' and a lower-case slug of letters, digits and single dashes "
                "(e.g. /late-order)"
            )
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalize_language(value)

    @field_validator("intents", "topics", "tags")
    @classmethod
    def _labels(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(
        cls, value: Any, handler: ModelWrapValidatorHandler[CannedResponse]
    ) -> CannedResponse:
        try:
            return handler(value)
        except ValidationError as exc:
            shortcut = value.get("shortcut") if isinstance(value, dict) else None
            label = (
                f"canned response {shortcut!r}" if isinstance(shortcut, str) else "canned response"
            )
            raise typed_error(exc, label) from exc

    def render(self, context: Mapping[str, object]) -> str:
        """The body filled in from ``context`` (see `Template.render`)."""
        return self.body.render(context)

    def needs_review(self, now: datetime, every: timedelta = timedelta(days=30)) -> bool:
        """Whether nobody has reviewed it within ``every`` of ``now`` (or ever).

        Raises:
            InvalidInputError: ``now`` is naive.
        """
        _aware(now)
        return self.last_reviewed_at is None or now - self.last_reviewed_at >= every

    def used(self, now: datetime) -> CannedResponse:
        """A copy counting one more use at ``now`` (store it to record the use)."""
        _aware(now)
        return self.model_copy(update={"usage_count": self.usage_count + 1, "last_used_at": now})

    def reviewed(self, now: datetime) -> CannedResponse:
        """A copy marked as reviewed at ``now``."""
        _aware(now)
        return self.model_copy(update={"last_reviewed_at": now})


def _aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInputError("now must be a timezone-aware datetime", field="now")


def suggest(
    responses: Iterable[CannedResponse],
    *,
    language: str,
    intent: str | None = None,
    topic: str | None = None,
    limit: int | None = None,
) -> list[CannedResponse]:
    """Rank canned responses for a conversation, best first.

    Only responses in the customer's language qualify: the same tag, its
    base language (``"en"`` for ``"en-US"``) or another variant of it
    (``"en-GB"``). They are ordered by

    1. answering ``intent`` (when given),
    2. belonging to ``topic`` (when given),
    3. how close the language is (same tag, then base, then variant),
    4. usage count, then the most recently used, then the shortcut.

    Args:
        responses: The candidates (e.g. everything in your store).
        language: The customer's language, a BCP 47 tag.
        intent: The detected intent, if any.
        topic: The conversation's topic, if any.
        limit: Keep at most this many.

    Raises:
        InvalidInputError: ``language`` is not a language tag, or ``limit`` is negative.
    """
    try:
        wanted = normalize_language(language)
    except ValueError as exc:
        raise InvalidInputError(str(exc), field="language") from exc
    if limit is not None and limit < 0:
        raise InvalidInputError("limit must not be negative", field="limit")
    for name, value in (("intent", intent), ("topic", topic)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f"{name} must be a string", field=name)
    intent_key = intent.strip().lower() if intent else None
    topic_key = topic.strip().lower() if topic else None
    ranked: list[tuple[tuple[int, int, int, int, float], str, CannedResponse]] = []
    for response in responses:
        tier = language_tier(response.language, wanted)
        if tier == 0:
            continue
        used = response.last_used_at.timestamp() if response.last_used_at else float("-inf")
        key = (
            int(intent_key is not None and intent_key in response.intents),
            int(topic_key is not None and topic_key in response.topics),
            tier,
            response.usage_count,
            used,
        )
        ranked.append((key, response.shortcut, response))
    ranked.sort(key=lambda item: item[1])  # stable: shortcut breaks ties
    ranked.sort(key=lambda item: item[0], reverse=True)
    found = [item[2] for item in ranked]
    return found if limit is None else found[:limit]
