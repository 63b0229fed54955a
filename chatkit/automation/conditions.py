"""When an automation rule applies: the facts of an event and the conditions on them.

`Facts` is what the code evaluating rules knows about one event: the
message text, what the understanding features made of it (intent,
entities, sentiment), the conversation (channel, language, tags, priority,
mood), the contact's attributes and the clock (open now, idle minutes).
`Conditions` is a rule's ``when``: every condition that is set must hold,
and a condition on a fact that is unknown (``None``) does not hold.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ModelWrapValidatorHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ..models import Channel, Priority
from ._language import language_tier, normalize_language
from ._validation import typed_error

__all__ = ["Conditions", "Facts"]

_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*\Z")

Score = Annotated[float, Field(ge=-1, le=1)]
"""-1 (negative, angry) to 1 (positive, happy)."""

Scalar = StrictStr | StrictInt | StrictFloat | StrictBool | None
"""A JSON scalar compared with contact attributes."""


def _key(value: str) -> str:
    value = value.strip().lower()
    if not value:
        raise ValueError("must not be blank")
    return value


Key = Annotated[str, Field(max_length=100), AfterValidator(_key)]
"""An intent, entity type, tag or keyword: trimmed, lower case."""


def _language(value: str) -> str:
    return normalize_language(value)


Language = Annotated[str, AfterValidator(_language)]


class Facts(BaseModel):
    """What is known about one event, for `RuleSet.evaluate`.

    Attributes:
        text: The customer's message (for ``message.received``).
        intent: The detected intent, e.g. ``"order_status"``.
        intent_confidence: How sure the classifier is, 0 to 1.
        entities: Entities found in the text, by type:
            ``{"order_number": ["A-17"]}``.
        sentiment: Sentiment of the message, -1 to 1.
        mood: The customer's mood over the conversation, -1 to 1.
        channel: The conversation's channel.
        language: The customer's language (BCP 47).
        tags: The conversation's tags.
        contact: The contact's attributes (plain JSON).
        priority: The conversation's priority.
        open_now: Whether the team is within its business hours.
        idle_minutes: Minutes since the last message (for ``conversation.idle``).

    Raises:
        InvalidInputError: A malformed field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str | None = None
    intent: Key | None = None
    intent_confidence: float | None = Field(default=None, ge=0, le=1)
    entities: dict[Key, tuple[str, ...]] = Field(default_factory=dict)
    sentiment: Score | None = None
    mood: Score | None = None
    channel: Channel | None = None
    language: Language | None = None
    tags: frozenset[Key] = frozenset()
    contact: dict[str, JsonValue] = Field(default_factory=dict)
    priority: Priority | None = None
    open_now: bool | None = None
    idle_minutes: float | None = Field(default=None, ge=0)

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(cls, value: Any, handler: ModelWrapValidatorHandler[Facts]) -> Facts:
        try:
            return handler(value)
        except ValidationError as exc:
            raise typed_error(exc, "facts") from exc


