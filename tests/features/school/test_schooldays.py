"""School weeks: the one rule that turns any date into an as-of date (or refuses it)."""

from __future__ import annotations

import datetime as dt

from features.school.schooldays import (
    as_of_dates,
    calendar_weeks,
    first_school_days,
    school_weeks,
    week_of,
    weeks_into_year,
)
from tests.features.builders import prepared

DAYS = prepared().days  # the built-in Flemish calendar, school years 2023-24 and 2024-25
D = dt.date


def test_a_date_inside_a_week_stands_for_its_first_school_day() -> None:
    weeks = school_weeks(DAYS, [D(2024, 10, 9), D(2024, 10, 7), D(2024, 11, 14)])
    # Wednesday 9 October and Monday 7 October are one week; 11 November (Armistice) is free.
    assert weeks.dates == [D(2024, 10, 7), D(2024, 11, 12)]
    assert weeks.moved == [(D(2024, 10, 9), D(2024, 10, 7)), (D(2024, 11, 14), D(2024, 11, 12))]
    assert weeks.holidays == [] and weeks.outside == []


def test_a_week_without_school_is_a_holiday_and_a_date_beyond_the_calendar_is_outside() -> None:
    weeks = school_weeks(DAYS, [D(2024, 10, 30), D(2024, 12, 25), D(2024, 12, 27), D(2031, 1, 6)])
    assert weeks.dates == []
    assert weeks.holidays == [D(2024, 10, 28), D(2024, 12, 23)]  # autumn, Christmas
    assert weeks.outside == [D(2031, 1, 6)]


def test_a_range_runs_from_its_first_week_to_its_last_and_skips_holidays() -> None:
    assert calendar_weeks(D(2024, 10, 23), D(2024, 11, 4)) == [
        D(2024, 10, 21),
        D(2024, 10, 28),
        D(2024, 11, 4),
    ]
    assert calendar_weeks(D(2024, 11, 4), D(2024, 10, 23)) == []
    # From a Wednesday: its week's Monday is the first as-of date.
    assert as_of_dates(DAYS, D(2024, 10, 23), D(2024, 11, 13)) == [
        D(2024, 10, 21),
        D(2024, 11, 4),
        D(2024, 11, 12),
    ]
    assert week_of(D(2024, 11, 17)) == D(2024, 11, 11)


def test_weeks_into_the_school_year_count_school_weeks_before_the_as_of_week() -> None:
    assert weeks_into_year(DAYS, D(2024, 9, 2)) == 0  # the first day of the year
    assert weeks_into_year(DAYS, D(2024, 9, 11)) == 1
    assert weeks_into_year(DAYS, D(2024, 11, 4)) == 8  # 2 Sep to 21 Oct; autumn holiday is none
    assert first_school_days(DAYS)[:2] == [D(2023, 9, 1), D(2023, 9, 4)]
