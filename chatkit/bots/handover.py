"""When a customer talking to a bot gets a person, and the kit's bot settings.

The customer can always reach a person: a handover word in their language
("agent", "상담원", "temsilci"...), the understanding intent
``talk_to_human`` with enough confidence, or (optionally) several angry
messages in a row hand the conversation over at once, whatever step the
flow is on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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

from ..automation._language import normalize_language
from ..automation._validation import typed_error
from ..models.messages import MessageAnalysis
from .flows import Flow

__all__ = [
    "DEFAULT_HANDOVER_WORDS",
    "BotSettings",
    "HandoverSettings",
    "is_yes",
]

DEFAULT_HANDOVER_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("agent", "human", "person", "representative", "operator", "real person"),
    "ko": ("상담원", "상담사", "사람", "직원"),
    "tr": ("temsilci", "müşteri temsilcisi", "insan", "yetkili", "operatör"),
}
"""Words that ask for a person, per language (`HandoverSettings.words`)."""

_SUFFIXED = frozenset({"ko", "tr", "fi", "hu", "ja"})
"""Languages whose words take suffixes: "temsilciye", "상담원이랑" still match."""

_YES: dict[str, tuple[str, ...]] = {
    "en": ("yes", "yeah", "yep", "sure", "thanks", "thank you", "it did", "helped", "perfect"),
    "ko": ("네", "예", "응", "감사", "고마", "도움이 됐", "도움이 되었"),
    "tr": ("evet", "teşekkür", "sağ ol", "sağol", "oldu", "yardımcı oldu", "tamam"),
}
_NO: dict[str, tuple[str, ...]] = {
    "en": ("no", "not", "nope", "didn't", "did not", "doesn't"),
    "ko": ("아니", "아뇨", "안 됐", "안됐", "별로"),
    "tr": ("hayır", "olmadı", "değil", "yok"),
}

_WORD = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _contains(tokens: list[str], phrase: str, suffixed: bool) -> bool:
    words = _tokens(phrase)
    if not words:
        return False
    for start in range(len(tokens) - len(words) + 1):
        window = tokens[start : start + len(words)]
        head, last = window[:-1], window[-1]
        if head != words[:-1]:
            continue
        wanted = words[-1]
        if last == wanted or last == wanted + "s" or (suffixed and last.startswith(wanted)):
            return True
    return False


def _mentions(text: str, words: Mapping[str, tuple[str, ...]]) -> str | None:
    tokens = _tokens(text)
    for language, phrases in words.items():
        suffixed = language.split("-")[0] in _SUFFIXED
        for phrase in phrases:
            if _contains(tokens, phrase, suffixed):
                return phrase
    return None


def is_yes(text: str) -> bool:
    """Whether an answer to "did that help?" says yes (in English, Korean or Turkish)."""
    if _mentions(text, _NO):
        return False
    return _mentions(text, _YES) is not None


class HandoverSettings(BaseModel):
    """When the customer gets a person at once, whatever the flow is doing.

    Attributes:
        words: Words and phrases that ask for a person, per language tag.
            Every language's words count in every conversation (customers
            mix languages); in Korean, Turkish and other suffixing
            languages a word with a suffix matches too ("temsilciye").
        intent: The understanding intent that asks for a person (``None``: off).
        min_confidence: The least confidence in ``intent``.
        sentiment_below: Hand over after ``negative_messages`` customer
            messages in a row with sentiment below this (``None``: off).
        negative_messages: How many such messages.

    Example:
        ```python
        HandoverSettings(words={**DEFAULT_HANDOVER_WORDS, "de": ("mitarbeiter", "mensch")})
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    words: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_HANDOVER_WORDS))
    intent: str | None = "talk_to_human"
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    sentiment_below: float | None = Field(default=None, ge=-1, le=1)
    negative_messages: int = Field(default=2, ge=1, le=20)

    @field_validator("words", mode="before")
    @classmethod
    def _languages(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {normalize_language(str(k)): v for k, v in value.items()}
        return value

    def reason(self, text: str, analysis: MessageAnalysis | None, negative: int) -> str | None:
        """Why this message hands over (``None``: it does not).

        Args:
            text: The customer's message.
            analysis: What understanding made of it.
            negative: Negative messages in a row, this one included.
        """
        word = _mentions(text, self.words)
        if word is not None:
            return f"the customer asked for a person ({word!r})"
        if (
            self.intent is not None
            and analysis is not None
            and analysis.intent == self.intent
            and analysis.confidence >= self.min_confidence
        ):
            confidence = f"{analysis.confidence:.2f}"
            return f"the customer asked for a person (intent {self.intent}, {confidence})"
        if self.sentiment_below is not None and negative >= self.negative_messages:
            return f"the customer was upset for {negative} messages in a row"
        return None

    def is_negative(self, analysis: MessageAnalysis | None) -> bool:
        """Whether a message counts towards ``negative_messages``."""
        return (
            self.sentiment_below is not None
            and analysis is not None
            and analysis.sentiment < self.sentiment_below
        )


class BotSettings(BaseModel):
    """The kit's bot flows (`ChatKitSettings.bots`).

    Attributes:
        flows: Flows the kit knows by name (a running flow is found by its
            name, in any process).
        flow: The flow every new conversation starts with (``None``: bots
            start only when `Bots.start` is called); must be in ``flows``
            or is added to them.
        handover: When the customer gets a person at once.
        author: The bot's name on its messages (``Author.bot(author)``).

    Example:
        ```python
        late_order = Flow.load("flows/late_order.yaml")
        settings = BotSettings(flows=(late_order,), flow="late-order")
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    flows: tuple[Flow, ...] = ()
    flow: str | Flow | None = None
    handover: HandoverSettings = Field(default_factory=HandoverSettings)
    author: str = Field(default="bot", min_length=1, max_length=100)

    @field_validator("flows", mode="before")
    @classmethod
    def _load(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            return tuple(Flow.from_dict(item) for item in value)
        return value

    @field_validator("flow", mode="before")
    @classmethod
    def _one(cls, value: object) -> object:
        return Flow.from_dict(value) if isinstance(value, Mapping) else value

    @model_validator(mode="after")
    def _known(self) -> BotSettings:
        names = [f.name for f in self.flows]
        twice = {n for n in names if names.count(n) > 1}
        if twice:
            raise ValueError(f"flow names must be unique; {sorted(twice)[0]!r} is used twice")
        if isinstance(self.flow, str) and self.flow not in names:
            raise ValueError(f"flow {self.flow!r} is not one of flows ({', '.join(names)})")
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(
        cls, value: Any, handler: ModelWrapValidatorHandler[BotSettings]
    ) -> BotSettings:
        try:
            return handler(value)
        except ValidationError as exc:
            raise typed_error(exc, "bot settings") from exc

    def find(self, name: str) -> Flow | None:
        """The flow called ``name``, or ``None``."""
        if isinstance(self.flow, Flow) and self.flow.name == name:
            return self.flow
        return next((f for f in self.flows if f.name == name), None)

    @property
    def default(self) -> Flow | None:
        """The flow new conversations start with."""
        if isinstance(self.flow, Flow):
            return self.flow
        if self.flow is None:
            return None
        return self.find(self.flow)
