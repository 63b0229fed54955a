"""Intent classification: the `Classifier` contract and the built-in keyword classifier.

A `Classifier` turns one customer message into a `Classification`: the
intent with a confidence, the ranked alternatives, the entities and the
language. The contract is asynchronous, so a classifier may call a remote
model (see `chatkit.understanding.openai`); the built-in `KeywordClassifier`
is pure Python, offline and fast, and also offers the synchronous
`KeywordClassifier.classify_sync`, which ``classify`` merely wraps.

Built in, by name: ``default`` (`KeywordClassifier`) and ``openai``
(`OpenAICompatible`, an OpenAI-compatible chat-completions endpoint). Others
plug in through the entry-point group ``chatkit.classifiers``:

```toml
[project.entry-points."chatkit.classifiers"]
mymodel = "mypackage.intents:MyClassifier"
```
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..plugins import Builtin, PluginLoader
from .entities import Entity, EntityExtractor, ProductCatalogue
from .intents import IntentSet, default_intents
from .languages import Languages
from .lexicons import Lexicon, Token

__all__ = [
    "Classification",
    "Classifier",
    "IntentScore",
    "KeywordClassifier",
    "classifiers",
]


@dataclass(frozen=True, slots=True)
class IntentScore:
    """One candidate intent.

    Attributes:
        intent: The intent name.
        confidence: 0 to 1.
    """

    intent: str
    confidence: float


@dataclass(frozen=True)
class Classification:
    """What a message is about.

    Attributes:
        intent: The best intent, or ``None`` when nothing matched.
        confidence: Confidence in ``intent``, 0 to 1 (0 when ``None``).
        alternatives: Every intent that scored, best first (the first is
            ``intent``).
        entities: Entities found in the message, in order of appearance.
        language: The language code used (given or detected).
    """

    intent: str | None
    confidence: float
    alternatives: tuple[IntentScore, ...] = ()
    entities: tuple[Entity, ...] = ()
    language: str = "en"

    def entity_values(self, type: str) -> list[str]:
        """Values of the entities of one type, e.g. ``"order_number"``."""
        return [e.value for e in self.entities if e.type == type]


class Classifier(ABC):
    """Classifies a customer message into an intent.

    Subclass it and register the class under the ``chatkit.classifiers``
    entry-point group. Constructors should take keyword arguments only, with
    working defaults, so ``classifiers.load(name)()`` gives a usable one.
    """

    name: str = "custom"

    @abstractmethod
    async def classify(self, text: str, language: str | None = None) -> Classification:
        """Classify one message.

        Args:
            text: The message text.
            language: Its language code when known; detected otherwise.
        """


@dataclass
class _Table:
    """The intent weights of one language."""

    single: dict[str, dict[int, float]] = field(default_factory=dict)
    examples: dict[str, dict[int, float]] = field(default_factory=dict)
    phrases: dict[str, list[tuple[tuple[str, ...], int, float]]] = field(default_factory=dict)


_EXAMPLE_WEIGHT = 0.6
_ENTITY_HINTS = {
    "order_number": ("order_status", 0.3),
    "amount": ("billing_payment", 0.3),
    "product": ("product_question", 0.3),
}


class KeywordClassifier(Classifier):
    """The built-in classifier: keywords and example words per language, no model.

    Each intent scores the weights of its keywords found in the message (a
    keyword counts once however often it occurs; multi-word keywords count
    when their words appear in sequence), plus the example words it has,
    weighted down the more intents share them. The top score becomes the
    intent; the confidence grows with the top score and with its lead over
    the others.

    Args:
        intents: The taxonomy; the built-in ten when omitted.
        languages: The languages; English, Korean and Turkish when omitted.
        catalogue: Products to recognise as entities.

    Example:
        ```python
        classifier = KeywordClassifier()
        result = classifier.classify_sync("My order 245-12784 is 4 days late")
        result.intent, result.entity_values("order_number")  # "order_status", ["245-12784"]
        ```
    """

    name = "default"

    def __init__(
        self,
        *,
        intents: IntentSet | None = None,
        languages: Languages | None = None,
        catalogue: ProductCatalogue | None = None,
    ) -> None:
        self.intents = intents if intents is not None else default_intents()
        self.languages = languages if languages is not None else Languages()
        self.extractor = EntityExtractor(self.languages, catalogue=catalogue)
        self._names = self.intents.names
        self._weights = [i.weight for i in self.intents]
        self._tables = {
            code: self._compile(self.languages.get(code)) for code in self.languages.codes
        }
        # per token analysis (kept alive here, so its id stays its own): its weights
        self._token_weights: dict[str, dict[int, _TokenWeights]] = {
            code: {} for code in self.languages.codes
        }

    def _compile(self, lexicon: Lexicon) -> _Table:
        table = _Table()
        doc_freq: dict[str, set[int]] = {}
        per_intent: list[set[str]] = []
        for index, intent in enumerate(self.intents):
            words = intent.languages.get(lexicon.code)
            for term, weight in words.keywords.items() if words else ():
                lexicon.add_term(term)
                parts = term.split()
                if len(parts) == 1:
                    key = lexicon.term_key(term)[0]
                    slot = table.single.setdefault(key, {})
                    slot[index] = max(slot.get(index, 0.0), weight)
                else:
                    phrase = tuple(lexicon.term_key(p)[0] for p in parts)
                    table.phrases.setdefault(phrase[0], []).append((phrase, index, weight))
        for index, intent in enumerate(self.intents):
            words = intent.languages.get(lexicon.code)
            keys: set[str] = set()
            per_intent.append(keys)
            for example in words.examples if words else ():
                for token in lexicon.tokens(example):
                    if token.boundary or token.stop:
                        continue
                    keys.update(token.keys)
            for key in keys:
                doc_freq.setdefault(key, set()).add(index)
        count = max(1, sum(1 for keys in per_intent if keys))
        for index, keys in enumerate(per_intent):
            for key in keys:
                share = math.log(1 + count / len(doc_freq[key])) / math.log(1 + count)
                table.examples.setdefault(key, {})[index] = _EXAMPLE_WEIGHT * share
        return table

    async def classify(self, text: str, language: str | None = None) -> Classification:
        """Classify one message (see `classify_sync`; no I/O happens)."""
        return self.classify_sync(text, language)

    def classify_sync(self, text: str, language: str | None = None) -> Classification:
        """Classify one message, synchronously.

        Args:
            text: The message text.
            language: Its language code when known; detected otherwise.

        Raises:
            InvalidInputError: ``language`` is not loaded.
        """
        code = language or self.languages.detect(text)
        lexicon = self.languages.get(code)
        tokens = lexicon.tokens(text)
        entities = self.extractor.extract(text, code)
        return self.classify_tokens(tokens, code, entities)

    def classify_tokens(
        self, tokens: Sequence[Token], language: str, entities: Sequence[Entity] = ()
    ) -> Classification:
        """Classify already tokenised text (used to share one tokenisation)."""
        table = self._tables[language]
        cache = self._token_weights[language]
        scores: dict[int, float] = {}
        seen: set[str] = set()
        for position, token in enumerate(tokens):
            if token.boundary or token.stem in seen:
                continue
            seen.add(token.stem)
            cached = cache.get(id(token))
            if cached is None or cached[0] is not token:
                cached = (token, *_token_weights(token, table))
                if len(cache) < 200_000:
                    cache[id(token)] = cached
            _, phrases, keywords, examples = cached
            for phrase, index, weight in phrases:
                if _follows(tokens, position, phrase):
                    scores[index] = scores.get(index, 0.0) + weight
            for index, weight in keywords:
                scores[index] = scores.get(index, 0.0) + weight
            for index, weight in examples:
                scores[index] = scores.get(index, 0.0) + weight
        for entity in entities:
            hint = _ENTITY_HINTS.get(entity.type)
            if hint and hint[0] in self._names:
                index = self._names.index(hint[0])
                scores[index] = scores.get(index, 0.0) + hint[1]
        return self._result(scores, entities, language)

    def _result(
        self, scores: dict[int, float], entities: Sequence[Entity], language: str
    ) -> Classification:
        weighted = {i: s * self._weights[i] for i, s in scores.items() if s > 0}
        if not weighted:
            return Classification(None, 0.0, (), tuple(entities), language)
        ranked = sorted(weighted.items(), key=lambda kv: (-kv[1], kv[0]))
        total = sum(weighted.values())
        strength = 1 - math.exp(-ranked[0][1] / 1.5)
        alternatives = tuple(
            IntentScore(self._names[i], round(strength * s / total, 4)) for i, s in ranked
        )
        top = alternatives[0]
        return Classification(top.intent, top.confidence, alternatives, tuple(entities), language)


_Weights = tuple[tuple[int, float], ...]
_Phrases = tuple[tuple[tuple[str, ...], int, float], ...]
_TokenWeights = tuple[Token, _Phrases, _Weights, _Weights]


def _token_weights(token: Token, table: _Table) -> tuple[_Phrases, _Weights, _Weights]:
    """A token's candidate phrases, and its best keyword and example weight per intent."""
    phrases: list[tuple[tuple[str, ...], int, float]] = []
    best_keyword: dict[int, float] = {}
    best_example: dict[int, float] = {}
    for key in token.keys:
        for index, weight in table.single.get(key, {}).items():
            if weight > best_keyword.get(index, 0.0):
                best_keyword[index] = weight
        if not token.stop:
            for index, weight in table.examples.get(key, {}).items():
                if weight > best_example.get(index, 0.0):
                    best_example[index] = weight
        phrases.extend(table.phrases.get(key, ()))
    return tuple(phrases), tuple(best_keyword.items()), tuple(best_example.items())


def _follows(tokens: Sequence[Token], start: int, keys: tuple[str, ...]) -> bool:
    """Whether the words from ``start`` match ``keys`` in order (punctuation ends a run)."""
    if start + len(keys) > len(tokens):
        return False
    return all(key in tokens[start + offset].keys for offset, key in enumerate(keys))


classifiers: PluginLoader[type[Classifier]] = PluginLoader(
    "chatkit.classifiers",
    {
        "default": Builtin("chatkit.understanding.classifier:KeywordClassifier"),
        "openai": Builtin("chatkit.understanding.openai:OpenAICompatible"),
    },
)
"""Classifier classes by name."""
