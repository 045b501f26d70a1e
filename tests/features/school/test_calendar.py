"""Tests for the built-in Flemish school calendar (features/calendar.py).

The expected dates were checked against the Flemish Government's rules (BVR of
31 August 2001, art. 7; vlaanderen.be "Schoolvakanties en vrije dagen op school";
onderwijs.vlaanderen.be) and against published school calendars of Flemish schools for
2018-19, 2019-20, 2020-21, 2021-22, 2022-23, 2023-24, 2024-25 and 2025-26 (docs/calendar.md).
"""

from __future__ import annotations

import datetime as dt
import time

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.school import calendar
from features.school.calendar import (
    KNOWN_SCHOOL_YEARS,
    flemish_calendar,
    school_year_bounds,
    school_year_of,
)

D = dt.date
FIRST_KNOWN_DAY = D(2018, 9, 3)
LAST_KNOWN_DAY = D(2031, 8, 31)

HOLIDAY_NAMES = {
    "herfstvakantie",
    "kerstvakantie",
    "krokusvakantie",
    "paasvakantie",
    "zomervakantie",
    "Wapenstilstand",
    "Paasmaandag",
    "Dag van de Arbeid",
    "O.L.H. Hemelvaart",
    "dag na O.L.H. Hemelvaart",
    "Pinkstermaandag",
}


def day_row(day: dt.date) -> dict[str, object]:
    rows = flemish_calendar(day, day).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_known_school_years_cover_2018_to_2030() -> None:
    assert set(range(2018, 2031)) <= set(KNOWN_SCHOOL_YEARS)
    assert list(KNOWN_SCHOOL_YEARS) == sorted(KNOWN_SCHOOL_YEARS)


def test_schema_is_exact() -> None:
    frame = flemish_calendar(D(2023, 10, 1), D(2023, 10, 31))
    assert frame.schema == pl.Schema(
        {
            "date": pl.Date(),
            "school_day": pl.Boolean(),
            "periods": pl.Int8(),
            "holiday": pl.String(),
            "school_year": pl.Int16(),
        }
    )


def test_one_sorted_row_per_day_across_year_boundaries() -> None:
    frame = flemish_calendar(D(2019, 6, 15), D(2021, 9, 15))
    assert frame.height == (D(2021, 9, 15) - D(2019, 6, 15)).days + 1
    assert frame["date"].is_sorted()
    assert frame["date"].n_unique() == frame.height
    assert frame["date"].first() == D(2019, 6, 15)
    assert frame["date"].last() == D(2021, 9, 15)


def test_the_whole_known_range_is_contiguous() -> None:
    frame = flemish_calendar(FIRST_KNOWN_DAY, LAST_KNOWN_DAY)
    assert frame.height == (LAST_KNOWN_DAY - FIRST_KNOWN_DAY).days + 1
    assert frame["date"].diff().drop_nulls().dt.total_days().unique().to_list() == [1]


def test_empty_range_gives_an_empty_frame_with_the_schema() -> None:
    frame = flemish_calendar(D(2023, 10, 2), D(2023, 10, 1))
    assert frame.height == 0
    assert frame.schema == flemish_calendar(D(2023, 10, 2), D(2023, 10, 2)).schema


@pytest.mark.parametrize(
    ("year", "first", "last"),
    [
        (2018, D(2018, 9, 3), D(2019, 6, 28)),  # 1 Sep a Saturday; 30 Jun a Sunday
        (2019, D(2019, 9, 2), D(2020, 6, 30)),  # 1 Sep a Sunday; 30 Jun a Tuesday
        (2020, D(2020, 9, 1), D(2021, 6, 30)),
        (2021, D(2021, 9, 1), D(2022, 6, 30)),  # school calendars: "einde lessen do 30 juni"
        (2022, D(2022, 9, 1), D(2023, 6, 30)),
        (2023, D(2023, 9, 1), D(2024, 6, 28)),  # 1 Sep a Friday: the year starts that Friday
        (2024, D(2024, 9, 2), D(2025, 6, 30)),  # 30 Jun a Monday stays the last day
        (2025, D(2025, 9, 1), D(2026, 6, 30)),
        (2029, D(2029, 9, 3), D(2030, 6, 28)),
        (2030, D(2030, 9, 2), D(2031, 6, 30)),
    ],
)
def test_school_year_bounds(year: int, first: dt.date, last: dt.date) -> None:
    assert school_year_bounds(year) == (first, last)
    assert day_row(first)["school_day"] is True
    assert day_row(last)["school_day"] is True


