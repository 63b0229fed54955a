"""Business hours: when a team is open, in its own time zone.

A `BusinessHours` is a weekly schedule of opening ranges in a time zone, with
holidays (closed all day) and exceptions (other ranges on one date). It
answers "are we open now?", "when do we open next?" and counts time in
business hours, which is what SLA clocks run on. Every answer takes and
gives timezone-aware datetimes; convert them to the customer's zone with
``astimezone``.

Daylight-saving changes follow the IANA rules of the zone: a range is wall
clock time, so "09:00-17:00" is eight hours on most days and seven or nine
when the clocks change inside it. A boundary in the hour that a
spring-forward skips moves forward by the length of the gap (02:30 becomes
03:30); one in the hour that a fall-back repeats is its first occurrence.

Example:
    ```python
    hours = BusinessHours.weekly(
        "Europe/Istanbul",
        {"mon-fri": ["09:00-12:30", "13:30-18:00"], "sat": "10:00-14:00"},
        holidays=["2026-10-29"],
    )
    hours.is_open(datetime.now(timezone.utc))
    hours.next_open(datetime.now(timezone.utc)).astimezone(ZoneInfo("America/New_York"))
    ```
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import InvalidInputError

__all__ = ["BusinessHours", "OpeningRange", "WEEKDAYS", "time_zone"]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""Weekday names, Monday first (``date.weekday()`` order)."""

_SHORT = {name[:3]: n for n, name in enumerate(WEEKDAYS)}
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_HORIZON_DAYS = 400
"""How far `next_open` and friends look ahead before concluding "never"."""


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``.

    Raises:
        ValueError: No such zone (pydantic validators turn it into a field error).
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name too long for a file; its message would show the install path.
        shown = name if len(name) <= 100 else name[:99] + "\u2026"
        raise ValueError(f"unknown time zone {shown!r}") from None


