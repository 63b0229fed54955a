"""Phone numbers in E.164, so one person on SMS and WhatsApp is one contact."""

from __future__ import annotations

from .._optional import missing

__all__ = ["normalize_phone"]


def normalize_phone(value: str, *, region: str | None = None) -> str:
    """``value`` in E.164 (``+14155550100``), with ``whatsapp:`` and the like stripped.

    Uses the ``phonenumbers`` package (``chatkit[twilio]``).

    Args:
        value: A number as a provider gives it (``whatsapp:+1 415 555 0100``).
        region: Two-letter region for numbers written without ``+``.

    Raises:
        ValueError: Not a possible phone number.
        MissingDependencyError: ``phonenumbers`` is not installed.
    """
    try:
        import phonenumbers
    except ImportError as exc:  # pragma: no cover - the extra brings it
        raise missing("phonenumbers", "phone number normalisation", exc) from exc
    text = value.strip()
    if ":" in text:
        text = text.split(":", 1)[1]
    if len(text) > 40:
        raise ValueError("too long for a phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc.error_type})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError("not a possible phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
