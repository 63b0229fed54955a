"""Languages as data: normalising, tokenising, stemming and detecting.

Each language is a `LanguagePack`, a JSON document validated with pydantic
(the built-ins are ``chatkit/understanding/data/{en,ko,tr}.json``). It holds
everything the built-in analyzers know about the language: how to lower-case
and fold it, which suffixes the light stemmer strips, its stop-words,
negators, intensifiers, sentiment, aspect and concept lexicons, and the words
the entity extractor anchors on. Adding a language is writing such a file
and passing it to `Languages`.

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
    languages = Languages()
    languages.detect("배송이 너무 늦어요")  # "ko"
    languages.get("tr").tokens("Siparişim GECİKTİ!")  # ["siparisim", "gecikti", "!"]
    ```
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InvalidInputError, NotFoundError

__all__ = [
    "BUILTIN_LANGUAGES",
    "LanguagePack",
    "Languages",
    "Lexicon",
    "Token",
    "load_language_pack",
]

BUILTIN_LANGUAGES = ("en", "ko", "tr")
"""Codes of the language packs that ship with chatkit."""

_PUNCT = frozenset(".!?;,:")
_APOSTROPHE = "\u2019"  # right single quotation mark, typed for an apostrophe
_TOKEN_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|[.!?;,:]")


class LanguagePack(BaseModel):
    """Everything the built-in analyzers know about one language.

    Attributes:
        code: Language code, e.g. ``"tr"``.
        name: English name, e.g. ``"Turkish"``.
        script_ranges: Unicode ranges (inclusive) of a script only this
            language uses among the loaded ones (Hangul for Korean); empty
            for Latin-script languages.
        letters: Letters that point to this language among Latin-script ones
            (``"çğış"`` for Turkish).
        detection_words: Frequent words that point to this language.
        turkish_casing: Lower-case ``I`` to dotless ``\u0131`` and dotted
            ``\u0130`` to ``i``.
        fold: Characters replaced after lower-casing, so text typed without
            diacritics matches (``{"ş": "s"}``); applied to lexicons too.
        cut_after_apostrophe: Drop what follows an apostrophe in a word
            (Turkish ``Ahmet'in`` → ``ahmet``).
        prefix_match: Default match mode of lexicon terms (see the module
            docstring).
        suffixes: Suffixes the light stemmer strips, longest first;
            ``"ies>y"`` replaces instead of stripping.
        min_stem: Shortest stem the stemmer leaves.
        max_strips: How many suffixes the stemmer strips at most.
        undouble: Undouble a final consonant after stripping (``dropp`` →
            ``drop``).
        final_strip: Letters dropped at the end of a stem (``"e"`` in
            English, so ``arrive`` and ``arrived`` share ``arriv``).
        stopwords: Words ignored for intents and patterns.
        negators: Words that negate what follows (``not``, ``안``).
        negators_after: Words that negate what precedes (``değil``, ``않``).
        negation_suffixes: Endings that negate the word they end, checked
            after a prefix term (Turkish ``-medi``, ``-miyor``).
        negation_window: Tokens a negator reaches.
        lone_negator_valence: Valence of a negator with nothing to negate
            (Korean ``없어요`` "there is none", Turkish ``yok``).
        negated_verb_valence: Valence of any word carrying one of the
            ``negation_suffixes`` (four letters or longer) that the lexicon
            does not know (Turkish ``yatmadi`` "was not paid in", folded).
        intensifiers: Words that scale the next sentiment word, with factor
            (``"very": 1.5``, ``"slightly": 0.6``).
        contrast: Words after which the sentiment counts more (``but``).
        sentiment: Term → valence, about -3 (terrible) to 3 (excellent);
            multi-word terms allowed; ``0`` neutralises a phrase such as
            ``"good morning"``.
        expectations: Things that should happen (``work``, ``arrive``):
            neutral alone, negative when negated ("hasn't arrived").
        aspects: Aspect name → terms ("the call keeps dropping" → calls).
        concepts: Concept name → terms; concepts are shared across
            languages, so they group similar questions in any language.
        numbers: Number words (``"two": 2``).
        months: Month names and abbreviations.
        date_patterns: Regular expressions for absolute dates with the
            named groups ``day``, ``month`` (a number), ``month_name`` and
            ``year``; ``{months}`` stands for the month-name alternation.
        relative_dates: Phrase → ISO 8601 offset (``"yesterday": "-P1D"``).
        time_units: Unit word → ISO 8601 designator (``"day": "D"``).
        word_suffix: A regular expression for what may follow an entity
            word (Korean particles, Turkish case endings), e.g. ``어제부터``.
        ago_words: Words after a duration that make it a past date (``ago``).
        duration_words: Phrase → ISO 8601 duration (``"이틀": "P2D"``).
        order_words: Words after which a code is an order number.
        currency_words: Currency word or sign → ISO 4217 code.
        amount_multipliers: Words that multiply an amount (``"만": 10000``).
        decimal_comma: ``12,50`` is twelve and a half (else twelve thousand
            five hundred only with three digits after the comma).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$")
    name: str = Field(min_length=1)
    script_ranges: list[tuple[int, int]] = []
    letters: str = ""
    detection_words: list[str] = []
    turkish_casing: bool = False
    fold: dict[str, str] = {}
    cut_after_apostrophe: bool = False
    prefix_match: bool = False
    suffixes: list[str] = []
    min_stem: int = Field(default=2, ge=1)
    max_strips: int = Field(default=1, ge=0, le=5)
    undouble: bool = False
    final_strip: str = ""
    stopwords: list[str] = []
    negators: list[str] = []
    negators_after: list[str] = []
    negation_suffixes: list[str] = []
    negation_window: int = Field(default=3, ge=1, le=6)
    lone_negator_valence: float = Field(default=0.0, ge=-4, le=0)
    negated_verb_valence: float = Field(default=0.0, ge=-4, le=0)
    intensifiers: dict[str, float] = {}
    contrast: list[str] = []
    sentiment: dict[str, float] = {}
    expectations: list[str] = []
    aspects: dict[str, list[str]] = {}
    concepts: dict[str, list[str]] = {}
    numbers: dict[str, int] = {}
    months: dict[str, int] = {}
    date_patterns: list[str] = []
    relative_dates: dict[str, str] = {}
    time_units: dict[str, Literal["H", "D", "W", "M", "Y"]] = {}
    word_suffix: str = ""
    ago_words: list[str] = []
    duration_words: dict[str, str] = {}
    order_words: list[str] = []
    currency_words: dict[str, str] = {}
    amount_multipliers: dict[str, int] = {}
    decimal_comma: bool = False

    @field_validator("script_ranges")
    @classmethod
    def _ranges_ordered(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for low, high in value:
            if not 0 <= low <= high <= 0x10FFFF:
                raise ValueError(f"bad code point range {low:#x}-{high:#x}")
        return value

    @field_validator("sentiment")
    @classmethod
    def _valence_range(cls, value: dict[str, float]) -> dict[str, float]:
        for term, valence in value.items():
            if not -4 <= valence <= 4:
                raise ValueError(f"valence of {term!r} is {valence}; use -4 to 4")
        return value

    @field_validator("months")
    @classmethod
    def _month_range(cls, value: dict[str, int]) -> dict[str, int]:
        for name, number in value.items():
            if not 1 <= number <= 12:
                raise ValueError(f"month {name!r} is {number}; use 1 to 12")
        return value

    @field_validator("date_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern.replace("{months}", "x"))
            except re.error as exc:
                raise ValueError(f"date pattern {pattern!r} does not compile: {exc}") from exc
        return value

    @classmethod
    def from_data(
        cls, data: Mapping[str, object], *, source: str = "language pack"
    ) -> LanguagePack:
        """Validate a language pack given as a dict (e.g. parsed JSON).

        Raises:
            InvalidInputError: The data is not a valid language pack; the
                message names the offending field.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            raise InvalidInputError(
                f"{source}: {where}: {first['msg']} ({exc.error_count()} error(s))", field=where
            ) from exc

    @classmethod
    def from_file(cls, path: str | Path) -> LanguagePack:
        """Read and validate a language pack from a JSON file.

        Raises:
            InvalidInputError: The file is not JSON or not a valid pack.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"{path}: cannot read a language pack: {exc}") from exc
        return cls.from_data(data, source=str(path))


@cache
def load_language_pack(code: str) -> LanguagePack:
    """The built-in language pack for ``code`` (one of `BUILTIN_LANGUAGES`).

    Raises:
        NotFoundError: No built-in pack has this code.
    """
    if code not in BUILTIN_LANGUAGES:
        raise NotFoundError("language pack", code)
    text = resources.files("chatkit.understanding").joinpath(f"data/{code}.json").read_text("utf-8")
    return LanguagePack.from_data(json.loads(text), source=f"built-in language pack {code}")


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


@dataclass
class _Detector:
    scripts: list[tuple[str, list[tuple[int, int]]]] = field(default_factory=list)
    letters: dict[str, str] = field(default_factory=dict)
    words: dict[str, dict[str, int]] = field(default_factory=dict)
    prefixed: set[str] = field(default_factory=set)


class Languages:
    """The languages the built-in analyzers understand, with detection.

    Args:
        packs: Language packs; the built-ins (English, Korean, Turkish) when
            omitted. Pass ``[*Languages.builtin_packs(), my_pack]`` to add one.
        default: The language assumed when detection finds no evidence.

    Raises:
        InvalidInputError: Two packs share a code, or ``default`` is not
            among them.
    """

    def __init__(self, packs: Iterable[LanguagePack] | None = None, *, default: str = "en") -> None:
        packs = list(self.builtin_packs() if packs is None else packs)
        codes = [p.code for p in packs]
        if len(set(codes)) != len(codes):
            raise InvalidInputError(f"language codes must be unique: {codes}", field="packs")
        if default not in codes:
            raise InvalidInputError(
                f"default language {default!r} is not among {codes}", field="default"
            )
        self.default = default
        self._lexicons = {p.code: Lexicon(p) for p in packs}
        self._detector = _Detector()
        for pack in packs:
            if pack.script_ranges:
                self._detector.scripts.append((pack.code, pack.script_ranges))
            else:
                lex = self._lexicons[pack.code]
                self._detector.letters[pack.code] = pack.letters
                self._detector.words[pack.code] = {
                    lex.lower(w): 1 for w in pack.detection_words
                } | {lex.fold(w): 1 for w in pack.detection_words}
                if pack.prefix_match:
                    self._detector.prefixed.add(pack.code)
        self._script_of: dict[str, str | None] = {}

    @staticmethod
    def builtin_packs() -> list[LanguagePack]:
        """The language packs that ship with chatkit."""
        return [load_language_pack(code) for code in BUILTIN_LANGUAGES]

    @property
    def codes(self) -> list[str]:
        """Codes of the loaded languages."""
        return list(self._lexicons)

    def get(self, code: str) -> Lexicon:
        """The compiled lexicon of one language.

        Raises:
            InvalidInputError: The language is not loaded.
        """
        try:
            return self._lexicons[code]
        except KeyError:
            raise InvalidInputError(
                f"language {code!r} is not loaded (loaded: {', '.join(self._lexicons)})",
                field="language",
            ) from None

    def detect(self, text: str) -> str:
        """The language of ``text``: cheap, offline, per message.

        A language with its own script (Korean) wins when at least a fifth of
        the letters are in it. Among Latin-script languages, each
        language-specific letter and each frequent function word counts one
        point; the highest score wins, the default on a tie or no evidence.
        """
        letters = 0
        script_counts: dict[str, int] = {}
        specials: dict[str, int] = {}
        for char in text:
            if not char.isalpha():
                continue
            letters += 1
            code = self._script_of.get(char, "")
            if code == "":
                code = self._classify_char(char)
            if code is not None:
                script_counts[code] = script_counts.get(code, 0) + 1
            for lang, chars in self._detector.letters.items():
                if chars and char in chars:
                    specials[lang] = specials.get(lang, 0) + 1
        if script_counts and letters:
            code, count = max(script_counts.items(), key=lambda kv: kv[1])
            if count * 5 >= letters:
                return code
        lowered = text.lower()
        scores = dict(specials)
        for word in _TOKEN_RE.findall(lowered):
            for lang, table in self._detector.words.items():
                if word in table or (
                    lang in self._detector.prefixed
                    and any(word[:n] in table for n in range(4, len(word)))
                ):
                    scores[lang] = scores.get(lang, 0) + 1
        if not scores:
            return self.default
        best = max(scores.values())
        winners = [lang for lang, score in scores.items() if score == best]
        return self.default if self.default in winners or len(winners) > 1 else winners[0]

    def _classify_char(self, char: str) -> str | None:
        point = ord(char)
        found = None
        for code, ranges in self._detector.scripts:
            if any(low <= point <= high for low, high in ranges):
                found = code
                break
        if len(self._script_of) < 50_000:
            self._script_of[char] = found
        return found


def phrase_match(tokens: Sequence[Token], start: int, keys: tuple[str, ...]) -> bool:
    """Whether ``tokens[start:]`` begins with words matching ``keys`` in order."""
    if start + len(keys) > len(tokens):
        return False
    return all(key in tokens[start + i].keys for i, key in enumerate(keys))
