"""Reading vendors' ISO 8601 timestamps the same way on every supported Python.

Vendors write more shapes than ``datetime.fromisoformat`` reads before
Python 3.11: Zendesk's webhook ``time`` has nine fractional digits
(``2024-05-01T12:34:56.123456789Z``), many APIs end with ``Z`` or write the
offset without a colon (Salesforce's ``+0000``). `parse_iso_datetime` reads
them all, on every Python, and gives what Python 3.11's ``fromisoformat``
gives for them.
"""

from __future__ import annotations

import re
from datetime import datetime

__all__ = ["parse_iso_datetime"]

_STAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:(?<=:\d{2}:\d{2})[.,](?P<fraction>\d+))?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)


def parse_iso_datetime(text: str) -> datetime:
    """``text`` (ISO 8601) as a datetime, naive when it names no offset.

    Accepts any number of fractional digits (truncated to microseconds, as
    Python 3.11 does), a ``,`` before them, ``Z`` for UTC and offsets
    written ``+HH:MM``, ``+HHMM`` or ``+HH``. Other shapes are left to
    ``datetime.fromisoformat`` of the running Python.

    Raises:
        ValueError: Not a timestamp.
    """
    value = text.strip()
    match = _STAMP.fullmatch(value)
    if match is None:
        return datetime.fromisoformat(value)
    if match["time"] is None:
        return datetime.fromisoformat(match["date"])
    normal = f"{match['date']}T{match['time']}"
    if match["fraction"] is not None:
        normal += f".{(match['fraction'] + '000000')[:6]}"
    zone = match["zone"]
    if zone is not None:
        if zone in ("Z", "z"):
            zone = "+00:00"
        elif len(zone) == 3:
            zone += ":00"
        elif ":" not in zone:
            zone = f"{zone[:3]}:{zone[3:]}"
        normal += zone
    return datetime.fromisoformat(normal)
