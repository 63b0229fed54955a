"""Automatic replies that listen: which one fits, in the customer's language.

`AutoReplySettings` holds the reply templates by situation and language,
with defaults in English, Korean and Turkish. `choose_first` picks the
reply to a customer's first message from what was understood of it:

- an angry customer (sentiment at or below `AutoReplySettings.apology_below`,
  or a complaint) gets an apology, never a cheerful template;
- a message with a clear intent gets the reply to that intent, the most
  specific one first (``order_status+order_number`` when an order number
  was found: "Sorry your order 245-12784 is late - I'm checking its status
  now");
- anything else gets the greeting.

`AutoReplies` (`chatkit.services.autoreplies`) sends them, once per trigger
and rate-limited per conversation. The wait and opening-time phrases are
formatted here too (`format_wait`, `format_opening`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from importlib import resources
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

from ..models import Priority
from ..models.messages import MessageAnalysis
from ._language import base_language, language_tier, normalize_language
from ._validation import typed_error
from .templates import Template

__all__ = ["AutoReplySettings", "choose_first", "format_opening", "format_wait", "pick_language"]

Localized = dict[str, Template]
"""Templates by BCP 47 language tag."""


def _t(texts: Mapping[str, str]) -> Localized:
    return {lang: Template.parse(text) for lang, text in texts.items()}


_DATA: dict[str, Any] = json.loads(
    resources.files("chatkit.automation").joinpath("data/replies.json").read_text("utf-8")
)
"""The default reply texts and time words, by language (``data/replies.json``)."""
DEFAULT_GREETING: dict[str, str] = _DATA["greeting"]
DEFAULT_APOLOGY: dict[str, str] = _DATA["apology"]
DEFAULT_INTENTS: dict[str, dict[str, str]] = _DATA["intents"]
DEFAULT_QUEUED: dict[str, str] = _DATA["queued"]
DEFAULT_OUT_OF_HOURS: dict[str, str] = _DATA["out_of_hours"]


class AutoReplySettings(BaseModel):
    """Which automatic replies are sent, and their texts.

    Templates use the `chatkit.automation.Template` syntax; ``contact``,
    ``order`` (``order.number``: the first order number found),
    ``conversation`` (``conversation.position`` and ``conversation.wait``
    in the queue reply) and ``team`` (``team.name``, ``team.opens_at``) are
    filled in. Each situation maps language tags to templates; the closest
    language wins, then English.

    Attributes:
        enabled: Send automatic replies (`Messages.receive` for a new
            conversation's first message, `Routing.route` when the
            conversation waits or the team is closed).
        greeting: The reply to a first message with no clear intent.
        intents: Replies by intent; ``"intent+entity_type"`` keys are
            preferred when such an entity was found.
        apology: The reply to an angry first message, instead of any other.
        queued: The acknowledgement with the place in line and expected wait.
        out_of_hours: The notice when the team is closed, with when it opens.
        apology_below: Sentiment at or below which the apology is sent.
        angry_priority: The priority an angry customer's conversation is
            raised to, so it is served sooner (``None``: unchanged).
        default_wait: The wait told when the team has no estimate yet.
        max_replies: Most automatic replies in one conversation per ``window``.
        window: The rate-limit window.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    greeting: Localized = Field(default_factory=lambda: _t(DEFAULT_GREETING))
    intents: dict[str, Localized] = Field(
        default_factory=lambda: {k: _t(v) for k, v in DEFAULT_INTENTS.items()}
    )
    apology: Localized = Field(default_factory=lambda: _t(DEFAULT_APOLOGY))
    queued: Localized = Field(default_factory=lambda: _t(DEFAULT_QUEUED))
    out_of_hours: Localized = Field(default_factory=lambda: _t(DEFAULT_OUT_OF_HOURS))
    apology_below: float = Field(default=-0.6, ge=-1, le=1)
    angry_priority: Priority | None = Priority.HIGH
    default_wait: timedelta = timedelta(minutes=5)
    max_replies: int = Field(default=3, ge=1)
    window: timedelta = timedelta(minutes=10)

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(
        cls, value: Any, handler: ModelWrapValidatorHandler[AutoReplySettings]
    ) -> AutoReplySettings:
        try:
            return handler(value)
        except ValidationError as exc:
            raise typed_error(exc, "auto_replies") from exc

    @field_validator("greeting", "apology", "queued", "out_of_hours")
    @classmethod
    def _languages(cls, value: Localized) -> Localized:
        if not value:
            raise ValueError("needs a template in at least one language")
        return {normalize_language(tag): template for tag, template in value.items()}

    @field_validator("intents")
    @classmethod
    def _intent_languages(cls, value: dict[str, Localized]) -> dict[str, Localized]:
        return {key.strip().lower(): cls._languages(texts) for key, texts in value.items() if texts}


