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

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import InvalidInputError
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
