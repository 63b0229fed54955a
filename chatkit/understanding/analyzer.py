"""One call for everything the built-ins know about a message.

`Analyzer` runs the built-in classifier and sentiment analyzer over one
shared tokenisation: language, intent, entities, sentiment and aspects.
"""

from __future__ import annotations

from dataclasses import dataclass

from .classifier import Classification, KeywordClassifier
from .entities import ProductCatalogue
from .intents import IntentSet
from .languages import Languages
from .sentiment import LexiconSentimentAnalyzer, SentimentResult

__all__ = ["Analysis", "Analyzer"]


@dataclass(frozen=True)
class Analysis:
    """Everything understood about one message.

    Attributes:
        language: The language code (given or detected).
        classification: Intent, confidence, alternatives and entities.
        sentiment: Score, label and aspects.
    """

    language: str
    classification: Classification
    sentiment: SentimentResult


class Analyzer:
    """The built-in, offline understanding of customer messages, in one object.

    Args:
        intents: The intent taxonomy; the built-in one when omitted.
        languages: The languages; English, Korean and Turkish when omitted.
        catalogue: Products to recognise as entities.

    Example:
        ```python
        analyzer = Analyzer()
        analysis = analyzer.analyze(
            "I ordered on August 1st, it's 4 days late, my order number is 245-12784"
        )
        analysis.classification.intent  # "order_status"
        analysis.sentiment.label  # "negative"
        ```
    """

    def __init__(
        self,
        *,
        intents: IntentSet | None = None,
        languages: Languages | None = None,
        catalogue: ProductCatalogue | None = None,
    ) -> None:
        self.languages = languages if languages is not None else Languages()
        self.classifier = KeywordClassifier(
            intents=intents, languages=self.languages, catalogue=catalogue
        )
        self.sentiment = LexiconSentimentAnalyzer(languages=self.languages)

    def analyze(self, text: str, language: str | None = None) -> Analysis:
        """Understand one message (synchronous; pure computation, no I/O).

        Raises:
            InvalidInputError: ``language`` is not loaded.
        """
        code = language or self.languages.detect(text)
        tokens = self.languages.get(code).tokens(text)
        entities = self.classifier.extractor.extract(text, code)
        return Analysis(
            code,
            self.classifier.classify_tokens(tokens, code, entities),
            self.sentiment.analyze_tokens(tokens, code),
        )