class Conditions(BaseModel):
    """A rule's ``when``: every condition that is set must hold.

    Attributes:
        intents: The intent is one of these.
        min_intent_confidence: The intent's confidence is at least this.
        entities: Entities of each of these types were found.
        sentiment_below: The message's sentiment is below this.
        sentiment_above: The message's sentiment is above this.
        mood_below: The customer's mood is below this.
        mood_above: The customer's mood is above this.
        channels: The channel is one of these.
        languages: The customer's language is one of these; ``"en"`` also
            covers ``"en-US"``, ``"en-US"`` covers only itself.
        tags_present: The conversation carries all of these tags.
        tags_absent: The conversation carries none of these tags.
        open_now: Inside (``true``) or outside (``false``) business hours.
        contact_equals: Contact attributes, by dotted path
            (``"plan"``, ``"address.country"``), equal these values
            (exact: ``"1"`` is not ``1``, ``true`` is not ``1``).
        contact_in: Contact attributes, by dotted path, are one of these values.
        priorities: The priority is one of these.
        keywords: The text contains at least one of these words or phrases
            (whole words, any case).

    Raises:
        ValueError: An empty list, or bounds that can never both hold
            (rules turn it into `InvalidInputError` naming the rule).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    intents: frozenset[Key] | None = None
    min_intent_confidence: float | None = Field(default=None, ge=0, le=1)
    entities: frozenset[Key] | None = None
    sentiment_below: Score | None = None
    sentiment_above: Score | None = None
    mood_below: Score | None = None
    mood_above: Score | None = None
    channels: frozenset[Channel] | None = None
    languages: frozenset[Language] | None = None
    tags_present: frozenset[Key] | None = None
    tags_absent: frozenset[Key] | None = None
    open_now: bool | None = None
    contact_equals: dict[str, Scalar] | None = None
    contact_in: dict[str, tuple[Scalar, ...]] | None = None
    priorities: frozenset[Priority] | None = None
    keywords: tuple[Key, ...] | None = None

    @field_validator(
        "intents",
        "entities",
        "channels",
        "languages",
        "tags_present",
        "tags_absent",
        "contact_equals",
        "contact_in",
        "priorities",
        "keywords",
    )
    @classmethod
    def _not_empty(cls, value: object) -> object:
        if value is not None and not value:
            raise ValueError("must name at least one (or be left out)")
        return value

    @field_validator("contact_equals", "contact_in")
    @classmethod
    def _paths(cls, value: dict[str, object] | None) -> dict[str, object] | None:
        for path in value or {}:
            if not _PATH.match(path):
                raise ValueError(f"{path!r} is not a dotted attribute path such as address.country")
        return value

    @field_validator("contact_in")
    @classmethod
    def _choices(
        cls, value: dict[str, tuple[Scalar, ...]] | None
    ) -> dict[str, tuple[Scalar, ...]] | None:
        for path, choices in (value or {}).items():
            if not choices:
                raise ValueError(f"{path}: give at least one value")
        return value

    @model_validator(mode="after")
    def _possible(self) -> Conditions:
        for name in ("sentiment", "mood"):
            below, above = getattr(self, f"{name}_below"), getattr(self, f"{name}_above")
            if below is not None and above is not None and below <= above:
                raise ValueError(f"{name}_below {below} and {name}_above {above} never both hold")
        clash = sorted((self.tags_present or frozenset()) & (self.tags_absent or frozenset()))
        if clash:
            raise ValueError(f"tags both required present and absent: {', '.join(clash)}")
        return self

    def holds(self, facts: Facts) -> bool:
        """Whether every condition that is set holds for ``facts``."""
        return self.failed(facts) is None

    def failed(self, facts: Facts) -> str | None:
        """The first condition that does not hold (its field name), or ``None`` if all hold.

        Handy for explaining why a rule did not fire.
        """
        f = facts
        results: tuple[tuple[str, object, bool], ...] = (
            ("intents", self.intents, bool(self.intents and f.intent in self.intents)),
            (
                "min_intent_confidence",
                self.min_intent_confidence,
                _at_least(f.intent_confidence, self.min_intent_confidence),
            ),
            (
                "entities",
                self.entities,
                all(f.entities.get(kind) for kind in self.entities or ()),
            ),
            ("sentiment_below", self.sentiment_below, _below(f.sentiment, self.sentiment_below)),
            ("sentiment_above", self.sentiment_above, _below(self.sentiment_above, f.sentiment)),
            ("mood_below", self.mood_below, _below(f.mood, self.mood_below)),
            ("mood_above", self.mood_above, _below(self.mood_above, f.mood)),
            ("channels", self.channels, bool(self.channels and f.channel in self.channels)),
            ("languages", self.languages, _language_in(f.language, self.languages)),
            ("tags_present", self.tags_present, (self.tags_present or frozenset()) <= f.tags),
            ("tags_absent", self.tags_absent, not (self.tags_absent or frozenset()) & f.tags),
            ("open_now", self.open_now, f.open_now is self.open_now),
            (
                "contact_equals",
                self.contact_equals,
                all(
                    _same(_attribute(f.contact, path), value)
                    for path, value in (self.contact_equals or {}).items()
                ),
            ),
            (
                "contact_in",
                self.contact_in,
                all(
                    any(_same(_attribute(f.contact, path), value) for value in choices)
                    for path, choices in (self.contact_in or {}).items()
                ),
            ),
            (
                "priorities",
                self.priorities,
                bool(self.priorities and f.priority in self.priorities),
            ),
            ("keywords", self.keywords, _any_keyword(f.text, self.keywords or ())),
        )
        for name, condition, ok in results:
            if condition is not None and not ok:
                return name
        return None


_ABSENT = object()


def _attribute(attributes: dict[str, JsonValue], path: str) -> object:
    current: object = attributes
    for key in path.split("."):
        if not isinstance(current, dict) or key not in current:
            return _ABSENT
        current = current[key]
    return current


def _same(found: object, wanted: object) -> bool:
    if found is _ABSENT:
        return False
    if isinstance(found, bool) or isinstance(wanted, bool):
        return type(found) is type(wanted) and found == wanted
    if isinstance(found, (int, float)) and isinstance(wanted, (int, float)):
        return found == wanted
    return type(found) is type(wanted) and found == wanted


def _language_in(language: str | None, wanted: frozenset[str] | None) -> bool:
    return (
        language is not None
        and wanted is not None
        and any(language_tier(tag, language) >= 2 for tag in wanted)
    )


def _below(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value < limit


def _at_least(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value >= limit


def _any_keyword(text: str | None, keywords: tuple[str, ...]) -> bool:
    if not text:
        return False
    folded = text.casefold()
    return any(
        re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", folded) for word in keywords
    )
