"""Understanding customer messages: intent, entities, sentiment, mood and question patterns.

Pure functions and classes over text: nothing here reads or writes a store.
English, Korean and Turkish are built in; languages and intents are data
(`LanguagePack`, `IntentSet`). The built-ins are offline and dependency-free;
`Classifier` and `SentimentAnalyzer` are small async contracts for other
back-ends (``vader``, ``openai`` or your own, by entry point).

Example:
    ```python
    from chatkit.understanding import Analyzer

    analysis = Analyzer().analyze("Siparişim 4 gündür gelmedi, çok kötü!")
    analysis.language, analysis.classification.intent, analysis.sentiment.label
    # ("tr", "order_status", "negative")
    ```
"""

from __future__ import annotations

from .analyzer import Analysis, Analyzer
from .classifier import Classification, Classifier, IntentScore, KeywordClassifier, classifiers
from .entities import Entity, EntityExtractor, Product, ProductCatalogue
from .intents import IntentDefinition, IntentExamples, IntentSet, default_intents
from .languages import BUILTIN_LANGUAGES, LanguagePack, Languages, Lexicon, Token
from .patterns import QuestionPattern, question_patterns
from .sentiment import (
    LexiconSentimentAnalyzer,
    Mood,
    MoodTracker,
    SentimentAnalyzer,
    SentimentLabel,
    SentimentResult,
    TermCount,
    label_for,
    negative_terms,
    sentiment_analyzers,
)

__all__ = [
    "BUILTIN_LANGUAGES",
    "Analysis",
    "Analyzer",
    "Classification",
    "Classifier",
    "Entity",
    "EntityExtractor",
    "IntentDefinition",
    "IntentExamples",
    "IntentScore",
    "IntentSet",
    "KeywordClassifier",
    "LanguagePack",
    "Languages",
    "Lexicon",
    "LexiconSentimentAnalyzer",
    "Mood",
    "MoodTracker",
    "Product",
    "ProductCatalogue",
    "QuestionPattern",
    "SentimentAnalyzer",
    "SentimentLabel",
    "SentimentResult",
    "TermCount",
    "Token",
    "classifiers",
    "default_intents",
    "label_for",
    "negative_terms",
    "question_patterns",
    "sentiment_analyzers",
]
