"""Understanding customers' messages inside the kit: per message, per conversation, per period."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import InvalidInputError
from ..events import ConversationMoodChanged, Event
from ..models import AuthorRole, Conversation, Message, MessageKind
from ..models.messages import EntityValue, MessageAnalysis
from ..stores.base import Gt
from ..understanding import (
    Analyzer,
    Classification,
    Classifier,
    IntentSet,
    ProductCatalogue,
    QuestionPattern,
    SentimentAnalyzer,
    SentimentResult,
    TermCount,
    classifiers,
    default_intents,
    label_for,
    negative_terms,
    question_patterns,
    sentiment_analyzers,
)
from ._core import Core
from .contacts import Service
from .pipeline import MessageDraft, standard_step

__all__ = ["Understanding"]

_WORSENING = 0.15
"""A drop of the running mood by this much over the trend window counts as getting angrier."""


@dataclass
class _Engines:
    analyzer: Analyzer
    classifier: Classifier | None = None  # None: the analyzer's own (built in, synchronous)
    sentiment: SentimentAnalyzer | None = None


def _engines(core: Core) -> _Engines:
    engines = getattr(core, "_understanding", None)
    if engines is None:
        settings = core.settings.understanding
        catalogue = ProductCatalogue(settings.products) if settings.products else None
        intents = default_intents().merge(IntentSet(settings.intents)) if settings.intents else None
        engines = _Engines(Analyzer(intents=intents, catalogue=catalogue))
        if settings.classifier != "default":
            engines.classifier = classifiers.load(settings.classifier)()
        if settings.sentiment != "default":
            engines.sentiment = sentiment_analyzers.load(settings.sentiment)()
        core._understanding = engines  # type: ignore[attr-defined]
    return engines


class Understanding(Service):
    """Intent, entities and sentiment of customers' messages, and what they add up to.

    With `UnderstandingSettings.enabled` (the default), every customer text
    message is analysed as it is written: the result goes on the message
    (`Message.analysis`) and the conversation's mood (a running average of
    the message sentiment), mood trend, intent and (when it has none)
    language follow in the same commit. `Routing.route` sends a
    conversation without a team or topic to the team whose categories hold
    its intent's topic (`UnderstandingSettings.intent_topics`). A conversation whose customer is
    getting angrier publishes ``conversation.mood_changed``, which
    escalation rules (``mood_below``) and automation rules can act on.

    Example:
        ```python
        analysis = await kit.understanding.analyze("Siparişim 245-12784 hâlâ gelmedi!")
        analysis.intent, analysis.entity_values("order_number"), analysis.sentiment_label
        # ("order_status", ["245-12784"], "negative")
        patterns = await kit.understanding.patterns(since=last_week)
        ```
    """

    def use(
        self,
        *,
        classifier: Classifier | None = None,
        sentiment: SentimentAnalyzer | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        """Use these back-ends instead of the configured ones.

        Args:
            classifier: Another intent classifier (e.g. `OpenAICompatible(...)`).
            sentiment: Another sentiment analyzer.
            analyzer: The built-in analyzer with your own languages, intents
                or catalogue, e.g. ``Analyzer(languages=Languages([*packs, mine]))``.
        """
        engines = _engines(self._core)
        if analyzer is not None:
            if not isinstance(analyzer, Analyzer):
                raise InvalidInputError("analyzer must be an Analyzer", field="analyzer")
            engines.analyzer = analyzer
        if classifier is not None:
            if not isinstance(classifier, Classifier):
                raise InvalidInputError("classifier must be a Classifier", field="classifier")
            engines.classifier = classifier
        if sentiment is not None:
            if not isinstance(sentiment, SentimentAnalyzer):
                raise InvalidInputError("sentiment must be a SentimentAnalyzer", field="sentiment")
            engines.sentiment = sentiment

    async def analyze(self, text: str, *, language: str | None = None) -> MessageAnalysis:
        """Understand one message: language, intent, entities, sentiment.

        Raises:
            InvalidInputError: Empty text, or a language that is not loaded.
        """
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("text must be a non-empty string", field="text")
        if language is not None and not isinstance(language, str):
            raise InvalidInputError("language must be a language code", field="language")
        engines = _engines(self._core)
        code = language or engines.analyzer.languages.detect(text)
        if engines.classifier is None and engines.sentiment is None:
            found = engines.analyzer.analyze(text, code)
            classification, feeling = found.classification, found.sentiment
        else:
            classification = await self._classify(engines, text, code)
            feeling = await self._feel(engines, text, code)
        return self._analysis(code, classification, feeling)

    async def _classify(self, engines: _Engines, text: str, code: str) -> Classification:
        if engines.classifier is None:
            return engines.analyzer.classifier.classify_sync(text, code)
        return await engines.classifier.classify(text, code)

    async def _feel(self, engines: _Engines, text: str, code: str) -> SentimentResult:
        if engines.sentiment is None:
            return engines.analyzer.sentiment.analyze_sync(text, code)
        return await engines.sentiment.analyze(text, code)

    def _analysis(
        self, code: str, classification: Classification, feeling: SentimentResult
    ) -> MessageAnalysis:
        confident = classification.confidence >= self._core.settings.understanding.min_confidence
        # Values computed here, in range by construction: built without re-validation
        # (this runs on every customer message).
        return MessageAnalysis.model_construct(
            language=code,
            intent=classification.intent if confident else None,
            confidence=round(min(1.0, max(0.0, classification.confidence)), 4),
            entities=[
                EntityValue.model_construct(type=e.type, value=e.value, text=e.text)
                for e in classification.entities
            ],
            sentiment=round(min(1.0, max(-1.0, feeling.score)), 4),
            sentiment_label=feeling.label,
            aspects=list(feeling.aspects),
        )

    async def _annotate(
        self, conversation: Conversation, message: Message
    ) -> tuple[Message, dict[str, Any], builtins.list[Event]]:
        """The analysis of a customer text message, the conversation fields and events it brings.

        Used by `Messages.send` inside its commit; anything but a customer's
        text message (or with understanding off) comes back unchanged.
        """
        settings = self._core.settings.understanding
        if (
            not settings.enabled
            or message.kind is not MessageKind.TEXT
            or message.author.role is not AuthorRole.CUSTOMER
            or not message.text.strip()
        ):
            return message, {}, []
        language = conversation.language.split("-")[0] if conversation.language else None
        engines = _engines(self._core)
        if language is not None and language not in engines.analyzer.languages.codes:
            language = None
        analysis = await self.analyze(message.text, language=language)
        fields: dict[str, Any] = {}
        if conversation.language is None:
            fields["language"] = analysis.language
        if analysis.intent is not None:
            fields["intent"] = analysis.intent
        history = [*conversation.mood_history]
        previous = history[-1] if history else (conversation.mood or analysis.sentiment)
        mood = round(previous + settings.mood_alpha * (analysis.sentiment - previous), 4)
        history = [*history, mood][-(settings.mood_window + 1) :]
        trend = round(mood - history[0], 4)
        fields.update(mood=mood, mood_trend=trend, mood_history=history)
        events: builtins.list[Event] = []
        worsening = len(history) > 1 and trend <= -_WORSENING
        before = label_for(conversation.mood) if conversation.mood is not None else "neutral"
        if worsening or label_for(mood) != before:
            events.append(
                ConversationMoodChanged(
                    conversation_id=conversation.id,
                    contact_id=conversation.contact_id,
                    mood=mood,
                    previous=conversation.mood,
                    trend=trend,
                    label=label_for(mood),
                    worsening=worsening,
                )
            )
        return message.model_copy(update={"analysis": analysis}), fields, events

    async def patterns(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        threshold: float = 0.5,
        min_count: int = 2,
        limit: int = 1000,
    ) -> builtins.list[QuestionPattern]:
        """Group the questions customers opened conversations with, most frequent first.

        Reads the first customer message written in [``since``, ``until``)
        of up to ``limit`` conversations active since ``since``, so "my delivery hasn't arrived"
        and "where is my parcel" show up as one pattern with its count and
        examples: material for the knowledge base and canned replies.

        Raises:
            InvalidInputError: ``threshold`` is not a number from 0 to 1,
                ``min_count`` or ``limit`` not a positive integer, or a bad time.
        """
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not 0 <= threshold <= 1
        ):
            raise InvalidInputError("threshold must be a number from 0 to 1", field="threshold")
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise InvalidInputError("min_count must be a positive integer", field="min_count")
        firsts = [
            (conversation.id, messages[0].text)
            for conversation, messages in await self._customer_messages(since, until, limit)
            if messages
        ]
        return question_patterns(
            firsts,
            analyzer=_engines(self._core).analyzer,
            threshold=threshold,
            min_count=min_count,
        )

    async def negative_terms(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        top: int = 10,
        limit: int = 1000,
    ) -> builtins.list[TermCount]:
        """The negative words customers used most in a period, for reports."""
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise InvalidInputError("top must be a positive integer", field="top")
        texts = [
            m.text
            for _, messages in await self._customer_messages(since, until, limit)
            for m in messages
        ]
        return negative_terms(texts, languages=_engines(self._core).analyzer.languages, top=top)

    async def _customer_messages(
        self, since: datetime | None, until: datetime | None, limit: int
    ) -> builtins.list[tuple[Conversation, builtins.list[Message]]]:
        for value, field in ((since, "since"), (until, "until")):
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise InvalidInputError(f"{field} must be a timezone-aware datetime", field=field)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise InvalidInputError("limit must be an integer from 1 to 100000", field="limit")
        store = await self._core.ready()
        where: dict[str, object] = {}
        if since is not None:
            where["activity_key"] = Gt(since.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        found = await store.find(
            Conversation, where, order_by="activity_key", descending=True, limit=limit
        )
        out: builtins.list[tuple[Conversation, builtins.list[Message]]] = []
        for conversation in found:
            messages = await store.find(
                Message, {"conversation_id": conversation.id}, order_by="seq"
            )
            out.append(
                (
                    conversation,
                    [
                        m
                        for m in messages
                        if m.author.role is AuthorRole.CUSTOMER
                        and m.kind is MessageKind.TEXT
                        and (since is None or m.created_at >= since)
                        and (until is None or m.created_at < until)
                    ],
                )
            )
        return out


@standard_step("understanding", order=100)
async def _analyse(draft: MessageDraft) -> None:
    """The ``understanding`` step of every message commit: analysis, language, intent, mood."""
    message, fields, events = await Understanding(draft.core)._annotate(draft.before, draft.message)
    draft.message = message
    if fields:
        draft.conversation = draft.conversation.model_copy(update=fields)
    draft.trailing += events
