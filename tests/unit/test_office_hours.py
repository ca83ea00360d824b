"""Office hours: parsing the setting, and counting office time across closings, weekends, DST and holidays."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from handoff_bot.domain.office_hours import OfficeHours, parse_weekly

AMS = ZoneInfo("Europe/Amsterdam")
WEEK = parse_weekly("mon-fri 08:30-17:30")


def ams(*args: int) -> datetime:
    year, month, day, hour, minute = args
    return datetime(year, month, day, hour, minute, tzinfo=AMS)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "mon-fri",
        "mon-fri 9-17",
        "funday 08:00-17:00",
        "mon 17:00-08:00",
        "mon 25:00-26:00",
        "mon-fri 08:30-17:30; tue",
    ],
)
def test_bad_settings_are_refused_with_a_hint(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_weekly(spec)


def test_day_ranges_lists_and_split_days() -> None:
    weekly = parse_weekly("Mon-Wed,Fri 08:30-12:00, 13:00-17:00; sat-sun 10:00-24:00")
    assert sorted(weekly) == [0, 1, 2, 4, 5, 6]
    assert len(weekly[0]) == 2
    assert parse_weekly("always")[3] == parse_weekly("24/7")[3]


def test_adding_office_minutes_skips_nights_weekends_and_closed_days() -> None:
    hours = OfficeHours(WEEK, AMS, lambda d: d == date(2026, 11, 23))
    assert hours.add(ams(2026, 11, 19, 10, 0), 10) == ams(2026, 11, 19, 10, 10)
    assert hours.add(ams(2026, 11, 19, 17, 25), 10) == ams(2026, 11, 20, 8, 35)  # overnight
    assert hours.add(ams(2026, 11, 20, 17, 25), 10) == ams(2026, 11, 24, 8, 35)  # weekend + closed Monday
    assert hours.add(ams(2026, 11, 21, 12, 0), 10) == ams(2026, 11, 24, 8, 40)  # arrived on Saturday


def test_daylight_saving_changes_keep_local_opening_times() -> None:
    hours = OfficeHours(WEEK, AMS)
    assert hours.next_opening(ams(2026, 3, 28, 12, 0)) == ams(2026, 3, 30, 8, 30)  # clocks go forward
    assert hours.next_opening(ams(2026, 10, 24, 12, 0)) == ams(2026, 10, 26, 8, 30)  # clocks go back
    assert hours.add(ams(2026, 10, 23, 17, 0), 60) == ams(2026, 10, 26, 9, 0)


def test_open_closed_and_the_last_closing() -> None:
    hours = OfficeHours(WEEK, AMS)
    assert hours.is_open(ams(2026, 11, 23, 8, 30)) and not hours.is_open(ams(2026, 11, 23, 17, 30))
    assert hours.last_closing(ams(2026, 11, 23, 8, 30)) == ams(2026, 11, 20, 17, 30)
    assert hours.next_closing(ams(2026, 11, 23, 12, 0)) == ams(2026, 11, 23, 17, 30)
    assert hours.next_opening(ams(2026, 11, 23, 12, 0)) == ams(2026, 11, 23, 12, 0)  # already open


def test_a_calendar_that_never_opens_does_not_loop_forever() -> None:
    never = OfficeHours(WEEK, AMS, lambda _d: True)
    start = ams(2026, 1, 1, 0, 0)
    assert never.add(start, 10) > ams(2027, 1, 1, 0, 0)
    assert not never.is_open(start)


def test_remembered_days_give_the_answers_a_fresh_calendar_gives() -> None:
    """Days are worked out once per calendar; reusing them must not change any answer."""
    weekly = parse_weekly("mon-fri 08:30-17:00; sat 10:00-12:00")
    closed = {date(2026, 12, 25), date(2026, 12, 26)}
    reused = OfficeHours(weekly, AMS, closed.__contains__)
    moments = [
        ams(2026, 12, day, hour, minute)
        for day in range(20, 31)
        for hour in (0, 8, 12, 16, 23)
        for minute in (0, 45)
    ]
    for moment in moments + moments[::-1]:
        fresh = OfficeHours(weekly, AMS, closed.__contains__)
        assert reused.add(moment, 30) == fresh.add(moment, 30)
        assert reused.is_open(moment) == fresh.is_open(moment)
        assert reused.next_opening(moment) == fresh.next_opening(moment)
        assert reused.next_closing(moment) == fresh.next_closing(moment)
