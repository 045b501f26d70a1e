"""A few pupils' school year week by week, for their picture on the care team's list.

Tiny literal canonical tables (the columns ``pupil_weeks`` reads) on the built-in Flemish
calendar of 2024-25. The as-of date is Monday 18 November 2024: eleven calendar weeks of the
school year lie before it (2 September to 11 November), one of them the autumn holiday
(28 October) and one with Armistice Day off (Monday 11 November: 4 school days, 7 half-days).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.canonical.codes import CATEGORIES
from features.pupil_days import absence_days
from features.pupil_weeks import HALF_COLUMNS, WEEK_SCHEMA, pupil_weeks
from features.school.calendar import flemish_calendar
from tests.features.builders import ABSENCES, LATE_ARRIVALS, SICK_BAY_VISITS

D = dt.date
AS_OF = D(2024, 11, 18)

CALENDAR = flemish_calendar(D(2024, 6, 1), D(2024, 12, 31)).select(
    pl.lit(None, dtype=pl.String).alias("school_id"), pl.all()
)

# P1's absent half-days, as (date, half, category): week by week below.
P1_ABSENCES = [
    (D(2024, 6, 3), "AM", "illness_parent_note"),  # last school year
    (D(2024, 9, 9), "AM", "illness_parent_note"),
    (D(2024, 9, 9), "PM", "illness_parent_note"),
    (D(2024, 9, 10), "AM", "illness_parent_note"),  # two lessons of one morning: the
    (D(2024, 9, 10), "AM", "unexcused"),  # B-code is the more serious, the half counts once
    (D(2024, 9, 12), "AM", "illness_certified"),
    (D(2024, 9, 12), "PM", "illness"),  # ill, not said how: with the certified
    (D(2024, 9, 13), "AM", "excused_other"),
    (D(2024, 9, 13), "PM", "exclusion"),
    (D(2024, 9, 16), "PM", "early_departure"),  # a partial day, not an absent half-day
    (D(2024, 9, 17), "AM", "school_activity"),  # counts as present
    (D(2024, 11, 12), "AM", "unexcused"),
    (D(2024, 11, 18), "AM", "unexcused"),  # on the as-of date
    (D(2024, 11, 20), "AM", "unexcused"),  # after it
]
P1_LATE = [D(2024, 9, 9), D(2024, 9, 9), D(2024, 11, 12), D(2024, 11, 18)]
P1_SICK_BAY = [D(2024, 9, 10), D(2024, 11, 18)]


def absences(rows: list[tuple[str, dt.date, str, str]]) -> pl.LazyFrame:
    """Absences of ``(pupil, date, half, category)`` at school S1."""
    return pl.LazyFrame([(k, "S1", d, h, c) for k, d, h, c in rows], schema=ABSENCES, orient="row")


def late_arrivals(rows: list[tuple[str, dt.date]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [(k, "S1", d, "08:40", 5) for k, d in rows], schema=LATE_ARRIVALS, orient="row"
    )


def sick_bay_visits(rows: list[tuple[str, dt.date]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [(k, "S1", d, "back_to_class") for k, d in rows], schema=SICK_BAY_VISITS, orient="row"
    )


EVENTS = (
    absences([("P1", *r) for r in P1_ABSENCES] + [("P3", D(2024, 9, 9), "AM", "unexcused")]),
    late_arrivals([("P1", d) for d in P1_LATE] + [("P3", D(2024, 9, 9))]),
    sick_bay_visits([("P1", d) for d in P1_SICK_BAY]),
)
KEYS = pl.DataFrame({"student_key": ["P1", "P2"], "school_id": ["S1", "S1"]})
"""P1 and P2 are listed; P3, whose events are in the tables too, is not."""


def weeks(
    events: tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame] = EVENTS,
    as_of: dt.date = AS_OF,
    keys: pl.DataFrame = KEYS,
    calendar: pl.DataFrame = CALENDAR,
) -> pl.DataFrame:
    return pupil_weeks(*events, calendar.lazy(), keys, as_of)


def week_rows(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows of :data:`WEEK_SCHEMA`, every count not given 0."""
    zero = dict.fromkeys(WEEK_SCHEMA.names()[5:], 0)
    return pl.DataFrame([{**zero, **r} for r in rows], schema=WEEK_SCHEMA)


def test_each_week_of_the_year_so_far_counts_half_days_by_group_and_the_marks() -> None:
    table = weeks()
    assert table.schema == WEEK_SCHEMA
    assert table["student_key"].unique().sort().to_list() == ["P1", "P2"]  # not P3
    week_starts = [D(2024, 9, 2) + dt.timedelta(weeks=i) for i in range(11)]
    for pupil in ("P1", "P2"):
        assert table.filter(pl.col("student_key") == pupil)["week_start"].to_list() == week_starts

    busy = table.filter(
        (pl.col("student_key") == "P1")
        & pl.any_horizontal(pl.col(*HALF_COLUMNS, "late_arrivals", "sick_bay_visits") > 0)
    )
    expected = week_rows(
        [
            {
                "student_key": "P1",
                "school_id": "S1",
                "week_start": D(2024, 9, 9),
                "school_days": 5,
                "half_days": 9,
                "parent_note_halves": 2,
                "certificate_halves": 2,
                "unexcused_halves": 1,
                "other_halves": 2,
                "late_arrivals": 2,
                "sick_bay_visits": 1,
            },
            {
                "student_key": "P1",
                "school_id": "S1",
                "week_start": D(2024, 11, 11),
                "school_days": 4,  # Armistice Day
                "half_days": 7,
                "unexcused_halves": 1,
                "late_arrivals": 1,
            },
        ]
    )
    assert_frame_equal(busy, expected)