class OpeningRange(BaseModel):
    """Open from ``start`` to ``end`` (local wall-clock minutes since midnight; end may be 1440)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int = Field(ge=0, le=1439)
    end: int = Field(ge=1, le=1440)

    @model_validator(mode="after")
    def _ordered(self) -> OpeningRange:
        if self.end <= self.start:
            raise ValueError("an opening range must end after it starts (use 24:00 for midnight)")
        return self

    @classmethod
    def parse(cls, text: str) -> OpeningRange:
        """``"09:00-17:30"``; ``"24:00"`` is accepted as an end."""
        match = _RANGE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"expected an opening range like '09:00-17:30', got {text!r}")
        sh, sm, eh, em = (int(g) for g in match.groups())
        if sm > 59 or em > 59 or sh > 23 or eh > 24 or (eh == 24 and em):
            raise ValueError(f"not a time of day in {text!r}")
        return cls(start=sh * 60 + sm, end=eh * 60 + em)

    def __str__(self) -> str:
        return f"{self.start // 60:02}:{self.start % 60:02}-{self.end // 60:02}:{self.end % 60:02}"


def _ranges(value: Any) -> list[OpeningRange]:
    items = [value] if isinstance(value, (str, OpeningRange)) else list(value)
    ranges = [
        item
        if isinstance(item, OpeningRange)
        else OpeningRange.parse(item)
        if isinstance(item, str)
        else OpeningRange.model_validate(item)
        for item in items
    ]
    ranges.sort(key=lambda r: r.start)
    for before, after in itertools.pairwise(ranges):
        if after.start < before.end:
            raise ValueError(f"opening ranges {before} and {after} overlap")
    return ranges


class BusinessHours(BaseModel):
    """A weekly schedule in a time zone, with holidays and dated exceptions.

    Attributes:
        timezone: An IANA zone name, e.g. ``"Europe/Istanbul"``.
        days: Seven lists of opening ranges, Monday first.
        holidays: Dates closed all day (local dates).
        exceptions: Dates with other ranges than their weekday (an empty
            list closes that date).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str
    days: tuple[
        list[OpeningRange],
        list[OpeningRange],
        list[OpeningRange],
        list[OpeningRange],
        list[OpeningRange],
        list[OpeningRange],
        list[OpeningRange],
    ] = Field(default=([], [], [], [], [], [], []))
    holidays: frozenset[date] = frozenset()
    exceptions: dict[date, list[OpeningRange]] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        time_zone(value)
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _parse_days(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return tuple(_ranges(day) for day in value)
        return value

    @field_validator("exceptions", mode="before")
    @classmethod
    def _parse_exceptions(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: _ranges(day) for key, day in value.items()}
        return value

    @classmethod
    def weekly(
        cls,
        timezone: str,
        hours: Mapping[str, str | Sequence[str]],
        *,
        holidays: Sequence[date | str] = (),
        exceptions: Mapping[date | str, str | Sequence[str]] | None = None,
    ) -> BusinessHours:
        """Build from day names, e.g. ``{"mon-fri": ["09:00-12:00", "13:00-18:00"]}``.

        Keys are weekday names or their first three letters, alone, as a
        range (``"mon-fri"``) or comma-separated (``"sat,sun"``). Days not
        named are closed.

        Raises:
            InvalidInputError: Unknown day or zone, malformed or overlapping ranges.
        """
        days: list[list[str]] = [[] for _ in WEEKDAYS]
        for key, value in hours.items():
            ranges = [value] if isinstance(value, str) else list(value)
            for n in _day_numbers(key):
                days[n] += ranges
        return cls.build(
            timezone=timezone,
            days=days,
            holidays=list(holidays),
            exceptions=dict(exceptions or {}),
        )

    @classmethod
    def build(cls, **fields: Any) -> BusinessHours:
        """Validate ``fields`` into a `BusinessHours`, raising `InvalidInputError`."""
        try:
            return cls.model_validate(fields)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise InvalidInputError(f"invalid business hours: {exc}", field="hours") from exc

    @property
    def zone(self) -> ZoneInfo:
        """The `ZoneInfo` of `timezone`."""
        return ZoneInfo(self.timezone)

    def ranges_on(self, day: date) -> list[OpeningRange]:
        """The opening ranges of a local date (holidays and exceptions applied)."""
        if day in self.exceptions:
            return self.exceptions[day]
        if day in self.holidays:
            return []
        return self.days[day.weekday()]

    def intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals overlapping ``[start, end)``, clipped to it, in UTC, in order."""
        start, end = _aware(start, "start"), _aware(end, "end")
        zone = self.zone
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        while day <= last:
            for opening in self.ranges_on(day):
                lo = _instant(day, opening.start, zone)
                hi = _instant(day, opening.end, zone)
                lo, hi = max(lo, start), min(hi, end)
                if lo < hi:
                    yield lo, hi
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` falls inside an opening range."""
        at = _aware(at, "at")
        return any(True for _ in self.intervals(at, at + timedelta(microseconds=1)))

    def next_open(self, after: datetime) -> datetime | None:
        """The first instant at or after ``after`` that is open (``after`` itself when open).

        ``None`` when nothing opens within about a year.
        """
        after = _aware(after, "after")
        for lo, _ in self.intervals(after, after + timedelta(days=_HORIZON_DAYS)):
            return lo
        return None

    def next_close(self, after: datetime) -> datetime | None:
        """When the opening that holds ``after`` ends (``None`` when closed at ``after``)."""
        after = _aware(after, "after")
        if not self.is_open(after):
            return None
        end = after
        for lo, hi in self.intervals(after, after + timedelta(days=_HORIZON_DAYS)):
            if lo > end:  # a gap: closed from `end` on
                break
            end = hi
        return end

    def open_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much of ``[start, end)`` is open (zero when ``end <= start``)."""
        return sum((hi - lo for lo, hi in self.intervals(start, end)), timedelta())

    def add_open_time(self, start: datetime, duration: timedelta) -> datetime | None:
        """The instant when ``duration`` of open time has passed since ``start``.

        This is how an SLA of "4 business hours" finds its due time. ``None``
        when the schedule does not hold that much open time within about a year.

        Raises:
            InvalidInputError: A negative duration.
        """
        start = _aware(start, "start")
        if duration < timedelta():
            raise InvalidInputError("duration must not be negative", field="duration")
        left = duration
        for lo, hi in self.intervals(start, start + timedelta(days=_HORIZON_DAYS)):
            if hi - lo >= left:
                return lo + left
            left -= hi - lo
        return None


def _day_numbers(key: str) -> list[int]:
    numbers: list[int] = []
    for part in key.lower().split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            a, b = _day(first), _day(last)
            numbers += list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(b + 1)]
        else:
            numbers.append(_day(part))
    return numbers


def _day(name: str) -> int:
    number = _SHORT.get(name.strip()[:3]) if name.strip() in (*WEEKDAYS, *_SHORT) else None
    if number is None:
        raise InvalidInputError(f"unknown weekday {name!r}", field="hours")
    return number


_EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
_LATEST = datetime(9998, 1, 1, tzinfo=UTC)
"""Times outside these are refused: looking days ahead or back from them overflows."""


def _aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInputError(f"{field} must be a timezone-aware datetime", field=field)
    if not _EARLIEST <= value <= _LATEST:
        raise InvalidInputError(f"{field} must be within the years 2 to 9997", field=field)
    return value.astimezone(UTC)


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of local wall-clock ``minute`` on ``day`` (1440 = next midnight)."""
    if minute == 1440:
        day, minute = day + timedelta(days=1), 0
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return local.astimezone(UTC)
