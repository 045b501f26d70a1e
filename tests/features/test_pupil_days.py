"""The pupil-day frame: absences, late arrivals and sick-bay visits side by side per pupil and day.

Tiny literal canonical tables (the columns ``pupil_days`` reads) in the school week after the
autumn break of 2024-25: Monday 4 to Friday 8 November. At school S1 (the built-in Flemish
calendar) Wednesday 6 November has no afternoon; school S2 has its own calendar with a full
Wednesday.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
import pytest

from features.canonical.codes import builtin_profile
from features.canonical.pseudonym import pseudonym
from features.canonical.tables import IngestOptions, canonicalise
from features.pupil_days import (
    COUNT_COLUMNS,
    FLAG_COLUMNS,
    START_OF_DAY_LATE_BEFORE,
    pupil_days,
)
from tests.conftest import raw_tables
from tests.features.builders import ABSENCES, LATE_ARRIVALS, SICK_BAY_VISITS

MON, TUE, WED, THU, FRI = (dt.date(2024, 11, d) for d in range(4, 9))

DAYS = pl.LazyFrame(
    {
        "school_id": ["S1"] * 5 + ["S2"],
        "date": [MON, TUE, WED, THU, FRI, WED],
        "periods": [2, 2, 1, 2, 2, 2],
        "day_index": [223, 224, 225, 226, 227, 225],
        "after_break": [True, False, False, False, False, False],
        "after_holiday": [True, False, False, False, False, False],
    },
    schema_overrides={"periods": pl.Int32, "day_index": pl.Int32},
)
"""What :func:`features.school.schooldays.school_days` gives for these days (S1's values are
the built-in calendar's: day 223 since 1 September 2023, the first school day after the
autumn break)."""

DERIVED = (
    "absent_day",
    "full_day",
    "partial_day",
    "illness_day",
    "note_day",
    "b_day",
    "b_full_day",
)


def built(
    absences: Sequence[tuple[Any, ...]] = (),
    late: Sequence[tuple[Any, ...]] = (),
    bay: Sequence[tuple[Any, ...]] = (),
) -> pl.DataFrame:
    """The pupil-day frame of literal rows (one tuple per row, in the schema's column order),
    sorted by pupil and date."""
    return (
        pupil_days(
            pl.LazyFrame(list(absences), schema=ABSENCES, orient="row"),
            pl.LazyFrame(list(late), schema=LATE_ARRIVALS, orient="row"),
            pl.LazyFrame(list(bay), schema=SICK_BAY_VISITS, orient="row"),
            DAYS,
        )
        .collect()
        .sort("student_key", "date")
    )


def recorded(**values: int | bool) -> dict[str, int | bool]:
    """One pupil-day's counts and flags: the named ones, every other count 0 and flag false."""
    counts = {c: 0 for c in COUNT_COLUMNS}
    flags = dict.fromkeys((*FLAG_COLUMNS, *DERIVED), False)
    return counts | flags | values


def counts_and_flags(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.select(*COUNT_COLUMNS, *FLAG_COLUMNS, *DERIVED).to_dicts()


def test_one_row_per_pupil_and_day_with_anything_recorded_and_its_columns() -> None:
    frame = built(
        absences=[("a", "S1", MON, "AM", "unexcused")],
        late=[("b", "S1", TUE, "08:40", 5)],
        bay=[("a", "S1", MON, "back_to_class")],
    )
    assert frame.select("student_key", "date", "school_id").rows() == [
        ("a", MON, "S1"),
        ("b", TUE, "S1"),
    ]
    assert frame.columns == [
        "student_key",
        "date",
        "school_id",
        *COUNT_COLUMNS,
        *FLAG_COLUMNS,
        "periods",
        "day_index",
        "after_break",
        "after_holiday",
        "weekday",
        *DERIVED,
    ]
    assert frame.schema["absent_halves"] == pl.Int32
    assert frame.schema["weekday"] == pl.Int8


def test_nothing_recorded_gives_no_rows() -> None:
    assert built().height == 0


ABSENCE_CASES = {
    # (absence rows of pupil a at S1 on one day: (date, half, category), expected)
    "a whole day on a parent's note": (
        [(TUE, "AM", "illness_parent_note"), (TUE, "PM", "illness_parent_note")],
        recorded(
            absent_halves=2,
            illness_halves=2,
            note_halves=2,
            am_absent=True,
            absent_day=True,
            full_day=True,
            illness_day=True,
            note_day=True,
        ),
    ),
    "three B-coded lessons of one morning are one half-day": (
        [(TUE, "AM", "unexcused")] * 3,
        recorded(
            absent_halves=1,
            b_halves=1,
            am_absent=True,
            absent_day=True,
            partial_day=True,
            b_day=True,
        ),
    ),
    "a whole day of B-codes": (
        [(TUE, "AM", "unexcused"), (TUE, "PM", "unexcused")],
        recorded(
            absent_halves=2,
            b_halves=2,
            am_absent=True,
            absent_day=True,
            full_day=True,
            b_day=True,
            b_full_day=True,
        ),
    ),
    "an afternoon with a doctor's certificate": (
        [(TUE, "PM", "illness_certified")],
        recorded(
            absent_halves=1,
            illness_halves=1,
            certified_halves=1,
            absent_day=True,
            partial_day=True,
            illness_day=True,
        ),
    ),
    "an afternoon ill, not said how": (
        [(TUE, "PM", "illness")],
        recorded(
            absent_halves=1, illness_halves=1, absent_day=True, partial_day=True, illness_day=True
        ),
    ),
    "a day excluded": (
        [(TUE, "AM", "exclusion"), (TUE, "PM", "exclusion")],
        recorded(
            absent_halves=2, exclusion_halves=2, am_absent=True, absent_day=True, full_day=True
        ),
    ),
    "a morning excused for another reason": (
        [(TUE, "AM", "excused_other")],
        recorded(absent_halves=1, am_absent=True, absent_day=True, partial_day=True),
    ),
    "a B-code and a parent's note in lessons of one morning": (
        [(TUE, "AM", "unexcused"), (TUE, "AM", "illness_parent_note")],
        recorded(
            absent_halves=1,
            b_halves=1,
            illness_halves=1,
            note_halves=1,
            am_absent=True,
            absent_day=True,
            partial_day=True,
            illness_day=True,
            note_day=True,
            b_day=True,
        ),
    ),
    "leaving early is a partial day, not an absent half-day": (
        [(TUE, "PM", "early_departure")],
        recorded(early_departure=True, partial_day=True),
    ),
    "a Wednesday morning is the whole day": (
        [(WED, "AM", "unexcused")],
        recorded(
            absent_halves=1,
            b_halves=1,
            am_absent=True,
            absent_day=True,
            full_day=True,
            b_day=True,
            b_full_day=True,
        ),
    ),
    "present, or away on a school activity, is no absence": (
        [(TUE, "AM", "present"), (TUE, "PM", "school_activity")],
        recorded(),
    ),
}


@pytest.mark.parametrize(
    ("rows", "expected"), list(ABSENCE_CASES.values()), ids=list(ABSENCE_CASES)
)
def test_absent_half_days_by_kind_and_the_day_flags(
    rows: list[tuple[dt.date, str, str]], expected: dict[str, Any]
) -> None:
    frame = built(absences=[("a", "S1", date, half, cat) for date, half, cat in rows])
    assert counts_and_flags(frame) == [expected]


def test_late_arrivals_count_their_minutes_and_those_before_ten_start_the_day_late() -> None:
    assert START_OF_DAY_LATE_BEFORE == "10:00"
    frame = built(
        late=[
            ("a", "S1", TUE, "08:35", 5),
            ("a", "S1", TUE, "09:59", None),  # minutes not recorded: 0
            ("a", "S1", TUE, "10:00", 10),  # at ten: late for a lesson, not for the day
            ("a", "S1", TUE, None, 3),  # time not recorded: counted as the start of the day
            ("a", "S1", THU, "13:40", 20),
        ]
    )
    assert counts_and_flags(frame) == [
        recorded(late_count=4, late_minutes=18, late_start_of_day=3),
        recorded(late_count=1, late_minutes=20, late_start_of_day=0),
    ]


def test_sick_bay_visits_count_those_that_sent_the_pupil_home_and_that_is_a_partial_day() -> None:
    frame = built(
        bay=[
            ("a", "S1", TUE, "sent_home"),
            ("a", "S1", TUE, "parents_called"),
            ("a", "S1", TUE, "back_to_class"),
            ("a", "S1", TUE, "other"),
            ("a", "S1", TUE, None),
            ("b", "S1", TUE, "back_to_class"),
        ]
    )
    assert counts_and_flags(frame) == [
        recorded(sick_bay_count=5, sick_bay_home=2, partial_day=True),
        recorded(sick_bay_count=1, sick_bay_home=0),
    ]


def test_what_one_pupil_has_recorded_on_one_day_is_one_row() -> None:
    frame = built(
        absences=[("a", "S1", TUE, "PM", "illness_parent_note")],
        late=[("a", "S1", TUE, "08:40", 5), ("a", "S1", WED, "08:45", 15)],
        bay=[("a", "S1", TUE, "sent_home"), ("b", "S1", TUE, "back_to_class")],
    )
    assert frame.select("student_key", "date").rows() == [("a", TUE), ("a", WED), ("b", TUE)]
    assert counts_and_flags(frame) == [
        recorded(
            absent_halves=1,
            illness_halves=1,
            note_halves=1,
            late_count=1,
            late_minutes=5,
            late_start_of_day=1,
            sick_bay_count=1,
            sick_bay_home=1,
            absent_day=True,
            partial_day=True,
            illness_day=True,
            note_day=True,
        ),
        recorded(late_count=1, late_minutes=15, late_start_of_day=1),
        recorded(sick_bay_count=1),
    ]


def test_each_day_takes_its_weekday_and_the_calendar_of_the_pupils_own_school() -> None:
    late = [("a", "S1", day, "08:40", 5) for day in (MON, TUE, WED, THU, FRI)]
    frame = built(
        absences=[("b", "S2", WED, "AM", "unexcused")],
        late=[*late, ("c", "S2", WED, "08:40", 5)],  # the school from the late arrivals alone
    )
    calendar = ["school_id", "weekday", "periods", "day_index", "after_break", "after_holiday"]
    assert frame.select(calendar).rows() == [
        ("S1", 1, 2, 223, True, True),
        ("S1", 2, 2, 224, False, False),
        ("S1", 3, 1, 225, False, False),
        ("S1", 4, 2, 226, False, False),
        ("S1", 5, 2, 227, False, False),
        ("S2", 3, 2, 225, False, False),
        ("S2", 3, 2, 225, False, False),
    ]
    # a Wednesday morning misses all of S1's Wednesday but half of S2's
    b = frame.filter(pl.col("student_key") == "b")
    assert b.select("full_day", "partial_day", "b_full_day").row(0) == (False, True, False)


KEY = bytes(range(32))
EXPORT = {
    "enrolments.csv": "student_id;school_id;grade;start_date;class_id;end_date\nP1;S1;1;2024-09-02;1A;\n",
    "absences.csv": (
        "student_id;date;period;code;minutes\n"
        "P1;2024-11-05;1;B;50\nP1;2024-11-05;2;B;50\nP1;2024-11-05;6;Z;50\n"
        "P1;2024-11-06;AM;Z;\n"
        "P1;2024-11-07;1;L;10\n"
    ),
    "late_arrivals.csv": "student_id;date;time;minutes_late\n",
    "sick_bay_visits.csv": "student_id;date;time;minutes;outcome\n",
}


def test_from_an_export_lessons_make_half_days_and_a_late_code_is_late_for_the_day() -> None:
    # Lessons 1-4 are the morning; L in the absences is a late arrival without a time.
    result = canonicalise(
        raw_tables(EXPORT), IngestOptions(profile=builtin_profile("flanders"), key=KEY)
    )
    assert all(r.quarantined == 0 for r in result.reconciliation), result.quarantine
    t = result.tables
    days = DAYS.filter(pl.col("school_id") == "S1")
    frame = (
        pupil_days(
            t["absences"].lazy(), t["late_arrivals"].lazy(), t["sick_bay_visits"].lazy(), days
        )
        .collect()
        .sort("date")
    )
    assert frame["student_key"].unique().to_list() == [pseudonym(KEY, "P1")]
    assert frame["date"].to_list() == [TUE, WED, THU]
    assert counts_and_flags(frame) == [
        recorded(
            absent_halves=2,
            b_halves=1,
            illness_halves=1,
            note_halves=1,
            am_absent=True,
            absent_day=True,
            full_day=True,
            illness_day=True,
            note_day=True,
            b_day=True,
        ),
        recorded(
            absent_halves=1,
            illness_halves=1,
            note_halves=1,
            am_absent=True,
            absent_day=True,
            full_day=True,
            illness_day=True,
            note_day=True,
        ),
        recorded(late_count=1, late_minutes=10, late_start_of_day=1),
    ]