def test_a_pupil_with_nothing_recorded_has_every_week_at_zero() -> None:
    p2 = weeks().filter(pl.col("student_key") == "P2")
    assert p2.height == 11
    assert (
        p2.select(pl.col(*HALF_COLUMNS, "late_arrivals", "sick_bay_visits").max()).row(0)
        == (0,) * 6
    )


def test_a_holiday_week_is_a_row_without_school_days() -> None:
    table = weeks().filter(pl.col("student_key") == "P2")
    holiday = table.filter(pl.col("school_days") == 0)
    assert holiday["week_start"].to_list() == [D(2024, 10, 28)]  # autumn holiday
    assert holiday["half_days"].to_list() == [0]


def test_the_groups_add_up_to_the_half_days_absent_of_the_pupil_days() -> None:
    before = EVENTS[0].filter(pl.col("date").is_between(D(2024, 9, 1), AS_OF, closed="left"))
    absent = absence_days(before).filter(pl.col("student_key") == "P1").collect()
    p1 = weeks().filter(pl.col("student_key") == "P1")
    assert p1.select(pl.sum_horizontal(HALF_COLUMNS).sum()).item() == absent["absent_halves"].sum()


@pytest.mark.parametrize("day", [AS_OF, AS_OF + dt.timedelta(days=2), D(2025, 3, 3)])
def test_no_event_on_or_after_the_as_of_date_is_counted(day: dt.date) -> None:
    later = (
        pl.concat([EVENTS[0], absences([("P1", day, "PM", "unexcused")])]),
        pl.concat([EVENTS[1], late_arrivals([("P2", day)])]),
        pl.concat([EVENTS[2], sick_bay_visits([("P2", day)])]),
    )
    calendar = flemish_calendar(D(2024, 6, 1), D(2025, 6, 30)).select(
        pl.lit(None, dtype=pl.String).alias("school_id"), pl.all()
    )
    assert_frame_equal(weeks(later, calendar=calendar), weeks(calendar=calendar))


SCHOOL_DAYS = CALENDAR.filter(
    pl.col("school_day") & pl.col("date").is_between(D(2024, 9, 2), D(2024, 12, 20))
)["date"]


@settings(max_examples=25, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(SCHOOL_DAYS.to_list()),
            st.sampled_from(["AM", "PM"]),
            st.sampled_from(CATEGORIES),
        ),
        max_size=12,
    ),
    as_of=st.sampled_from(SCHOOL_DAYS.to_list()[1:]),
)
def test_only_the_events_before_the_as_of_date_make_the_weeks(
    events: list[tuple[dt.date, str, str]], as_of: dt.date
) -> None:
    every = absences([("P1", *e) for e in events])
    earlier = every.filter(pl.col("date") < as_of)
    marks = late_arrivals([("P1", d) for d, _, _ in events])
    visits = sick_bay_visits([("P1", d) for d, _, _ in events])
    seen = weeks((every, marks, visits), as_of)
    assert_frame_equal(
        seen,
        weeks((earlier, marks.filter(pl.col("date") < as_of), visits), as_of),
    )
    assert seen["week_start"].max() <= as_of  # type: ignore[operator]


def test_a_week_is_counted_up_to_the_day_before_an_as_of_date_inside_it() -> None:
    p1 = weeks(as_of=D(2024, 11, 13)).filter(pl.col("student_key") == "P1")  # a Wednesday
    last = p1.row(-1, named=True)
    assert last["week_start"] == D(2024, 11, 11)
    assert (last["school_days"], last["half_days"]) == (1, 2)  # Tuesday only
    assert (last["unexcused_halves"], last["late_arrivals"]) == (1, 1)


def test_after_a_holiday_the_last_week_is_the_holiday_and_on_the_first_day_there_is_none() -> None:
    after_autumn = weeks(as_of=D(2024, 11, 4)).filter(pl.col("student_key") == "P2")
    assert after_autumn.row(-1, named=True)["week_start"] == D(2024, 10, 28)
    assert after_autumn.row(-1, named=True)["school_days"] == 0
    first_day = weeks(as_of=D(2024, 9, 2))
    assert first_day.height == 0 and first_day.schema == WEEK_SCHEMA


def test_a_school_s_own_calendar_gives_its_pupils_weeks() -> None:
    # School S2 teaches in the autumn holiday week.
    own = pl.DataFrame(
        {
            "school_id": "S2",
            "date": [D(2024, 10, 28) + dt.timedelta(days=i) for i in range(5)],
            "school_day": True,
            "periods": 2,
            "holiday": None,
            "school_year": 2024,
        },
        schema=CALENDAR.schema,
    )
    keys = pl.DataFrame({"student_key": ["P1", "P2"], "school_id": ["S1", "S2"]})
    table = weeks(keys=keys, calendar=pl.concat([CALENDAR, own]))
    autumn = table.filter(pl.col("week_start") == D(2024, 10, 28))
    assert autumn.select("student_key", "school_days").rows() == [("P1", 0), ("P2", 5)]
