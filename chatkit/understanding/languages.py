"""Languages: the set of loaded languages, and detecting which one a message is in.

`Languages` holds one compiled `Lexicon` per `LanguagePack` (the built-in
English, Korean and Turkish when none are given) and detects a message's
language cheaply and offline. Packs live in `chatkit.understanding.packs`,
tokenising and stemming in `chatkit.understanding.lexicons`; their public
names are re-exported here.

Example:
    ```python
    languages = Languages()
    languages.detect("배송이 너무 늦어요")  # "ko"
    languages.get("tr").tokens("Siparişim GECİKTİ!")  # tokens "siparisim", "gecikti", "!"
    ```
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import InvalidInputError, quoted
from .lexicons import _TOKEN_RE, Lexicon, Token
from .lexicons import phrase_match as phrase_match  # re-exported: its former home
from .packs import BUILTIN_LANGUAGES, LanguagePack, load_language_pack

__all__ = [
    "BUILTIN_LANGUAGES",
    "LanguagePack",
    "Languages",
    "Lexicon",
    "Token",
    "load_language_pack",
]


@dataclass
class _Detector:
    scripts: list[tuple[str, list[tuple[int, int]]]] = field(default_factory=list)
    letters: dict[str, str] = field(default_factory=dict)
    words: dict[str, dict[str, int]] = field(default_factory=dict)
    prefixed: set[str] = field(default_factory=set)
    suffixes: dict[str, tuple[str, ...]] = field(default_factory=dict)


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
                if pack.detection_suffixes:
                    self._detector.suffixes[pack.code] = tuple(
                        dict.fromkeys(
                            form
                            for suffix in pack.detection_suffixes
                            for form in (lex.lower(suffix), lex.fold(suffix))
                        )
                    )
        self._char_info: dict[str, tuple[bool, str | None, tuple[str, ...]]] = {}
        self._word_langs: dict[str, tuple[str, ...]] = {}

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
                f"language {quoted(code)} is not loaded (loaded: {', '.join(self._lexicons)})",
                field="language",
            ) from None

    def detect(self, text: str) -> str:
        """The language of ``text``: cheap, offline, per message.

        A language with its own script (Korean) wins when at least a fifth of
        the letters are in it. Among Latin-script languages, each
        language-specific letter, each frequent function word and each word
        with a typical ending counts one point; the highest score wins, the
        default on a tie or no evidence.
        """
        letters = 0
        script_counts: dict[str, int] = {}
        scores: dict[str, int] = {}
        info = self._char_info
        for char, count in Counter(text).items():
            entry = info.get(char) or self._classify_char(char)
            if not entry[0]:
                continue
            letters += count
            if entry[1] is not None:
                script_counts[entry[1]] = script_counts.get(entry[1], 0) + count
            for lang in entry[2]:
                scores[lang] = scores.get(lang, 0) + count
        if script_counts and letters:
            code, count = max(script_counts.items(), key=lambda kv: kv[1])
            if count * 5 >= letters:
                return code
        cache = self._word_langs
        for word in _TOKEN_RE.findall(text.lower()):
            langs = cache.get(word)
            if langs is None:
                langs = self._word_languages(word)
                if len(cache) < 100_000:
                    cache[word] = langs
            for lang in langs:
                scores[lang] = scores.get(lang, 0) + 1
        if not scores:
            return self.default
        best = max(scores.values())
        winners = [lang for lang, score in scores.items() if score == best]
        return self.default if self.default in winners or len(winners) > 1 else winners[0]

    def _classify_char(self, char: str) -> tuple[bool, str | None, tuple[str, ...]]:
        """Whether a character is a letter, its own-script language, and the languages it hints."""
        point = ord(char)
        script = next(
            (
                code
                for code, ranges in self._detector.scripts
                if any(lo <= point <= hi for lo, hi in ranges)
            ),
            None,
        )
        hints = tuple(
            lang for lang, chars in self._detector.letters.items() if chars and char in chars
        )
        entry = (char.isalpha(), script, hints)
        if len(self._char_info) < 50_000:
            self._char_info[char] = entry
        return entry

    def _word_languages(self, word: str) -> tuple[str, ...]:
        """The Latin-script languages a lower-cased word points to."""
        detector = self._detector
        found = []
        for lang, table in detector.words.items():
            if (
                word in table
                or (
                    lang in detector.prefixed
                    and any(word[:n] in table for n in range(4, len(word)))
                )
                or (
                    lang in detector.suffixes
                    and len(word) >= 5
                    and word.endswith(detector.suffixes[lang])
                )
            ):
                found.append(lang)
        return tuple(found)
