"""A few pupils' school year so far, week by week: what their picture on the care team's list shows.

One row per pupil and calendar week of the as-of date's school year, from the week of the
year's first school day to the last week before the as-of date, holidays included (a week
without school days has ``school_days`` 0, so a picture can show the gap rather than draw
across it). Only events strictly before the as-of date count.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from features.canonical.codes import ABSENT_CATEGORIES
from features.canonical.tables import SEVERITY
from features.pupil_days import late_days, sick_bay_days
from features.school.schooldays import school_days

ABSENCE_GROUPS: dict[str, tuple[str, ...]] = {
    "parent_note": ("illness_parent_note",),
    # An illness the code does not say how it was justified sits with the certified ones.
    "certificate": ("illness_certified", "illness"),
    "unexcused": ("unexcused",),
}
"""The absence groups a picture shows by name; every other absent category is ``other``."""

OTHER_GROUP = "other"
GROUPS = (*ABSENCE_GROUPS, OTHER_GROUP)

_COUNTED = tuple(c for c in ABSENT_CATEGORIES if c != "early_departure")
"""Categories that make an absent half-day (leaving early makes a partial day, as in
:func:`features.pupil_days.absence_days`)."""

GROUP_OF: dict[str, str] = {
    category: next((g for g, cs in ABSENCE_GROUPS.items() if category in cs), OTHER_GROUP)
    for category in _COUNTED
}
"""Each category of an absent half-day -> its group."""

HALF_COLUMNS = tuple(f"{g}_halves" for g in GROUPS)
EVENT_COLUMNS = ("late_arrivals", "sick_bay_visits")

WEEK_SCHEMA = pl.Schema(
    {
        "student_key": pl.String(),
        "school_id": pl.String(),
        "week_start": pl.Date(),
        "school_days": pl.Int32(),
        "half_days": pl.Int32(),
        **{c: pl.Int32() for c in HALF_COLUMNS},
        **{c: pl.Int32() for c in EVENT_COLUMNS},
    }
)
"""The columns of :func:`pupil_weeks`."""


def year_weeks(calendar: pl.LazyFrame, schools: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Per school, every calendar week of ``as_of``'s school year before ``as_of``.

    Returns ``school_id, week_start, school_days, half_days``: the school days and registrable
    half-days of the week that lie before ``as_of`` (0 in a holiday week). The school year is
    the one the calendar gives ``as_of`` (the last day it lists, if it stops before); its weeks
    start at the week of its first school day, so on that day there are none.
    """
    days = school_days(calendar, schools).filter(pl.col("date") <= as_of)
    year = days.filter(pl.col("date") == pl.col("date").max().over("school_id")).select(
        "school_id", "school_year"
    )
    per_week = (
        days.filter(pl.col("date") < as_of)
        .join(year, on=["school_id", "school_year"], how="semi")
        .group_by("school_id", "week_start")
        .agg(
            pl.col("school_day").cast(pl.Int32).sum().alias("school_days"),
            pl.col("periods").filter("school_day").sum().cast(pl.Int32).alias("half_days"),
        )
    )
    first_week = pl.col("week_start").filter(pl.col("school_days") > 0).min().over("school_id")
    return per_week.filter(pl.col("week_start") >= first_week).sort("school_id", "week_start")


def _half_day_groups(absences: pl.LazyFrame) -> pl.LazyFrame:
    """Each absent half-day once, in the group of its most serious category.

    A half-day registered per lesson may have several codes; the most serious
    (:data:`~features.canonical.tables.SEVERITY`) decides, so the groups add up to the
    half-days absent.
    """
    severity = (
        pl.col("category")
        .cast(pl.String)
        .replace_strict({c: i for i, c in enumerate(SEVERITY)}, return_dtype=pl.Int32)
    )
    return (
        absences.filter(pl.col("category").cast(pl.String).is_in(_COUNTED))
        .group_by("student_key", "date", "half")
        .agg(pl.col("category").cast(pl.String).sort_by(severity).first())
        .select(
            "student_key",
            pl.col("date").dt.truncate("1w").alias("week_start"),
            pl.col("category").replace_strict(GROUP_OF).alias("group"),
        )
    )


def pupil_weeks(
    absences: pl.LazyFrame,
    late_arrivals: pl.LazyFrame,
    sick_bay_visits: pl.LazyFrame,
    calendar: pl.LazyFrame,
    keys: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """The school year so far of the pupils in ``keys``, week by week.

    Parameters
    ----------
    absences, late_arrivals, sick_bay_visits, calendar
        Canonical tables (see :data:`features.canonical.tables.CANONICAL_COLUMNS`); only the
        rows of the pupils in ``keys`` before ``as_of`` are read.
    keys
        ``student_key, school_id``: the pupils, each with the school whose calendar gives
        their weeks (the school of the list). A pupil's events at another school earlier in
        the year count in the calendar week they fall in.
    as_of
        The list's date: events on or after it are not counted, nor are its week's days
        from it on.

    Returns
    -------
    polars.DataFrame
        :data:`WEEK_SCHEMA`, one row per pupil and week of :func:`year_weeks`, sorted by
        pupil and week: ``school_days`` and ``half_days`` (registrable) of the week, absent
        half-days by group (:data:`ABSENCE_GROUPS`, then ``other_halves``), and the number of
        ``late_arrivals`` and ``sick_bay_visits``. A count with no events is 0.
    """
    pupils = keys.select("student_key", "school_id").unique().lazy()
    weeks = year_weeks(calendar, pupils.select("school_id").unique(), as_of)
    grid = pupils.join(weeks, on="school_id", how="inner")
    start = grid.select(pl.col("week_start").min()).collect().item()
    if start is None:  # before the calendar's first school day: no school week yet
        return pl.DataFrame(schema=WEEK_SCHEMA)
    wanted = keys["student_key"].unique().implode()

    def before(events: pl.LazyFrame) -> pl.LazyFrame:
        return events.filter(
            pl.col("student_key").is_in(wanted)
            & (pl.col("date") >= start)
            & (pl.col("date") < as_of)
        )

    halves = (
        _half_day_groups(before(absences))
        .group_by("student_key", "week_start")
        .agg((pl.col("group") == g).sum().cast(pl.Int32).alias(f"{g}_halves") for g in GROUPS)
    )
    late = _weekly(late_days(before(late_arrivals)), "late_count", "late_arrivals")
    visits = _weekly(sick_bay_days(before(sick_bay_visits)), "sick_bay_count", "sick_bay_visits")
    table = (
        grid.join(halves, on=["student_key", "week_start"], how="left")
        .join(late, on=["student_key", "week_start"], how="left")
        .join(visits, on=["student_key", "week_start"], how="left")
        .with_columns(pl.col(c).fill_null(0) for c in (*HALF_COLUMNS, *EVENT_COLUMNS))
        .select(WEEK_SCHEMA.names())
        .sort("student_key", "week_start")
    )
    return table.collect().cast(WEEK_SCHEMA)


def _weekly(per_day: pl.LazyFrame, count: str, name: str) -> pl.LazyFrame:
    """A pupil-day count of :mod:`features.pupil_days` summed per pupil and week."""
    return per_day.group_by(
        "student_key", pl.col("date").dt.truncate("1w").alias("week_start")
    ).agg(pl.col(count).sum().cast(pl.Int32).alias(name))
