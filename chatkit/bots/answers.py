"""Checking a customer's answer to an ``ask`` step: pure functions, no I/O."""

from __future__ import annotations

import re

from ..models.messages import MessageAnalysis
from .flows import AskStep

__all__ = ["check_answer", "given_already"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\w+", re.UNICODE)
_ENTITY = {"email": "email", "phone": "phone", "order_number": "order_number"}


def _entity(step: AskStep, analysis: MessageAnalysis | None) -> str | None:
    kind = _ENTITY.get(step.validate_as)
    if kind is None or analysis is None:
        return None
    values = analysis.entity_values(kind)
    return values[0] if values else None


def given_already(step: AskStep, analysis: MessageAnalysis | None) -> str | None:
    """The e-mail, phone or order number the message already holds, for an ``ask`` of it."""
    return _entity(step, analysis)


def _ordered(synonyms: dict[str, tuple[str, ...]], language: str | None) -> list[str]:
    base = language.split("-")[0] if language else None
    own = [w for k, ws in synonyms.items() if k.split("-")[0] == base for w in ws]
    return [*own, *(w for ws in synonyms.values() for w in ws if w not in own)]


def _choice(step: AskStep, text: str, language: str | None) -> str | None:
    tokens = _WORD.findall(text.casefold())
    joined = " ".join(tokens)
    stripped = text.strip()
    if stripped.isdigit() and 1 <= int(stripped) <= len(step.choices):
        return step.choices[int(stripped) - 1].value
    found: list[str] = []
    for choice in step.choices:
        # The customer's language first, but every synonym counts: customers mix languages.
        words = [choice.value, *_ordered(choice.synonyms, language)]
        for word in words:
            phrase = " ".join(_WORD.findall(word.casefold()))
            if phrase and re.search(rf"(?<!\w){re.escape(phrase)}", joined):
                found.append(choice.value)
                break
    unique = list(dict.fromkeys(found))
    return unique[0] if len(unique) == 1 else None


def _number(step: AskStep, text: str) -> str | None:
    found: list[str] = _NUMBER.findall(text)
    if len(found) != 1:
        return None
    value = float(found[0].replace(",", "."))
    if step.minimum is not None and value < step.minimum:
        return None
    if step.maximum is not None and value > step.maximum:
        return None
    return found[0].replace(",", ".")


def check_answer(
    step: AskStep, text: str, analysis: MessageAnalysis | None, language: str | None
) -> str | None:
    """The value to store for ``text`` as an answer to ``step``, or ``None`` when it does not pass.

    E-mail, phone and order numbers are taken from the entities
    `chatkit.understanding` found in the message first (normalised: an
    order number ``245 12784`` is stored as ``245-12784``), then from the
    text. ``choice`` accepts an option's value, a synonym in any language
    or its number in the list (``2``); an answer naming two options does
    not pass.
    """
    text = text.strip()
    if not text:
        return None
    kind = step.validate_as
    if kind in _ENTITY:
        found = _entity(step, analysis)
        if found is not None:
            return found
    if step.pattern is not None and kind in ("text", "order_number"):
        match = re.search(step.pattern, text)
        return match.group(0) if match else None
    if kind == "text":
        return text[:500]
    if kind == "email":
        match = _EMAIL.search(text)
        return match.group(0).lower() if match else None
    if kind == "phone":
        match = _PHONE.search(text)
        if match is None:
            return None
        digits = re.sub(r"[^\d+]", "", match.group(0))
        return digits if 7 <= len(digits.lstrip("+")) <= 15 else None
    if kind == "number":
        return _number(step, text)
    if kind == "choice":
        return _choice(step, text, language)
    return None  # order_number without an entity or a pattern
