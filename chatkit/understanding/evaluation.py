"""Measuring an analyzer on labelled messages: intent accuracy, entity F1, sentiment accuracy.

Use it to check your own intents and language packs against messages you
labelled, e.g. a JSON-lines file with one object per line:

```json
{"text": "where is order 245-12784?", "intent": "order_status",
 "sentiment": "neutral", "entities": [["order_number", "245-12784"]]}
```

Keep the labelled messages apart from the examples you give the intents,
or the figures flatter you.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..errors import InvalidInputError
from .analyzer import Analyzer
from .sentiment import SentimentLabel

__all__ = ["EvaluationReport", "LabelledMessage", "evaluate", "read_labelled"]


class LabelledMessage(BaseModel):
    """One message with the answers expected.

    Attributes:
        text: The message.
        intent: The expected intent.
        sentiment: The expected label.
        entities: Expected ``(type, value)`` pairs.
        language: The language, when it should not be detected.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    text: str
    intent: str
    sentiment: SentimentLabel
    entities: list[tuple[str, str]] = []
    language: str | None = None


@dataclass
class EvaluationReport:
    """Figures over a set of labelled messages.

    Attributes:
        messages: How many were scored.
        intent_accuracy: Share with the expected intent.
        sentiment_accuracy: Share with the expected sentiment label.
        entity_precision: Found entities that were expected (type and value).
        entity_recall: Expected entities that were found.
        entity_f1: Harmonic mean of the two.
        language_accuracy: Share whose language was detected as labelled
            (only messages with a ``language`` label count).
        confusions: ``(expected, got)`` intent pairs that went wrong, with counts.
    """

    messages: int = 0
    intent_accuracy: float = 0.0
    sentiment_accuracy: float = 0.0
    entity_precision: float = 0.0
    entity_recall: float = 0.0
    entity_f1: float = 0.0
    language_accuracy: float | None = None
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)


def read_labelled(path: str | Path, *, language: str | None = None) -> list[LabelledMessage]:
    """Read a JSON-lines file of labelled messages.

    Args:
        path: The file.
        language: A language label for every message without one.

    Raises:
        InvalidInputError: A line is not a valid labelled message.
    """
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if language and "language" not in data:
                data["language"] = language
            rows.append(LabelledMessage.model_validate(data))
        except ValueError as exc:
            raise InvalidInputError(f"{path}:{number}: {exc}") from exc
    return rows


def evaluate(
    examples: Iterable[LabelledMessage],
    analyzer: Analyzer | None = None,
    *,
    detect_language: bool = True,
) -> EvaluationReport:
    """Score ``analyzer`` (the built-in one when omitted) on labelled messages.

    Args:
        examples: The labelled messages.
        analyzer: What to measure.
        detect_language: Detect each message's language (as in production)
            rather than pass the label.
    """
    analyzer = analyzer if analyzer is not None else Analyzer()
    report = EvaluationReport()
    intents = sentiments = languages_right = languages_seen = 0
    found_total = expected_total = matched = 0
    for example in examples:
        given = None if detect_language else example.language
        result = analyzer.analyze(example.text, given)
        report.messages += 1
        got = result.classification.intent or "none"
        if got == example.intent:
            intents += 1
        else:
            report.confusions[(example.intent, got)] += 1
        sentiments += result.sentiment.label == example.sentiment
        if example.language is not None:
            languages_seen += 1
            languages_right += result.language == example.language
        found = Counter((e.type, e.value) for e in result.classification.entities)
        expected = Counter((t, v) for t, v in example.entities)
        found_total += sum(found.values())
        expected_total += sum(expected.values())
        matched += sum((found & expected).values())
    if report.messages:
        report.intent_accuracy = intents / report.messages
        report.sentiment_accuracy = sentiments / report.messages
    report.entity_precision = matched / found_total if found_total else 1.0
    report.entity_recall = matched / expected_total if expected_total else 1.0
    p, r = report.entity_precision, report.entity_recall
    report.entity_f1 = 2 * p * r / (p + r) if p + r else 0.0
    if languages_seen:
        report.language_accuracy = languages_right / languages_seen
    return report
