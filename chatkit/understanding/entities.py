"""Entities in customer messages: order numbers, e-mails, phones, dates, amounts, products.

`EntityExtractor` finds, with regular expressions built from the language
packs:

===============  ==========================================  =====================
type             examples                                    value
===============  ==========================================  =====================
``order_number`` ``245-12784``, ``#A1234``, ``ORD-2024-0001``, ``245-12784``, ``A1234``
                 "order 88812345", "sipariş no 5512345"
``email``        ``ayse@example.com``                        lower-cased
``phone``        ``+90 532 123 45 67``, ``010-1234-5678``    digits (and a ``+``)
``date``         "August 1st", "1 Ağustos", "8월 1일",        ``2026-08-01`` or
                 ``2026-08-01``, "yesterday", "4 days ago",  ``--08-01``; relative:
                 "tomorrow", "yarın", "내일"                 ``-P1D``, ``-P4D``, ``+P1D``
``duration``     "4 days", "iki gündür", "이틀", "3일째",     ``P4D``, ``P2D``,
                 "30 minutes", "2 saattir", "3 iş günü"     ``PT30M``, ``PT2H``
``amount``       ``$12.50``, ``120 TL``, ``15,000원``, ``€9``  ``12.5 USD``
``product``      names from a `ProductCatalogue`             the catalogue name
===============  ==========================================  =====================

Codes that could be anything (plain digit runs) count as order numbers only
right after an order word of the message's language ("order", "sipariş",
"주문") or right before a numbering word ("55120934 numaralı"). When
matches overlap, the earlier type in the table wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

from .catalogue import Product, ProductCatalogue
from .entity import Entity
from .languages import Languages
from .lexicons import Lexicon

__all__ = ["Entity", "EntityExtractor", "Product", "ProductCatalogue"]

_ALNUM_BEFORE = r"(?<![0-9A-Za-z-])"
_ALNUM_AFTER = r"(?![0-9A-Za-z-])"
_LETTER_AFTER = r"(?![^\W\d_])"
_LETTER_BEFORE = r"(?<![^\W\d_])"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_STRONG_ORDER = [
    re.compile(
        _ALNUM_BEFORE + r"#(?P<code>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{2,})" + _ALNUM_AFTER
    ),
    re.compile(_ALNUM_BEFORE + r"(?P<code>[A-Z]{2,5}-\d{2,}(?:-[A-Z0-9]+)*)" + _ALNUM_AFTER),
    re.compile(r"(?<![\d-])(?P<code>\d{3}-\d{5,8}(?:-\d{3,8})?)(?![\d-])"),
]
_CODE = re.compile(
    _ALNUM_BEFORE
    + r"#?(?P<code>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
    + _ALNUM_AFTER
)
_ISO_DATE = re.compile(
    r"(?<![\d-])(?P<year>\d{4})[-./](?P<month>\d{1,2})[-./](?P<day>\d{1,2})(?![\d-])"
)
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}"
    r"(?![0-9A-Za-z])"
)
_DIGIT = re.compile(r"\d")
_NUMBER = r"\d(?:[\d.,]*\d)?"

_PERIODS = {"MIN": "PT{}M", "H": "PT{}H", "D": "P{}D", "W": "P{}W", "M": "P{}M", "Y": "P{}Y"}

_PRIORITY = {
    "email": 0,
    "order_number": 1,
    "date": 2,
    "duration": 3,
    "amount": 4,
    "phone": 5,
    "product": 6,
}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True) if w)


class _LanguagePatterns:
    """The regular expressions of one language, built once."""

    def __init__(self, lexicon: Lexicon) -> None:
        pack = lexicon.pack
        self.lexicon = lexicon
        months = _alternation(pack.months)
        flags = re.IGNORECASE
        self.dates = [
            re.compile(p.replace("{months}", months or "(?!x)x"), flags) for p in pack.date_patterns
        ]
        self.months = {lexicon.fold(k): v for k, v in pack.months.items()}
        suffix = pack.word_suffix
        self.relative = (
            re.compile(
                rf"{_LETTER_BEFORE}(?:{_alternation(pack.relative_dates)}){suffix}{_LETTER_AFTER}",
                flags,
            )
            if pack.relative_dates
            else None
        )
        self.relative_values = {lexicon.fold(k): v for k, v in pack.relative_dates.items()}
        numbers = _alternation(pack.numbers)
        units = _alternation(pack.time_units)
        ago = _alternation(pack.ago_words)
        ago_part = rf"(?:\s*(?P<ago>{ago}){suffix}{_LETTER_AFTER})?" if ago else ""
        qualifiers = _alternation(pack.unit_qualifiers)
        qualifier = rf"(?:(?:{qualifiers})\s+)?" if qualifiers else ""
        self.durations = (
            re.compile(
                rf"(?<![\w.,])(?P<n>\d{{1,3}}|{numbers or '(?!x)x'})\s*{qualifier}"
                rf"(?P<unit>{units}){suffix}"
                rf"{_LETTER_AFTER}{ago_part}",
                flags,
            )
            if units
            else None
        )
        self.duration_words = (
            re.compile(
                rf"{_LETTER_BEFORE}(?P<word>{_alternation(pack.duration_words)}){suffix}"
                rf"{_LETTER_AFTER}{ago_part}",
                flags,
            )
            if pack.duration_words
            else None
        )
        self.duration_values = {lexicon.fold(k): v for k, v in pack.duration_words.items()}
        self.numbers = {lexicon.fold(k): v for k, v in pack.numbers.items()}
        self.units = {lexicon.fold(k): v for k, v in pack.time_units.items()}
        self.order_words = (
            re.compile(rf"{_LETTER_BEFORE}(?:{_alternation(pack.order_words)})", flags)
            if pack.order_words
            else None
        )
        self.order_words_after = (
            re.compile(
                _ALNUM_BEFORE
                + r"#?(?P<code>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
                + rf"['\s]*(?:{_alternation(pack.order_words_after)})",
                flags,
            )
            if pack.order_words_after
            else None
        )


class EntityExtractor:
    """Finds entities in a message (see the module docstring for the types).

    Args:
        languages: The languages whose words anchor dates, durations, order
            numbers and amounts; the built-ins when omitted.
        catalogue: Products to recognise.
    """

    def __init__(
        self, languages: Languages | None = None, *, catalogue: ProductCatalogue | None = None
    ) -> None:
        self.languages = languages or Languages()
        self.catalogue = catalogue
        self._patterns = {
            code: _LanguagePatterns(self.languages.get(code)) for code in self.languages.codes
        }
        currencies: dict[str, str] = {}
        multipliers: dict[str, int] = {}
        for code in self.languages.codes:
            pack = self.languages.get(code).pack
            currencies.update({k.lower(): v for k, v in pack.currency_words.items()})
            multipliers.update({k.lower(): v for k, v in pack.amount_multipliers.items()})
        self._currencies = currencies
        self._multipliers = multipliers
        words = _alternation(currencies)
        mult = _alternation(multipliers)
        signs = _alternation(c for c in currencies if not c.isalpha())
        self._amount_after = re.compile(
            rf"(?<![\w.,])(?P<num>{_NUMBER})\s?(?:(?P<mult>{mult})\s?)?(?P<cur>{words})(?![A-Za-z])",
            re.IGNORECASE,
        )
        self._amount_before = re.compile(
            rf"(?P<cur>{signs}|\b(?:usd|eur|gbp|tl|krw)\b)\s?(?P<num>{_NUMBER})(?:\s?(?P<mult>{mult})(?![A-Za-z]))?",
            re.IGNORECASE,
        )

    def extract(self, text: str, language: str) -> list[Entity]:
        """All entities in ``text``, in order of appearance.

        Args:
            text: The message.
            language: Its language code (must be loaded).
        """
        patterns = self._patterns.get(language) or self._patterns[self.languages.default]
        found: list[Entity] = []
        if "@" in text:
            found += [
                Entity("email", m.group(0).lower(), m.group(0), m.start(), m.end())
                for m in _EMAIL.finditer(text)
            ]
        has_digit = _DIGIT.search(text) is not None
        if has_digit:
            for pattern in _STRONG_ORDER:
                found += [self._order(m) for m in pattern.finditer(text)]
            found += self._context_orders(text, patterns)
            found += self._absolute_dates(text, patterns)
            found += self._amounts(text, language)
            found += self._phones(text)
        found += self._relative(text, patterns, has_digit)
        if self.catalogue is not None:
            found += self.catalogue.find(text)
        return _resolve(found)

    @staticmethod
    def _order(match: re.Match[str], *, end: int | None = None) -> Entity:
        end = match.end() if end is None else end
        text = match.string[match.start() : end]
        return Entity("order_number", match.group("code"), text, match.start(), end)

    def _context_orders(self, text: str, patterns: _LanguagePatterns) -> list[Entity]:
        found: list[Entity] = []
        for word in patterns.order_words.finditer(text) if patterns.order_words else ():
            window_start = word.end()
            window = text[window_start : window_start + 40]
            for match in _CODE.finditer(window):
                code = match.group("code")
                if sum(c.isdigit() for c in code) < 4 or _ISO_DATE.fullmatch(code):
                    continue
                found.append(
                    Entity(
                        "order_number",
                        code,
                        match.group(0),
                        window_start + match.start(),
                        window_start + match.end(),
                    )
                )
                break
        if patterns.order_words_after is not None:
            for match in patterns.order_words_after.finditer(text):
                code = match.group("code")
                if sum(c.isdigit() for c in code) >= 4 and not _ISO_DATE.fullmatch(code):
                    found.append(self._order(match, end=match.end("code")))
        return found

    def _absolute_dates(self, text: str, patterns: _LanguagePatterns) -> list[Entity]:
        found = []
        for pattern in [_ISO_DATE, *patterns.dates]:
            for match in pattern.finditer(text):
                groups = match.groupdict()
                month: int | None = None
                if groups.get("month"):
                    month = int(groups["month"])
                elif groups.get("month_name"):
                    month = patterns.months.get(patterns.lexicon.fold(groups["month_name"]))
                day = int(groups["day"]) if groups.get("day") else None
                if month is None or day is None or not (1 <= month <= 12 and 1 <= day <= 31):
                    continue
                year = groups.get("year")
                if year and len(year) == 2:
                    year = "20" + year
                value = f"{year}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"
                found.append(Entity("date", value, match.group(0), match.start(), match.end()))
        return found

    def _relative(self, text: str, patterns: _LanguagePatterns, has_digit: bool) -> list[Entity]:
        found = []
        fold = patterns.lexicon.fold
        if patterns.relative is not None:
            for match in patterns.relative.finditer(text):
                written = fold(match.group(0))
                value = patterns.relative_values.get(written) or next(
                    (v for k, v in patterns.relative_values.items() if written.startswith(k)), None
                )
                if value is not None:
                    found.append(Entity("date", value, match.group(0), match.start(), match.end()))
        if patterns.durations is not None:
            for match in patterns.durations.finditer(text):
                n_text = fold(match.group("n"))
                number = int(n_text) if n_text.isdigit() else patterns.numbers.get(n_text)
                unit = patterns.units.get(fold(match.group("unit")))
                if number is None or unit is None:
                    continue
                period = _PERIODS[unit].format(number)
                found.append(_duration(match, period))
        if patterns.duration_words is not None:
            for match in patterns.duration_words.finditer(text):
                word_period = patterns.duration_values.get(fold(match.group("word")))
                if word_period is not None:
                    found.append(_duration(match, word_period))
        return found

    def _amounts(self, text: str, language: str) -> list[Entity]:
        decimal_comma = (
            self.languages.get(language).pack.decimal_comma if language in self._patterns else False
        )
        found = []
        for pattern in (self._amount_before, self._amount_after):
            for match in pattern.finditer(text):
                number = _parse_number(match.group("num"), decimal_comma)
                currency = self._currencies.get(match.group("cur").lower())
                if number is None or currency is None:
                    continue
                if match.group("mult"):
                    number *= self._multipliers.get(match.group("mult").lower(), 1)
                value = f"{_plain(number)} {currency}"
                found.append(Entity("amount", value, match.group(0), match.start(), match.end()))
        return found

    @staticmethod
    def _phones(text: str) -> list[Entity]:
        found = []
        for match in _PHONE.finditer(text):
            digits = "".join(c for c in match.group(0) if c.isdigit())
            if not 9 <= len(digits) <= 15:
                continue
            value = ("+" if match.group(0).startswith("+") else "") + digits
            found.append(Entity("phone", value, match.group(0), match.start(), match.end()))
        return found


def _duration(match: re.Match[str], period: str) -> Entity:
    if match.groupdict().get("ago"):
        return Entity("date", f"-{period}", match.group(0), match.start(), match.end())
    end = match.end("unit") if "unit" in match.groupdict() else match.end("word")
    return Entity("duration", period, match.group(0)[: end - match.start()], match.start(), end)


def _parse_number(text: str, decimal_comma: bool) -> Decimal | None:
    if "," in text and "." in text:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
    elif "," in text or "." in text:
        sep = "," if "," in text else "."
        tail = text.rsplit(sep, 1)[1]
        if text.count(sep) > 1 or (len(tail) == 3 and (sep == "," or decimal_comma)):
            decimal_sep = "." if sep == "," else ","  # thousands separators only
        else:
            decimal_sep = sep
    else:
        decimal_sep = "."
    thousands = "," if decimal_sep == "." else "."
    cleaned = text.replace(thousands, "").replace(decimal_sep, ".")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _resolve(found: Sequence[Entity]) -> list[Entity]:
    """Drop matches that overlap a match of a higher-priority type (or a longer one)."""
    ordered = sorted(found, key=lambda e: (_PRIORITY[e.type], -(e.end - e.start), e.start))
    kept: list[Entity] = []
    for entity in ordered:
        if any(entity.start < k.end and k.start < entity.end for k in kept):
            continue
        kept.append(entity)
    return sorted(kept, key=lambda e: e.start)