def pick_language(templates: Localized, language: str | None) -> Template:
    """The template closest to ``language``: same tag, base language, a variant, then English."""
    wanted = normalize_language(language) if language else "en"
    best = max(templates, key=lambda tag: (language_tier(tag, wanted), tag == "en"))
    if language_tier(best, wanted) == 0 and "en" in templates:
        best = "en"
    return templates[best]


def choose_first(
    settings: AutoReplySettings, analysis: MessageAnalysis | None, language: str | None
) -> tuple[str, Template]:
    """The reply to a customer's first message, and its kind.

    Returns:
        ``("apology", ...)``, ``("intent:<key>", ...)`` or ``("greeting", ...)``.
    """
    if analysis is not None:
        if analysis.sentiment <= settings.apology_below or analysis.intent == "complaint":
            return "apology", pick_language(settings.apology, language)
        if analysis.intent is not None:
            types = dict.fromkeys(e.type for e in analysis.entities)
            for key in [f"{analysis.intent}+{t}" for t in types] + [analysis.intent]:
                if key in settings.intents:
                    return f"intent:{key}", pick_language(settings.intents[key], language)
    return "greeting", pick_language(settings.greeting, language)


_WORDS: dict[str, dict[str, Any]] = _DATA["time_words"]
_UNITS: dict[str, list[str]] = _WORDS["units"]  # minute, minutes, hour, hours
_DAYS: dict[str, list[str]] = _WORDS["days"]
_TODAY: dict[str, str] = _WORDS["today"]
_TOMORROW: dict[str, str] = _WORDS["tomorrow"]
_ON_DAY: dict[str, str] = _WORDS["on_day"]


def _lang(language: str | None) -> str:
    code = base_language(language) if language else "en"
    return code if code in _UNITS else "en"


def format_wait(wait: timedelta, language: str | None) -> str:
    """A wait as customers read it: ``"4 minutes"``, ``"4분"``, ``"2 saat"`` (at least 1 minute)."""
    minute, minutes, hour, hours = _UNITS[_lang(language)]
    total = max(1, round(wait.total_seconds() / 60))
    if total < 90:
        return (minute if total == 1 else minutes).format(n=total)
    n = round(total / 60)
    return (hour if n == 1 else hours).format(n=n)


def format_opening(opens_at: datetime, now: datetime, zone: Any, language: str | None) -> str:
    """When a team opens, in the customer's zone: ``"tomorrow at 09:00"``, ``"on Monday at 09:00"``.

    Args:
        opens_at: The opening time.
        now: The current time (for "today" and "tomorrow").
        zone: The customer's `zoneinfo.ZoneInfo`.
        language: The customer's language (English when there are no words for it).
    """
    code = _lang(language)
    local, today = opens_at.astimezone(zone), now.astimezone(zone).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return _TODAY[code].format(t=clock)
    if local.date() == today + timedelta(days=1):
        return _TOMORROW[code].format(t=clock)
    return _ON_DAY[code].format(d=_DAYS[code][local.weekday()], t=clock)
