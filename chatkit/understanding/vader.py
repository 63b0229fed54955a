"""VADER sentiment for English, as a `SentimentAnalyzer` (needs ``chatkit[vader]``).

VADER (Hutto & Gilbert, 2014) is a well-tested English sentiment lexicon
with rules for negation, intensifiers, capitals and punctuation. This module
imports ``vaderSentiment`` when it is loaded, so load it by name to get an
install hint when the package is missing:

```python
from chatkit.understanding import sentiment_analyzers

analyzer = sentiment_analyzers.load("vader")()
```

Aspects come from the built-in English lexicon. Messages in other languages
are passed to the built-in analyzer unless ``english_only=False``.
"""

from __future__ import annotations

from .._optional import missing

try:
    from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        SentimentIntensityAnalyzer,
    )
except ImportError as exc:
    raise missing("vaderSentiment", "the VADER sentiment analyzer", exc) from exc

from .languages import Languages
from .sentiment import LexiconSentimentAnalyzer, SentimentAnalyzer, SentimentResult, label_for

__all__ = ["VaderSentimentAnalyzer"]


class VaderSentimentAnalyzer(SentimentAnalyzer):
    """English sentiment by VADER's compound score.

    Args:
        languages: Used for language detection, aspects and for non-English
            messages; the built-ins when omitted.
        english_only: Send messages in other languages to the built-in
            lexicon analyzer (VADER knows English only).
    """

    name = "vader"

    def __init__(self, *, languages: Languages | None = None, english_only: bool = True) -> None:
        self._vader = SentimentIntensityAnalyzer()
        self._fallback = LexiconSentimentAnalyzer(languages=languages)
        self.languages = self._fallback.languages
        self.english_only = english_only

    async def analyze(self, text: str, language: str | None = None) -> SentimentResult:
        """Score one message (pure computation; no I/O)."""
        return self.analyze_sync(text, language)

    def analyze_sync(self, text: str, language: str | None = None) -> SentimentResult:
        """Score one message, synchronously."""
        code = language or self.languages.detect(text)
        if code != "en" and self.english_only:
            return self._fallback.analyze_sync(text, code)
        score = float(self._vader.polarity_scores(text)["compound"])
        aspects = (
            self._fallback.analyze_sync(text, code).aspects if code in self.languages.codes else ()
        )
        return SentimentResult(round(score, 4), label_for(score), aspects, code)
