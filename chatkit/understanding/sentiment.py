"""Sentiment: the `SentimentAnalyzer` contract, the built-in lexicon analyzer, mood and reports.

A `SentimentAnalyzer` scores one message from -1 (very negative) to 1 (very
positive), labels it and names the aspects it touches ("the call keeps
dropping" → ``calls``). The contract is asynchronous, so an analyzer may call
a remote model; the built-in `LexiconSentimentAnalyzer` is pure Python and
also offers `LexiconSentimentAnalyzer.analyze_sync`.

Built in, by name: ``default`` (`LexiconSentimentAnalyzer`), ``vader``
(`VaderSentimentAnalyzer`, English only, needs ``chatkit[vader]``) and
``openai`` (`OpenAICompatible`). Others plug in through the entry-point group
``chatkit.sentiment``.

`MoodTracker` follows a conversation's mood over successive messages, and
`negative_terms` lists the negative words most used over many messages.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..plugins import Builtin, PluginLoader
from .labels import SentimentLabel, label_for
from .languages import Languages
from .lexicons import Lexicon, Token
from .mood import Mood, MoodTracker

__all__ = [
    "Mood",
    "MoodTracker",
    "LexiconSentimentAnalyzer",
    "SentimentAnalyzer",
    "SentimentLabel",
    "SentimentResult",
    "TermCount",
    "label_for",
    "negative_terms",
    "sentiment_analyzers",
]

_NEGATED = -0.6  # a negated sentiment word keeps 60 % of its weight, flipped ("not good")
_UNMET = -1.5  # valence of an expectation that is negated ("hasn't arrived")
_ENDS = frozenset(".!?")
_ALPHA = 15.0  # normalisation: score = s / sqrt(s² + alpha), as in VADER


@dataclass(frozen=True)
class SentimentResult:
    """How a message feels.

    Attributes:
        score: -1 (very negative) to 1 (very positive).
        label: ``negative``, ``neutral`` or ``positive``.
        aspects: What it is about, in order of mention (``delivery``,
            ``payment``, ``calls``, ``app``, ``agent``, ``price``,
            ``quality``, ``account``, ``wait``).
        language: The language code used (given or detected).
    """

    score: float
    label: SentimentLabel
    aspects: tuple[str, ...] = ()
    language: str = "en"


class SentimentAnalyzer(ABC):
    """Scores the sentiment of a customer message.

    Subclass it and register the class under the ``chatkit.sentiment``
    entry-point group; constructors take keyword arguments only, with
    working defaults.
    """

    name: str = "custom"

    @abstractmethod
    async def analyze(self, text: str, language: str | None = None) -> SentimentResult:
        """Score one message.

        Args:
            text: The message text.
            language: Its language code when known; detected otherwise.
        """


@dataclass(frozen=True, slots=True)
class _Contribution:
    position: int
    valence: float


def contributions(tokens: Sequence[Token], lexicon: Lexicon) -> list[_Contribution]:
    """The sentiment each word adds, after phrases, negation and intensifiers."""
    n = len(tokens)
    valence = [t.valence for t in tokens]
    expectation = [t.expectation for t in tokens]
    negator = [t.negator for t in tokens]
    intensity = [t.intensity for t in tokens]
    skip = [False] * n
    for i, token in enumerate(tokens):
        if token.boundary or skip[i]:
            continue
        best = None
        for key in token.keys:
            for phrase in lexicon.phrases(key):
                size = len(phrase.keys)
                if (best is None or size > len(best.keys)) and _follows(tokens, i, phrase.keys):
                    best = phrase
        if best is None:
            continue
        entry = best.entry
        if entry.valence is not None:
            valence[i], expectation[i] = entry.valence, False
        if entry.negator is not None:
            negator[i] = entry.negator
        if entry.intensity is not None:
            intensity[i] = entry.intensity
        for j in range(i + 1, i + len(best.keys)):
            skip[j] = True
            valence[j], expectation[j], negator[j], intensity[j] = 0.0, False, None, 1.0
    pack = lexicon.pack
    window = pack.negation_window
    found: list[_Contribution] = []
    used: set[int] = set()
    for i, token in enumerate(tokens):
        value = valence[i]
        if token.negative_verb and not skip[i] and value == 0:
            found.append(_Contribution(i, pack.negated_verb_valence))
            continue
        if (value == 0 and not expectation[i]) or token.boundary:
            continue
        negated = token.negated
        if not negated:
            for j in range(i - 1, max(-1, i - 1 - window), -1):
                if tokens[j].boundary:
                    break
                if negator[j] == "before":
                    negated = True
                    used.add(j)
                    break
        if not negated:
            for j in range(i + 1, min(n, i + 1 + window)):
                if tokens[j].boundary:
                    break
                if negator[j] == "after":
                    negated = True
                    used.add(j)
                    break
        if value == 0:
            value = _UNMET if negated else 0.0
        elif negated:
            value *= _NEGATED
        factor = 1.0
        for j in range(i - 1, max(-1, i - 3), -1):
            if tokens[j].boundary:
                break
            factor *= intensity[j]
        if value:
            found.append(_Contribution(i, value * factor))
    if pack.lone_negator_valence:
        found += [
            _Contribution(j, pack.lone_negator_valence)
            for j in range(n)
            if negator[j] is not None and j not in used and not skip[j]
        ]
    contrast = next((i for i, t in enumerate(tokens) if t.contrast), None)
    if contrast is not None:
        found = [
            _Contribution(c.position, c.valence * (0.5 if c.position < contrast else 1.5))
            for c in found
        ]
    return found


def _follows(tokens: Sequence[Token], start: int, keys: tuple[str, ...]) -> bool:
    if start + len(keys) > len(tokens):
        return False
    return all(key in tokens[start + k].keys for k, key in enumerate(keys))


def question_factors(tokens: Sequence[Token], damping: float) -> list[float]:
    """Per token, the factor on its sentiment: ``damping`` inside a plain question.

    A clause (up to ``.``, ``!`` or ``?``) is a question when it ends with
    ``?`` or holds a question particle. Only a message of questions alone is
    damped ("is my delivery delayed?"; not "it's been a week. Is it lost?"),
    and a question with an emphasis word (``why``) keeps its sentiment.
    """
    factors = [1.0] * len(tokens)
    start = 0
    for end in range(len(tokens) + 1):
        mark = tokens[end].text if end < len(tokens) else ""
        if end < len(tokens) and mark not in _ENDS:
            continue
        clause = tokens[start:end]
        if any(not t.boundary for t in clause):
            if not (mark == "?" or any(t.question for t in clause)):
                return [1.0] * len(tokens)  # a statement too: the questions are not plain
            if not any(t.emphasis for t in clause):
                factors[start:end] = [damping] * (end - start)
        start = end + 1
    return factors


def score_tokens(tokens: Sequence[Token], lexicon: Lexicon) -> tuple[float, tuple[str, ...]]:
    """Score and aspects of tokenised text (the built-in analyzer's core)."""
    found = contributions(tokens, lexicon)
    damping = lexicon.pack.question_damping
    if found and damping < 1:
        factors = question_factors(tokens, damping)
        total = sum(c.valence * factors[c.position] for c in found)
    else:
        total = sum(c.valence for c in found)
    if total:
        bangs = min(3, sum(1 for t in tokens if t.text == "!"))
        total += math.copysign(0.25 * bangs, total)
    score = total / math.sqrt(total * total + _ALPHA)
    aspects = tuple(dict.fromkeys(t.aspect for t in tokens if t.aspect))
    return round(score, 4), aspects


class LexiconSentimentAnalyzer(SentimentAnalyzer):
    """The built-in analyzer: per-language lexicons, negation and intensifiers.

    Each sentiment word adds its valence; a negator within a few words
    ("not", "안" before; "değil", "않" after; Turkish ``-medi`` inside the
    word) flips and damps it, an intensifier ("very", "çok", "너무") scales
    it, words after "but" count more than before it, and an expectation
    that is negated ("hasn't arrived", "gelmedi", "안 와요") counts as
    negative. The sum is squashed into [-1, 1] as VADER does.

    Args:
        languages: The languages; the built-ins when omitted.

    Example:
        ```python
        analyzer = LexiconSentimentAnalyzer()
        analyzer.analyze_sync("배송이 너무 늦어요").label  # "negative"
        ```
    """

    name = "default"

    def __init__(self, *, languages: Languages | None = None) -> None:
        self.languages = languages if languages is not None else Languages()

    async def analyze(self, text: str, language: str | None = None) -> SentimentResult:
        """Score one message (see `analyze_sync`; no I/O happens)."""
        return self.analyze_sync(text, language)

    def analyze_sync(self, text: str, language: str | None = None) -> SentimentResult:
        """Score one message, synchronously.

        Raises:
            InvalidInputError: ``language`` is not loaded.
        """
        code = language or self.languages.detect(text)
        lexicon = self.languages.get(code)
        return self.analyze_tokens(lexicon.tokens(text), code)

    def analyze_tokens(self, tokens: Sequence[Token], language: str) -> SentimentResult:
        """Score already tokenised text (used to share one tokenisation)."""
        score, aspects = score_tokens(tokens, self.languages.get(language))
        return SentimentResult(score, label_for(score), aspects, language)


@dataclass(frozen=True)
class TermCount:
    """A negative word and how many messages used it.

    Attributes:
        term: The form customers wrote most often.
        count: Number of messages it occurred in.
    """

    term: str
    count: int


def negative_terms(
    texts: Iterable[str], *, languages: Languages | None = None, top: int = 10
) -> list[TermCount]:
    """The negative words used in the most messages, for reports.

    A word counts when it makes its message more negative (so "not good"
    counts "good", and "late" in "not late" does not count). Inflected forms
    are counted together (``gecikti`` and ``gecikme`` as one word).

    Args:
        texts: The messages (any of the loaded languages, detected each).
        languages: The languages; the built-ins when omitted.
        top: How many to return.
    """
    languages = languages if languages is not None else Languages()
    counts: Counter[tuple[str, str]] = Counter()
    forms: dict[tuple[str, str], Counter[str]] = {}
    for text in texts:
        code = languages.detect(text)
        lexicon = languages.get(code)
        tokens = lexicon.tokens(text)
        keys = set()
        for c in contributions(tokens, lexicon):
            if c.valence < 0:
                token = tokens[c.position]
                key = (code, token.keys[0] if token.keys else token.stem)
                keys.add(key)
                forms.setdefault(key, Counter())[token.text] += 1
        counts.update(keys)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [TermCount(forms[key].most_common(1)[0][0], count) for key, count in ranked]


sentiment_analyzers: PluginLoader[type[SentimentAnalyzer]] = PluginLoader(
    "chatkit.sentiment",
    {
        "default": Builtin("chatkit.understanding.sentiment:LexiconSentimentAnalyzer"),
        "vader": Builtin(
            "chatkit.understanding.vader:VaderSentimentAnalyzer", "pip install 'chatkit[vader]'"
        ),
        "openai": Builtin("chatkit.understanding.openai:OpenAICompatible"),
    },
)
"""Sentiment analyzer classes by name."""