# (holiday name, first day, last day) as published for Flemish secondary schools.
PUBLISHED_HOLIDAYS = [
    # 2018-19
    ("herfstvakantie", D(2018, 10, 29), D(2018, 11, 4)),
    ("kerstvakantie", D(2018, 12, 24), D(2019, 1, 6)),
    ("krokusvakantie", D(2019, 3, 4), D(2019, 3, 10)),
    ("paasvakantie", D(2019, 4, 8), D(2019, 4, 21)),  # Easter after 15 April
    # 2019-20
    ("herfstvakantie", D(2019, 10, 28), D(2019, 11, 3)),
    ("kerstvakantie", D(2019, 12, 23), D(2020, 1, 5)),
    ("krokusvakantie", D(2020, 2, 24), D(2020, 3, 1)),
    ("paasvakantie", D(2020, 4, 6), D(2020, 4, 19)),  # first Monday of April
    # 2020-21: herfstvakantie extended by the Overlegcomité of 30 October 2020
    ("herfstvakantie", D(2020, 11, 2), D(2020, 11, 15)),  # 1 November a Sunday
    ("kerstvakantie", D(2020, 12, 21), D(2021, 1, 3)),
    ("krokusvakantie", D(2021, 2, 15), D(2021, 2, 21)),
    ("paasvakantie", D(2021, 4, 5), D(2021, 4, 18)),
    # 2021-22
    ("herfstvakantie", D(2021, 11, 1), D(2021, 11, 7)),
    ("kerstvakantie", D(2021, 12, 27), D(2022, 1, 9)),  # 25 December a Saturday
    ("krokusvakantie", D(2022, 2, 28), D(2022, 3, 6)),
    ("paasvakantie", D(2022, 4, 4), D(2022, 4, 17)),
    # 2022-23
    ("herfstvakantie", D(2022, 10, 31), D(2022, 11, 6)),
    ("kerstvakantie", D(2022, 12, 26), D(2023, 1, 8)),  # 25 December a Sunday
    ("krokusvakantie", D(2023, 2, 20), D(2023, 2, 26)),
    ("paasvakantie", D(2023, 4, 3), D(2023, 4, 16)),
    # 2023-24
    ("herfstvakantie", D(2023, 10, 30), D(2023, 11, 5)),
    ("kerstvakantie", D(2023, 12, 25), D(2024, 1, 7)),
    ("krokusvakantie", D(2024, 2, 12), D(2024, 2, 18)),
    ("paasvakantie", D(2024, 4, 1), D(2024, 4, 14)),  # Easter in March
    # 2024-25
    ("herfstvakantie", D(2024, 10, 28), D(2024, 11, 3)),
    ("kerstvakantie", D(2024, 12, 23), D(2025, 1, 5)),
    ("krokusvakantie", D(2025, 3, 3), D(2025, 3, 9)),
    ("paasvakantie", D(2025, 4, 7), D(2025, 4, 20)),
    # 2025-26
    ("herfstvakantie", D(2025, 10, 27), D(2025, 11, 2)),  # 1 November a Saturday
    ("kerstvakantie", D(2025, 12, 22), D(2026, 1, 4)),
    ("krokusvakantie", D(2026, 2, 16), D(2026, 2, 22)),
    ("paasvakantie", D(2026, 4, 6), D(2026, 4, 19)),
    # summers
    ("zomervakantie", D(2019, 7, 1), D(2019, 8, 31)),
    ("zomervakantie", D(2024, 7, 1), D(2024, 8, 31)),
]


