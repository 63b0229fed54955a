"""Where a bot flow is in a conversation, and the summary it hands to a person.

Kept on the conversation (`Conversation.bot`), so a flow survives restarts
and runs from any process: every change is a version-checked write of the
conversation. Plain data only; this module imports nothing of the kit but
the model basics, so the conversation model can use it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..models._base import SafeText, UTCDateTime, utcnow

__all__ = ["BotReply", "BotState", "BotStatus", "BotSummary", "ShownArticle"]

BotStatus = Literal["active", "handed_over", "finished", "stopped"]
"""``active`` (the bot answers the customer), ``handed_over`` (a person
takes it from here), ``finished`` (the flow ended without a person) or
``stopped`` (an agent took the conversation, or `Bots.stop` was called)."""


class ShownArticle(BaseModel):
    """A knowledge-base article the bot showed the customer.

    Attributes:
        id: The article's id.
        title: Its title.
        score: How well it matched the search, 0 to 1.
        helped: The customer's answer to "did that help?" (``None``: no answer).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    title: SafeText
    score: float = Field(ge=0, le=1)
    helped: bool | None = None


class BotSummary(BaseModel):
    """What a person taking over needs to know, so they never ask again.

    Attributes:
        flow: The flow that ran.
        step: The step it was on.
        reason: Why it handed over (``"the customer asked for a person ('agent')"``).
        request: What the customer wants, in their words (their first message).
        intent: The detected intent, if any.
        intent_confidence: Confidence in that intent, 0 to 1.
        mood: The conversation's mood, -1 (angry) to 1 (happy), if measured.
        mood_label: ``negative``, ``neutral`` or ``positive``.
        language: The customer's language.
        fields: The answers collected (``{"order_number": "245-12784"}``).
        articles: The articles already shown, and whether they helped.
        team: The team it was queued for.
        topic: The topic it was routed with.
        priority: The priority asked for, if the flow set one.
        created_at: When it handed over.
    """

    model_config = ConfigDict(frozen=True)

    flow: str
    step: str | None = None
    reason: SafeText
    request: SafeText | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    mood: float | None = None
    mood_label: str | None = None
    language: str | None = None
    fields: dict[str, SafeText] = Field(default_factory=dict)
    articles: list[ShownArticle] = Field(default_factory=list)
    team: str | None = None
    topic: str | None = None
    priority: str | None = None
    created_at: UTCDateTime = Field(default_factory=utcnow)

    def text(self) -> str:
        """The summary as a note for the agent, one fact a line."""
        lines = [f"Bot handoff: {self.reason}"]
        lines.append(f"Customer wants: {self.request or '(not said)'}")
        if self.intent is not None:
            confidence = f" ({self.intent_confidence:.2f})" if self.intent_confidence else ""
            lines.append(f"Intent: {self.intent}{confidence}")
        else:
            lines.append("Intent: not detected")
        if self.mood is not None:
            lines.append(f"Mood: {self.mood_label or 'neutral'} ({self.mood:+.2f})")
        else:
            lines.append("Mood: not measured")
        if self.fields:
            collected = ", ".join(f"{k} = {v}" for k, v in self.fields.items())
            lines.append(f"Collected: {collected}")
        else:
            lines.append("Collected: nothing")
        if self.articles:
            shown = "; ".join(
                f"{a.title!r} ({a.id}, score {a.score:.2f}"
                + (", helped" if a.helped else ", did not help" if a.helped is False else "")
                + ")"
                for a in self.articles
            )
            lines.append(f"Articles shown: {shown}")
        else:
            lines.append("Articles shown: none")
        where = ", ".join(
            f"{k} {v}"
            for k, v in (("team", self.team), ("topic", self.topic), ("priority", self.priority))
            if v
        )
        lines.append(
            f"Flow: {self.flow}"
            + (f" (step {self.step})" if self.step else "")
            + (f"; routed to {where}" if where else "")
        )
        if self.language:
            lines.append(f"Language: {self.language}")
        return "\n".join(lines)


class BotReply(BaseModel):
    """A message the bot sends in a turn; the key makes a resend harmless."""

    model_config = ConfigDict(frozen=True)

    key: str
    text: SafeText


class BotState(BaseModel):
    """A bot flow's progress in one conversation (`Conversation.bot`).

    Attributes:
        flow: The flow's name.
        run: This run's id (a flow started again gets a new one); part of
            every reply's idempotency key.
        status: See `BotStatus`.
        step: The current step (``None`` once the flow is over).
        waiting: What the bot's last message asked for: ``answer`` (to the
            current ``ask`` step), ``feedback`` ("did that help?") or ``None``.
        attempts: Answers to the current ``ask`` step that did not validate.
        language: The language the bot speaks with the customer.
        request: What the customer wants, in their words (the first message).
        intent: What the customer wants, as understood: the first intent
            detected in their messages (asking for a person aside).
        intent_confidence: Confidence in ``intent``.
        fields: The answers collected so far.
        articles: The knowledge-base articles shown so far.
        negative: How many customer messages in a row were negative.
        handled_seq: The last customer message the bot acted on; an older or
            repeated one only resends the replies of that turn.
        replies: The replies of the last turn, resent (idempotently) when the
            same message is handled again.
        summary: The handoff summary, once handed over.
        started_at: When the run started.
        ended_at: When it handed over, finished or stopped.
    """

    model_config = ConfigDict(frozen=True)

    flow: str
    run: str
    status: BotStatus = "active"
    step: str | None = None
    waiting: Literal["answer", "feedback"] | None = None
    attempts: int = Field(default=0, ge=0)
    language: str | None = None
    request: SafeText | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    fields: dict[str, SafeText] = Field(default_factory=dict)
    articles: list[ShownArticle] = Field(default_factory=list)
    negative: int = Field(default=0, ge=0)
    handled_seq: int = Field(default=0, ge=0)
    replies: list[BotReply] = Field(default_factory=list)
    summary: BotSummary | None = None
    started_at: UTCDateTime = Field(default_factory=utcnow)
    ended_at: UTCDateTime | None = None

    @property
    def active(self) -> bool:
        """Whether the bot answers the customer's messages."""
        return self.status == "active"
