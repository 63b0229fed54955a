"""Canned replies: saved agent scripts, stored with their usage and review dates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from ._base import Record, SafeText, UTCDateTime

if TYPE_CHECKING:
    from ..automation.canned import CannedResponse

__all__ = ["CannedReply"]

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"

RESPONSE_FIELDS: frozenset[str] = frozenset(
    {
        "shortcut",
        "title",
        "body",
        "language",
        "intents",
        "topics",
        "tags",
        "usage_count",
        "last_used_at",
        "last_reviewed_at",
    }
)
"""The fields a `CannedReply` shares with `chatkit.automation.CannedResponse`."""


class CannedReply(Record):
    """A stored canned response: what `chatkit.automation.CannedResponse` holds, with an id.

    The fields are checked (and normalised) exactly as a `CannedResponse`
    checks them, so every stored reply converts with `response` and back with
    `from_response`. The body is kept as its template text.

    Attributes:
        shortcut: What agents type, ``/`` and a lower-case slug
            (``"/late-order"``); unique per language.
        title: A human name for pickers.
        body: The template text (see `chatkit.automation.Template`);
            at most 10,000 characters.
        language: BCP 47 tag of the body, normalised (``"en-US"``).
        intents: Intents it answers (``"order_status"``), lower case.
        topics: Topics it belongs to, lower case.
        tags: Free labels, lower case.
        usage_count: How often it was sent.
        last_used_at: When it was last sent.
        last_reviewed_at: When a person last checked it is still right.

    Raises:
        InvalidInputError: A malformed field (a `TemplateError` for the body).
    """

    table: ClassVar[str] = "canned_replies"
    columns: ClassVar[tuple[str, ...]] = (
        "shortcut",
        "language",
        "base_language",
        "shortcut_key",
        "review_key",
    )
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("shortcut", "language"),)
    sort_keys: ClassVar[frozenset[str]] = frozenset({"shortcut_key", "review_key"})

    shortcut: str = Field(max_length=64)
    title: SafeText = Field(min_length=1, max_length=200)
    body: SafeText = Field(max_length=10_000)
    language: str
    intents: tuple[SafeText, ...] = ()
    topics: tuple[SafeText, ...] = ()
    tags: tuple[SafeText, ...] = ()
    usage_count: int = Field(default=0, ge=0)
    last_used_at: UTCDateTime | None = None
    last_reviewed_at: UTCDateTime | None = None

    @model_validator(mode="before")
    @classmethod
    def _as_response(cls, data: Any) -> Any:
        """Check and normalise the shared fields with `CannedResponse`'s own rules."""
        if not isinstance(data, Mapping):
            return data
        from ..automation.canned import CannedResponse

        shared = {k: v for k, v in data.items() if k in RESPONSE_FIELDS}
        response = CannedResponse.model_validate(shared)
        return {**data, **response.model_dump(include=set(shared))}

    def response(self) -> CannedResponse:
        """This reply as a `chatkit.automation.CannedResponse` (to rank or render it)."""
        from ..automation.canned import CannedResponse

        return CannedResponse.model_validate(self.model_dump(include=set(RESPONSE_FIELDS)))

    @classmethod
    def from_response(cls, response: CannedResponse, *, id: str) -> CannedReply:
        """A record holding ``response`` under ``id`` (version 1, created now).

        Raises:
            InvalidInputError: ``response`` does not fit a stored reply (a body
                over 10,000 characters, a NUL in a text).
        """
        return cls.model_validate({"id": id, **response.model_dump()})

    @property
    def base_language(self) -> str:
        """The language subtag alone (``"en"`` for ``"en-US"``): the reply's language family."""
        return self.language.split("-", 1)[0]

    @property
    def shortcut_key(self) -> str:
        """Listing order: by shortcut, then language (unique, like the pair)."""
        return f"{self.shortcut} {self.language}"

    @property
    def review_key(self) -> str:
        """Review order: never reviewed first (oldest created first), then oldest review."""
        if self.last_reviewed_at is None:
            return f"0|{self.created_at.strftime(_STAMP)}|{self.id}"
        return f"1|{self.last_reviewed_at.strftime(_STAMP)}|{self.id}"