@pytest.mark.parametrize(("name", "first", "last"), PUBLISHED_HOLIDAYS)
def test_published_holiday_periods(name: str, first: dt.date, last: dt.date) -> None:
    frame = flemish_calendar(first - dt.timedelta(days=1), last + dt.timedelta(days=1))
    inside = frame.filter(pl.col("date").is_between(first, last))
    assert inside["holiday"].unique().to_list() == [name]
    assert not inside["school_day"].any()
    assert inside["periods"].sum() == 0
    # The day before and after are not part of the same holiday.
    assert frame["holiday"].first() != name
    assert frame["holiday"].last() != name


@pytest.mark.parametrize(
    ("day", "school_day", "periods", "holiday"),
    [
        (D(2023, 9, 1), True, 2, None),  # Friday 1 September: first day of 2023-24
        (D(2023, 9, 6), True, 1, None),  # Wednesday: afternoon free
        (D(2023, 9, 9), False, 0, None),  # Saturday
        (D(2023, 9, 10), False, 0, None),  # Sunday
        (D(2023, 11, 6), True, 2, None),  # herfstvakantie is one week in Flanders
        (D(2022, 11, 11), False, 0, "Wapenstilstand"),  # Friday
        (D(2018, 11, 11), False, 0, "Wapenstilstand"),  # Sunday: named all the same
        (D(2019, 4, 22), False, 0, "Paasmaandag"),  # just after the paasvakantie
        (D(2024, 4, 1), False, 0, "paasvakantie"),  # Easter Monday inside the vacation
        (D(2024, 5, 1), False, 0, "Dag van de Arbeid"),  # Wednesday
        (D(2019, 5, 30), False, 0, "O.L.H. Hemelvaart"),
        (D(2019, 5, 31), False, 0, "dag na O.L.H. Hemelvaart"),
        (D(2022, 5, 26), False, 0, "O.L.H. Hemelvaart"),
        (D(2022, 5, 27), False, 0, "dag na O.L.H. Hemelvaart"),
        (D(2024, 5, 20), False, 0, "Pinkstermaandag"),
        (D(2024, 5, 21), True, 2, None),
        (D(2020, 6, 30), True, 2, None),  # Tuesday 30 June: last school day
        (D(2020, 7, 1), False, 0, "zomervakantie"),
        (D(2024, 6, 29), False, 0, None),  # weekend after the last day, before 1 July
        (D(2024, 7, 1), False, 0, "zomervakantie"),  # Monday: summer starts 1 July
        (D(2024, 9, 1), False, 0, None),  # Sunday after the summer, before the first day
        (D(2023, 8, 28), False, 0, "zomervakantie"),  # French Community's first day
    ],
)
def test_known_days(day: dt.date, school_day: bool, periods: int, holiday: str | None) -> None:
    row = day_row(day)
    assert (row["school_day"], row["periods"], row["holiday"]) == (school_day, periods, holiday)


def test_periods_follow_the_weekday() -> None:
    frame = flemish_calendar(FIRST_KNOWN_DAY, LAST_KNOWN_DAY).with_columns(
        weekday=pl.col("date").dt.weekday()
    )
    school = frame.filter("school_day")
    assert school.filter(pl.col("weekday") == 3)["periods"].unique().to_list() == [1]
    assert school.filter(pl.col("weekday") != 3)["periods"].unique().to_list() == [2]
    assert school["weekday"].max() == 5
    assert frame.filter(~pl.col("school_day"))["periods"].unique().to_list() == [0]
    assert frame.filter(pl.col("weekday") >= 6)["school_day"].sum() == 0


