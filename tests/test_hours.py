"""Business hours: open/closed, next opening, open-time arithmetic, time zones and bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit import BusinessHours, InvalidInputError

IST = ZoneInfo("Europe/Istanbul")  # UTC+3, no daylight saving
NY = ZoneInfo("America/New_York")
SEOUL = ZoneInfo("Asia/Seoul")


def support() -> BusinessHours:
    return BusinessHours.weekly(
        "Europe/Istanbul",
        {"mon-fri": ["09:00-12:30", "13:30-18:00"], "sat": "10:00-14:00"},
        holidays=["2026-10-29"],
        exceptions={"2026-12-31": "09:00-13:00"},
    )


def at(*args: int, zone: ZoneInfo = IST) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def test_open_and_closed_by_the_weekly_schedule() -> None:
    hours = support()
    assert hours.is_open(at(2026, 12, 1, 9, 0))  # a Tuesday
    assert hours.is_open(at(2026, 12, 1, 12, 29))
    assert not hours.is_open(at(2026, 12, 1, 12, 30))  # lunch
    assert not hours.is_open(at(2026, 12, 1, 8, 59))
    assert hours.is_open(at(2026, 12, 5, 13, 0))  # Saturday
    assert not hours.is_open(at(2026, 12, 6, 12, 0))  # Sunday
    # The same instant, asked in another zone, gets the same answer.
    assert hours.is_open(at(2026, 12, 1, 9, 0).astimezone(NY))


def test_holidays_and_exceptions() -> None:
    hours = support()
    assert not hours.is_open(at(2026, 10, 29, 10, 0))  # a Thursday holiday
    assert hours.is_open(at(2026, 12, 31, 12, 0))
    assert not hours.is_open(at(2026, 12, 31, 14, 0))  # closes early that day
    assert hours.ranges_on(date(2026, 12, 31))[0].end == 13 * 60


def test_next_open_and_next_close() -> None:
    hours = support()
    friday_evening = at(2026, 12, 4, 19, 0)
    assert hours.next_open(friday_evening) == at(2026, 12, 5, 10, 0)
    saturday_late = at(2026, 12, 5, 15, 0)
    assert hours.next_open(saturday_late) == at(2026, 12, 7, 9, 0)  # Monday
    inside = at(2026, 12, 1, 10, 0)
    assert hours.next_open(inside) == inside
    assert hours.next_close(inside) == at(2026, 12, 1, 12, 30)
    assert hours.next_close(friday_evening) is None
    # "When do we open next?" in the customer's zone.
    seoul = hours.next_open(friday_evening)
    assert seoul is not None
    assert seoul.astimezone(SEOUL).hour == 16


def test_ranges_touching_midnight_join_into_one_opening() -> None:
    hours = BusinessHours.weekly("UTC", {"mon": "18:00-24:00", "tue": "00:00-02:00"})
    start = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # a Monday
    assert hours.next_close(start) == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_open_time_arithmetic_for_sla_clocks() -> None:
    hours = support()
    friday_17 = at(2026, 12, 4, 17, 0)
    # Four business hours from Friday 17:00: 1 h Friday, 4 h Saturday (10-14) is enough.
    assert hours.add_open_time(friday_17, timedelta(hours=4)) == at(2026, 12, 5, 13, 0)
    assert hours.open_time_between(friday_17, at(2026, 12, 5, 13, 0)) == timedelta(hours=4)
    assert hours.add_open_time(friday_17, timedelta()) == friday_17
    with pytest.raises(InvalidInputError):
        hours.add_open_time(friday_17, timedelta(minutes=-1))


def test_daylight_saving_changes_follow_the_zone() -> None:
    hours = BusinessHours.weekly("America/New_York", {"sun": "00:00-24:00"})
    # 2026-03-08: clocks spring forward, the day has 23 hours.
    start = datetime(2026, 3, 8, 0, 0, tzinfo=NY)
    day = hours.open_time_between(start, start + timedelta(days=2))
    assert day == timedelta(hours=23)
    # 2026-11-01: clocks fall back, the day has 25 hours.
    autumn = datetime(2026, 11, 1, 0, 0, tzinfo=NY)
    assert hours.open_time_between(autumn, autumn + timedelta(days=2)) == timedelta(hours=25)


def test_a_schedule_that_never_opens() -> None:
    hours = BusinessHours.weekly("UTC", {})
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert hours.next_open(now) is None
    assert hours.add_open_time(now, timedelta(hours=1)) is None


@pytest.mark.parametrize(
    ("schedule", "zone", "match"),
    [
        ({"mon": "09:00-17:00"}, "Mars/Olympus_Mons", "unknown time zone"),
        ({"mon": "17:00-09:00"}, "UTC", "end after it starts"),
        ({"mon": ["09:00-12:00", "11:00-13:00"]}, "UTC", "overlap"),
        ({"mon": "9-5"}, "UTC", "opening range like"),
        ({"mon": "09:00-25:00"}, "UTC", "not a time of day"),
        ({"someday": "09:00-17:00"}, "UTC", "unknown weekday"),
    ],
)
def test_malformed_hours_are_typed_errors(
    schedule: dict[str, str | list[str]], zone: str, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match) as caught:
        BusinessHours.weekly(zone, schedule)
    assert caught.value.field == "hours"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        support().is_open(datetime(2026, 12, 1, 10, 0))
    assert caught.value.field == "at"


def test_round_trips_through_json() -> None:
    hours = support()
    assert BusinessHours.model_validate_json(hours.model_dump_json()) == hours


# -- properties -------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=1440)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2027, 12, 31),
).map(lambda d: d.replace(tzinfo=UTC))
zones = st.sampled_from(["UTC", "Europe/Istanbul", "America/New_York", "Asia/Seoul"])


@st.composite
def schedules(draw: st.DrawFn) -> BusinessHours:
    days = []
    for _ in range(7):
        cuts = sorted(set(draw(st.lists(minutes, max_size=6))))
        pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
        days.append([{"start": a, "end": b} for a, b in pairs])
    return BusinessHours.build(timezone=draw(zones), days=days)


@settings(max_examples=150, deadline=None)
@given(schedules(), instants, st.integers(min_value=0, max_value=3000))
def test_adding_open_time_is_consistent_with_counting_it(
    hours: BusinessHours, start: datetime, minutes_: int
) -> None:
    duration = timedelta(minutes=minutes_)
    due = hours.add_open_time(start, duration)
    if due is None:
        assert hours.next_open(start) is None or minutes_ > 0
        return
    assert due >= start
    assert hours.open_time_between(start, due) == duration
    if minutes_ > 0:
        assert hours.is_open(due - timedelta(microseconds=1))


@settings(max_examples=150, deadline=None)
@given(schedules(), instants)
def test_next_open_is_open_and_nothing_before_it_is(hours: BusinessHours, start: datetime) -> None:
    found = hours.next_open(start)
    if found is None:
        assert hours.open_time_between(start, start + timedelta(days=8)) == timedelta()
        return
    assert found >= start
    assert hours.is_open(found)
    assert hours.open_time_between(start, found) == timedelta()
    closes = hours.next_close(found)
    assert closes is not None
    assert closes > found
    assert not hours.is_open(closes)


def test_day_keys_ranges_lists_and_wrapping() -> None:
    hours = BusinessHours.weekly("UTC", {"fri-mon": "10:00-11:00", "wed,thursday": "12:00-13:00"})
    open_days = [n for n, ranges in enumerate(hours.days) if ranges]
    assert open_days == [0, 2, 3, 4, 5, 6]
    assert str(hours.days[2][0]) == "12:00-13:00"
