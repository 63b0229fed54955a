"""BCP 47 language tags: the little that automation needs of them."""

from __future__ import annotations

import re

__all__ = ["base_language", "language_tier", "normalize_language"]

_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")


def normalize_language(tag: str) -> str:
    """The canonical spelling of a BCP 47 tag: ``"EN_us"`` becomes ``"en-US"``.

    The language is lower case, a four-letter script title case
    (``"zh-Hant"``) and a two-letter region upper case; ``_`` is read as
    ``-``.

    Raises:
        ValueError: When ``tag`` is not shaped like a language tag
            (pydantic validators turn it into a field error).
    """
    text = tag.strip().replace("_", "-")
    if not _TAG.match(text):
        raise ValueError(f"{tag!r} is not a BCP 47 language tag (e.g. 'en', 'en-US', 'pt-BR')")
    first, *rest = text.split("-")
    parts = [first.lower()]
    for part in rest:
        if len(part) == 4 and part.isalpha():
            parts.append(part.title())
        elif len(part) == 2 and part.isalpha():
            parts.append(part.upper())
        else:
            parts.append(part.lower())
    return "-".join(parts)


def base_language(tag: str) -> str:
    """The language subtag alone: ``"en-US"`` gives ``"en"``."""
    return tag.split("-", 1)[0].lower()


def language_tier(offered: str, wanted: str) -> int:
    """How well a text in ``offered`` serves a reader of ``wanted`` (both normalised).

    Returns:
        3 for the same tag, 2 when ``offered`` is the base language of
        ``wanted`` (``"en"`` for ``"en-US"``), 1 for another variant of the
        same language (``"en-GB"`` for ``"en-US"``), 0 for no match.
    """
    if offered == wanted:
        return 3
    if offered == base_language(wanted):
        return 2
    if base_language(offered) == base_language(wanted):
        return 1
    return 0