def test_holiday_is_null_on_school_days_and_names_are_known() -> None:
    frame = flemish_calendar(FIRST_KNOWN_DAY, LAST_KNOWN_DAY)
    assert frame.filter("school_day")["holiday"].null_count() == frame["school_day"].sum()
    assert set(frame["holiday"].drop_nulls().unique().to_list()) == HOLIDAY_NAMES


@pytest.mark.parametrize("year", KNOWN_SCHOOL_YEARS)
def test_every_known_year_has_a_plausible_number_of_school_days(year: int) -> None:
    first, last = school_year_bounds(year)
    frame = flemish_calendar(first, last)
    days = frame.filter(pl.col("periods") > 0).height
    assert 170 <= days <= 185
    assert frame["school_year"].unique().to_list() == [year]


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (D(2023, 8, 31), 2022),
        (D(2023, 9, 1), 2023),
        (D(2023, 8, 28), 2022),  # no "last Monday of August" start in Flanders
        (D(2024, 9, 1), 2023),  # Sunday before the first school day (Monday 2 September)
        (D(2024, 9, 2), 2024),
        (D(2024, 7, 15), 2023),  # summer belongs to the year that just ended
        (D(2024, 1, 15), 2023),
        (D(2018, 9, 3), 2018),
        (D(2031, 8, 31), 2030),
    ],
)
def test_school_year_of_around_the_boundary(day: dt.date, year: int) -> None:
    assert school_year_of(day) == year
    assert day_row(day)["school_year"] == year


def test_school_year_of_accepts_a_datetime() -> None:
    assert school_year_of(dt.datetime(2023, 9, 1, 8, 30)) == 2023


@pytest.mark.parametrize("year", [2017, 2031, 1999])
def test_unknown_school_year_is_an_error_naming_it(year: int) -> None:
    with pytest.raises(ValueError, match=f"{year}-{(year + 1) % 100:02d}"):
        school_year_bounds(year)


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        (D(2018, 9, 2), D(2018, 9, 30), D(2018, 9, 2)),
        (D(2030, 9, 2), D(2031, 9, 1), D(2031, 9, 1)),
        (D(2010, 1, 1), D(2011, 1, 1), D(2010, 1, 1)),
    ],
)
def test_range_outside_the_known_years_is_a_one_line_error(
    start: dt.date, end: dt.date, named: dt.date
) -> None:
    with pytest.raises(ValueError, match=named.isoformat()) as raised:
        flemish_calendar(start, end)
    assert "\n" not in str(raised.value)


def test_returned_frames_do_not_share_state_with_the_cache() -> None:
    frame = flemish_calendar(D(2023, 9, 1), D(2023, 9, 30))
    frame.insert_column(0, pl.Series("extra", range(frame.height)))
    again = flemish_calendar(D(2023, 9, 1), D(2023, 9, 30))
    assert "extra" not in again.columns


def test_thirteen_years_build_fast() -> None:
    calendar._school_year_frame.cache_clear()
    started = time.perf_counter()
    flemish_calendar(FIRST_KNOWN_DAY, LAST_KNOWN_DAY)
    # Well under 100 ms on a laptop; the bound leaves room for a loaded CI machine.
    assert time.perf_counter() - started < 0.5


@given(st.dates(min_value=FIRST_KNOWN_DAY, max_value=LAST_KNOWN_DAY))
def test_school_year_of_agrees_with_the_bounds(day: dt.date) -> None:
    year = school_year_of(day)
    assert year in KNOWN_SCHOOL_YEARS
    first, last = school_year_bounds(year)
    assert first <= day
    # The day lies before the next school year's first day, and a school day lies
    # within its own year's bounds.
    if year + 1 in KNOWN_SCHOOL_YEARS:
        assert day < school_year_bounds(year + 1)[0]
    row = day_row(day)
    assert row["school_year"] == year
    if row["school_day"]:
        assert first <= day <= last
    if day > last:
        assert row["holiday"] in {None, "zomervakantie"}
