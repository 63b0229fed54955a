"""Language packs: everything the built-in analyzers know about a language, as validated data.

A `LanguagePack` is a JSON document validated with pydantic (the built-ins
are ``chatkit/understanding/data/{en,ko,tr}.json``). It holds how to
lower-case and fold the language, which suffixes the light stemmer strips,
its stop-words, negators, intensifiers, sentiment, aspect and concept
lexicons, and the words the entity extractor anchors on. Adding a language
is writing such a file and passing it to `Languages`.

Example:
    ```python
    pack = LanguagePack.from_file("my_language.json")
    languages = Languages([*Languages.builtin_packs(), pack])
    ```
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InvalidInputError, NotFoundError

__all__ = ["BUILTIN_LANGUAGES", "LanguagePack", "load_language_pack"]

BUILTIN_LANGUAGES = ("en", "ko", "tr")
"""Codes of the language packs that ship with chatkit."""


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
        detection_suffixes: Word endings that point to this language
            (Turkish ``-iyor``), counted on words at least two letters
            longer than the ending.
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
        time_units: Unit word → ISO 8601 designator (``"day": "D"``;
            ``"MIN"`` for minutes, written ``PT30M``).
        unit_qualifiers: Words allowed between a number and its unit
            (``"business"`` in "3 business days").
        word_suffix: A regular expression for what may follow an entity
            word (Korean particles, Turkish case endings), e.g. ``어제부터``.
        ago_words: Words after a duration that make it a past date (``ago``).
        duration_words: Phrase → ISO 8601 duration (``"이틀": "P2D"``).
        order_words: Words after which a code is an order number.
        order_words_after: Words before which a code is an order number
            (Turkish ``"numaralı"`` in "55120934 numaralı sipariş").
        question_particles: Words that make a clause a question without a
            question mark (Turkish ``mi``); one starting with ``-`` is a
            word ending (Korean ``-나요``).
        question_emphasis: Words that keep a question's sentiment (``why``:
            "why was I charged twice?" is a complaint, not a question).
        question_damping: Factor on the sentiment of a plain question
            ("is my delivery delayed?"); 1 turns damping off.
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
    detection_suffixes: list[str] = []
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
    time_units: dict[str, Literal["MIN", "H", "D", "W", "M", "Y"]] = {}
    unit_qualifiers: list[str] = []
    word_suffix: str = ""
    ago_words: list[str] = []
    duration_words: dict[str, str] = {}
    order_words: list[str] = []
    order_words_after: list[str] = []
    question_particles: list[str] = []
    question_emphasis: list[str] = []
    question_damping: float = Field(default=1.0, ge=0, le=1)
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
