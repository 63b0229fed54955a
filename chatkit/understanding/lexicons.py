"""Lexicons: a compiled `LanguagePack` that normalises, tokenises and stems text.

`Lexicon` turns a message into `Token` objects carrying everything the
built-in analyzers need (stem, matched lexicon keys, valence, negation,
aspect, concept), cached per distinct word.

Lexicon terms match a token in one of two ways:

- *exact*: the token or its stem equals the term's stem (``"refund"``
  matches ``refunds``, ``refunded``);
- *prefix*: the token starts with the term (``"gecik*"`` matches
  ``gecikti``, ``gecikmiş``; ``"배송*"`` matches ``배송이``, ``배송은``).

A trailing ``*`` asks for a prefix match and a trailing ``=`` for an exact
one; terms with neither follow the pack's ``prefix_match`` default (on for
Korean and Turkish, which attach suffixes, off for English).

Example:
    ```python
    Languages().get("tr").tokens("Siparişim GECİKTİ!")  # tokens "siparisim", "gecikti", "!"
    ```
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .packs import LanguagePack

__all__ = ["Lexicon", "Token", "phrase_match"]

_PUNCT = frozenset(".!?;,:")
_APOSTROPHE = "\u2019"  # right single quotation mark, typed for an apostrophe
_TOKEN_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|[.!?;,:]")


@dataclass(frozen=True)
class _Entry:
    """What one lexicon key means (any field may be unset)."""

    valence: float | None = None
    expectation: bool = False
    negator: Literal["before", "after"] | None = None
    intensity: float | None = None
    contrast: bool = False
    aspect: str | None = None
    concept: str | None = None


@dataclass(frozen=True, slots=True)
class Token:
    """One analysed token of a message.

    Attributes:
        text: The token as written, lower-cased (punctuation tokens are
            ``.``, ``!``, ``?`` and so on).
        norm: Lower-cased and folded.
        stem: The light stem of ``norm``.
        keys: Every lexicon key the token matches (its stem, its exact
            match, every prefix term it starts with), most specific first.
        valence: Sentiment valence of the most specific sentiment term.
        expectation: It names something that should happen (``arrive``).
        negated: It carries a negating suffix after the matched term
            (Turkish ``gelmedi``).
        negative_verb: An unknown word with a negating suffix (Turkish
            ``yatmadi``).
        negator: ``"before"`` or ``"after"`` when it negates a neighbour.
        intensity: Factor on the next sentiment word (1 when none).
        contrast: A ``but``-like word.
        stop: A stop-word.
        aspect: Aspect hint, e.g. ``"delivery"``.
        concept: Concept, e.g. ``"order"``.
        boundary: A punctuation token (ends negation scopes).
        question: A question particle or ending (Turkish ``mi``, Korean
            ``되나요``): its clause asks something.
        emphasis: A word that makes a question a complaint (``why``).
    """

    text: str
    norm: str
    stem: str
    keys: tuple[str, ...]
    valence: float = 0.0
    expectation: bool = False
    negated: bool = False
    negator: Literal["before", "after"] | None = None
    intensity: float = 1.0
    negative_verb: bool = False
    contrast: bool = False
    stop: bool = False
    aspect: str | None = None
    concept: str | None = None
    boundary: bool = False
    question: bool = False
    emphasis: bool = False


@dataclass
class _Phrase:
    keys: tuple[str, ...]
    entry: _Entry


class Lexicon:
    """A compiled `LanguagePack`: tokenises text into `Token` objects, fast.

    Token analyses are cached per distinct word, so a warm lexicon costs a
    dictionary look-up per word. Get one from `Languages.get`.
    """

    def __init__(self, pack: LanguagePack) -> None:
        self.pack = pack
        self.code = pack.code
        self._fold = str.maketrans(pack.fold) if pack.fold else None
        suffixes = [s.split(">", 1) if ">" in s else [s, ""] for s in pack.suffixes]
        self._suffixes = sorted(
            ((self.fold(a), self.fold(b)) for a, b in suffixes), key=lambda p: -len(p[0])
        )
        self._stop = frozenset(self.fold(w) for w in pack.stopwords)
        self._exact: dict[str, _Entry] = {}
        self._prefix: dict[str, _Entry] = {}
        self._phrases: dict[str, list[_Phrase]] = {}
        self._max_prefix = 0
        self._cache: dict[str, Token] = {}
        for word in pack.negators:
            self.add_term(word, _Entry(negator="before"), prefix_default=False)
        for word in pack.negators_after:
            self.add_term(word, _Entry(negator="after"), prefix_default=False)
        for word, factor in pack.intensifiers.items():
            self.add_term(word, _Entry(intensity=factor), prefix_default=False)
        for word in pack.contrast:
            self.add_term(word, _Entry(contrast=True), prefix_default=False)
        for word in pack.expectations:
            self.add_term(word, _Entry(expectation=True))
        for word, valence in pack.sentiment.items():
            self.add_term(word, _Entry(valence=valence))
        for aspect, words in pack.aspects.items():
            for word in words:
                self.add_term(word, _Entry(aspect=aspect))
        for concept, words in pack.concepts.items():
            for word in words:
                self.add_term(word, _Entry(concept=concept))
        self._negation_suffixes = tuple(self.fold(s) for s in pack.negation_suffixes)
        particles = [self.fold(w) for w in pack.question_particles]
        self._question_words = frozenset(w for w in particles if not w.startswith("-"))
        self._question_endings = tuple(w[1:] for w in particles if w.startswith("-") and w[1:])
        self._emphasis = frozenset(self.fold(w) for w in pack.question_emphasis)
        self._verb_negations = tuple(s for s in self._negation_suffixes if len(s) >= 4)

    # -- text -----------------------------------------------------------------

    def lower(self, text: str) -> str:
        """Lower-case with the language's rules (Turkish dotted and dotless i)."""
        if self.pack.turkish_casing:
            text = text.replace("I", "\u0131").replace("\u0130", "i")
        return text.lower()

    def fold(self, text: str) -> str:
        """Lower-case, then apply the pack's folding (``ş`` → ``s`` for Turkish)."""
        text = self.lower(text).replace(_APOSTROPHE, "'")
        return text.translate(self._fold) if self._fold else text

    def stem(self, word: str) -> str:
        """The light stem of an already folded word.

        Strips up to ``max_strips`` suffixes, longest first, never leaving
        fewer than ``min_stem`` characters.
        """
        pack = self.pack
        stem = word
        for _ in range(pack.max_strips):
            for suffix, replacement in self._suffixes:
                if stem.endswith(suffix) and len(stem) - len(suffix) >= pack.min_stem:
                    stem = stem[: len(stem) - len(suffix)] + replacement
                    doubled = len(stem) > 2 and stem[-1] == stem[-2] not in "aeiouls"
                    if pack.undouble and doubled:
                        stem = stem[:-1]
                    break
            else:
                break
        strip = pack.final_strip
        if strip and stem.endswith(strip) and len(stem) - len(strip) >= pack.min_stem:
            stem = stem[: -len(strip)]
        return stem

    def words(self, text: str) -> list[str]:
        """Lower-cased words and punctuation marks of ``text``, as written."""
        words = _TOKEN_RE.findall(self.lower(text).replace(_APOSTROPHE, "'"))
        if self.pack.cut_after_apostrophe:
            words = [w.split("'", 1)[0] for w in words]
        return words

    def tokens(self, text: str) -> list[Token]:
        """Analyse ``text`` into tokens (cached per distinct word)."""
        cache = self._cache
        out = []
        for word in self.words(text):
            token = cache.get(word)
            if token is None:
                token = self._analyse(word)
                if len(cache) < 200_000:
                    cache[word] = token
            out.append(token)
        return out

    # -- lexicon --------------------------------------------------------------

    def term_key(self, term: str, *, prefix_default: bool | None = None) -> tuple[str, bool]:
        """The key and match mode (prefix or not) of one single-word term."""
        prefix = self.pack.prefix_match if prefix_default is None else prefix_default
        if term.endswith("*"):
            term, prefix = term[:-1], True
        elif term.endswith("="):
            term, prefix = term[:-1], False
        norm = self.fold(term.strip())
        if self.pack.cut_after_apostrophe and not prefix:
            norm = norm.split("'", 1)[0]
        return (norm, True) if prefix else (self.stem(norm), False)

    def add_term(
        self, term: str, entry: _Entry | None = None, *, prefix_default: bool | None = None
    ) -> str:
        """Register a (possibly multi-word) term; returns its first key.

        Without ``entry`` the term only becomes matchable (its key shows in
        `Token.keys`), which is how intent keywords are registered.
        """
        parts = term.split()
        if len(parts) > 1:
            keys = tuple(self.term_key(p, prefix_default=prefix_default) for p in parts)
            for key, prefix in keys:
                self._register(key, prefix, _Entry())
            if entry is not None:
                self._phrases.setdefault(keys[0][0], []).append(
                    _Phrase(tuple(k for k, _ in keys), entry)
                )
            self._cache.clear()
            return keys[0][0]
        key, prefix = self.term_key(term, prefix_default=prefix_default)
        self._register(key, prefix, entry or _Entry())
        self._cache.clear()
        return key

    def phrases(self, key: str) -> list[_Phrase]:
        """Multi-word terms whose first word has this key."""
        return self._phrases.get(key, [])

    def _register(self, key: str, prefix: bool, entry: _Entry) -> None:
        if not key:
            return
        table = self._prefix if prefix else self._exact
        old = table.get(key)
        table[key] = _merge(old, entry) if old else entry
        if prefix:
            self._max_prefix = max(self._max_prefix, len(key))

    def _analyse(self, word: str) -> Token:
        if word in _PUNCT:
            return Token(word, word, word, (), boundary=True)
        norm = self.fold(word)
        stem = self.stem(norm)
        hits: list[tuple[str, _Entry, int]] = []  # key, entry, length of prefix (0 = exact)
        seen: set[str] = set()
        for key in (norm, stem):
            entry = self._exact.get(key)
            if entry is not None and key not in seen:
                hits.append((key, entry, 0))
                seen.add(key)
        for n in range(min(len(norm), self._max_prefix), 0, -1):
            key = norm[:n]
            entry = self._prefix.get(key)
            if entry is not None:
                hits.append((key, entry, n))
                seen.add(key)
        keys = tuple(dict.fromkeys([*(k for k, _, _ in hits), stem]))

        def first(attr: str) -> tuple[object, int]:
            for _, entry, n in hits:
                value = getattr(entry, attr)
                if value not in (None, False):
                    return value, n
            return None, 0

        valence, at = first("valence")
        expectation, at_expect = first("expectation")
        negated = False
        if (valence is not None or expectation) and self._negation_suffixes:
            rest = norm[(at or at_expect) :] if (at or at_expect) else ""
            negated = bool(rest) and rest.startswith(self._negation_suffixes)
        negative_verb = (
            valence is None
            and not expectation
            and any(suffix in norm[2:] for suffix in self._verb_negations)
        )
        negator, _ = first("negator")
        intensity, _ = first("intensity")
        aspect, _ = first("aspect")
        concept, _ = first("concept")
        return Token(
            text=word,
            norm=norm,
            stem=stem,
            keys=keys,
            valence=float(valence) if isinstance(valence, (int, float)) else 0.0,
            expectation=bool(expectation),
            negated=negated,
            negator="before" if negator == "before" else "after" if negator == "after" else None,
            intensity=float(intensity) if isinstance(intensity, (int, float)) else 1.0,
            negative_verb=negative_verb,
            contrast=bool(first("contrast")[0]),
            stop=norm in self._stop or stem in self._stop,
            aspect=aspect if isinstance(aspect, str) else None,
            concept=concept if isinstance(concept, str) else None,
            question=norm in self._question_words
            or bool(self._question_endings and norm.endswith(self._question_endings)),
            emphasis=norm in self._emphasis or stem in self._emphasis,
        )


def _merge(old: _Entry, new: _Entry) -> _Entry:
    return _Entry(
        valence=new.valence if new.valence is not None else old.valence,
        expectation=new.expectation or old.expectation,
        negator=new.negator or old.negator,
        intensity=new.intensity if new.intensity is not None else old.intensity,
        contrast=new.contrast or old.contrast,
        aspect=new.aspect or old.aspect,
        concept=new.concept or old.concept,
    )


def phrase_match(tokens: Sequence[Token], start: int, keys: tuple[str, ...]) -> bool:
    """Whether ``tokens[start:]`` begins with words matching ``keys`` in order."""
    if start + len(keys) > len(tokens):
        return False
    return all(key in tokens[start + i].keys for i, key in enumerate(keys))
