"""School days per school, school weeks, as-of dates and the windows that hang off them.

Windows are counted in *school weeks*: a week with at least one school day. Holidays are not
weeks, so "the last 4 weeks" on the Monday after the autumn holiday means the 4 weeks of
school before it. Rates divide by registrable periods (half-days) in the window, and only
those the pupil was enrolled for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

WEEK_WINDOWS = (1, 2, 4, 8, 12)
"""School-week windows used by the features (12: the Dutch M@ZL rule's horizon)."""

SLOPE_WEEKS = 8


def calendar_lookup(keys: pl.LazyFrame, calendar: pl.LazyFrame) -> pl.LazyFrame:
    """The calendar's say on each ``(school_id, date)`` of ``keys``, in their order.

    The one rule for a school's calendar: the school's own row for a date (``school_id``
    set) wins over the row for all schools (``school_id`` null). Returns ``keys`` with
    ``in_calendar`` (the calendar lists the date for the school), ``school_day``, ``periods``
    and ``school_year`` (those of them the calendar has), null where the calendar is silent.
    """
    names = calendar.collect_schema().names()
    values = [c for c in _CALENDAR_VALUES if c in names]
    own = calendar.filter(pl.col("school_id").is_not_null()).select(
        "school_id", "date", *[pl.col(c).alias(f"_own_{c}") for c in values]
    )
    every = calendar.filter(pl.col("school_id").is_null()).select(
        "date", *[pl.col(c).alias(f"_all_{c}") for c in values]
    )
    return (
        keys.join(own, on=["school_id", "date"], how="left", maintain_order="left")
        .join(every, on="date", how="left", maintain_order="left")
        .with_columns([pl.coalesce(f"_own_{c}", f"_all_{c}").alias(c) for c in values])
        .with_columns(in_calendar=pl.col("school_day").is_not_null())
        .drop([f"_{side}_{c}" for side in ("own", "all") for c in values])
    )


_CALENDAR_VALUES = ("school_day", "periods", "school_year")


def school_days(calendar: pl.LazyFrame, schools: pl.LazyFrame) -> pl.LazyFrame:
    """Each school's own calendar with running indices.

    Parameters
    ----------
    calendar
        Canonical calendar: rows with a ``school_id`` override the all-schools rows (null
        ``school_id``) for that school.
    schools
        One column ``school_id``: the schools to resolve.

    Returns
    -------
    polars.LazyFrame
        ``school_id, date, school_day, periods, school_year, week_start, after_break,
        after_holiday, day_index, cum_periods, cum_days, cum_after_break, cum_mondays`` where the
        ``cum_*`` columns count what lies strictly before ``date`` (so a window [a, b) has
        ``cum(b) - cum(a)``), and ``day_index`` numbers school days (null on other days).
    """
    # Every date from the calendar's first to its last, per school: a date the calendar does
    # not list is a day without school. Window edges (Mondays) and as-of dates then always
    # have a row, so no running count is ever looked up on a missing date.
    bounds = calendar.select(pl.col("date").min().alias("lo"), pl.col("date").max().alias("hi"))
    every_day = (
        schools.join(bounds, how="cross")
        .select("school_id", pl.date_ranges("lo", "hi").alias("date"))
        .explode("date")
    )
    resolved = (
        calendar_lookup(every_day, calendar)
        .with_columns(
            pl.col("school_day").fill_null(False),
            pl.col("periods").fill_null(0).cast(pl.Int32),
            pl.col("school_year").fill_null(strategy="forward").over("school_id"),
        )
        .drop("in_calendar")
        .sort("school_id", "date")
    )
    is_day = pl.col("school_day")
    prev_school_date = (
        pl.when(is_day).then(pl.col("date")).forward_fill().shift(1).over("school_id")
    )
    days_since_last = (pl.col("date") - prev_school_date).dt.total_days()
    return resolved.with_columns(
        week_start=pl.col("date").dt.truncate("1w"),
        after_break=is_day & (days_since_last > 1).fill_null(True),
        # a break of 3 or more days without school beyond the weekend: a holiday or long weekend
        after_holiday=is_day & (days_since_last > 3).fill_null(True),
    ).with_columns(
        day_index=pl.when(is_day).then(is_day.cast(pl.Int32).cum_sum().over("school_id")),
        cum_periods=_cum_before(pl.col("periods")),
        cum_days=_cum_before(is_day.cast(pl.Int32)),
        cum_after_break=_cum_before(pl.col("after_break").cast(pl.Int32)),
        cum_mondays=_cum_before((is_day & (pl.col("date").dt.weekday() == 1)).cast(pl.Int32)),
    )


def _cum_before(expr: pl.Expr) -> pl.Expr:
    return (expr.cum_sum() - expr).over("school_id")


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s calendar week."""
    return day - dt.timedelta(days=day.weekday())


def calendar_weeks(start: dt.date, end: dt.date) -> list[dt.date]:
    """The Monday of every calendar week from ``start``'s week to ``end``'s, holidays included."""
    first, last = week_of(start), week_of(end)
    return [first + dt.timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


class OutsideCalendarError(ValueError):
    """A date the calendar does not reach: its windows cannot be counted."""


@dataclass(frozen=True)
class SchoolWeeks:
    """Asked dates resolved to school weeks (:func:`school_weeks`)."""

    dates: list[dt.date]
    """The first school day of each asked school week, once each, in order: the as-of dates."""
    moved: list[tuple[dt.date, dt.date]]
    """``(asked, first school day)`` for an asked date after its week's first school day."""
    holidays: list[dt.date]
    """The Monday of each asked week without a school day at any school (holidays)."""
    outside: list[dt.date]
    """Asked dates in a week the calendar does not reach."""


def school_weeks(days: pl.DataFrame, asked: Iterable[dt.date]) -> SchoolWeeks:
    """The one rule for as-of dates: a list, and a feature table, belongs to a *school week*.

    A date inside a week stands for that week's first school day (at any school: a week
    counts when any school teaches), the date whose events-before make the week's features.
    A week without a school day (a holiday) has no as-of date. ``days`` is
    :func:`school_days`, collected.
    """
    firsts = dict(
        days.filter(pl.col("school_day"))
        .group_by("week_start")
        .agg(pl.col("date").min())
        .iter_rows()
    )
    lo, hi = days["date"].min(), days["date"].max()
    dates: list[dt.date] = []
    moved, holidays, outside = [], [], []
    for day in asked:
        first = firsts.get(week_of(day))
        if first is not None:
            if first not in dates:
                dates.append(first)
            if day > first:
                moved.append((day, first))
        elif lo is None or not lo <= day <= hi:  # type: ignore[operator]
            outside.append(day)
        else:
            holidays.append(week_of(day))
    return SchoolWeeks(sorted(dates), moved, sorted(set(holidays)), outside)


def first_school_days(days: pl.DataFrame) -> list[dt.date]:
    """The first school day of every school week in ``days`` (:func:`school_days`), in order."""
    return school_weeks(days, days["week_start"].unique().sort()).dates


def weeks_into_year(days: pl.DataFrame, as_of: dt.date) -> int:
    """School weeks of ``as_of``'s school year (at any school) before ``as_of``'s week."""
    year = days.filter(pl.col("date") <= as_of).sort("date")["school_year"].tail(1)
    return days.filter(
        pl.col("school_day")
        & pl.col("school_year").is_in(year.implode())
        & (pl.col("week_start") < week_of(as_of))
    )["week_start"].n_unique()


def as_of_dates(days: pl.DataFrame, start: dt.date, end: dt.date) -> list[dt.date]:
    """The first school day of every school week from ``start``'s week to ``end``'s
    (Mondays, mostly): :func:`school_weeks` of the range."""
    return school_weeks(days, calendar_weeks(start, end)).dates


def windows(days: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Per school, the first day of each window that ends just before ``as_of``.

    Returns ``school_id, start_1w .. start_12w, wk_1 .. wk_8, start_ytd, start_prev`` where
    ``start_Nw`` is the Monday of the N-th school week before the week of ``as_of``,
    ``wk_j`` the Monday of the j-th school week back (``wk_1`` the last one), ``start_ytd``
    the first day of the current school year and ``start_prev`` that of the previous one.
    """
    week_of = pl.lit(as_of).dt.truncate("1w")
    weeks = (
        days.filter(pl.col("school_day") & (pl.col("week_start") < week_of))
        .select("school_id", "week_start")
        .unique()
        .sort("school_id", "week_start", descending=[False, True])
        .group_by("school_id", maintain_order=True)
        .agg(pl.col("week_start").head(max(WEEK_WINDOWS)).alias("weeks"))
    )
    year = (
        days.filter(pl.col("date") <= as_of)
        .group_by("school_id")
        .agg(pl.col("school_year").sort_by("date").last().alias("year"))
    )
    year_starts = (
        days.filter(pl.col("school_day"))
        .group_by("school_id", "school_year")
        .agg(pl.col("date").min().alias("first"))
    )
    as_of_day = pl.lit(as_of)
    return (
        weeks.join(year, on="school_id", how="full", coalesce=True)
        .join(
            year_starts.rename({"school_year": "year", "first": "start_ytd"}),
            on=["school_id", "year"],
            how="left",
        )
        .join(
            year_starts.with_columns(pl.col("school_year") + 1).rename(
                {"school_year": "year", "first": "start_prev"}
            ),
            on=["school_id", "year"],
            how="left",
        )
        .with_columns(
            [
                pl.col("weeks")
                .list.get(n - 1, null_on_oob=True)
                .fill_null(pl.col("weeks").list.last())
                .fill_null(as_of_day)
                .alias(f"start_{n}w")
                for n in WEEK_WINDOWS
            ]
            + [
                pl.col("weeks").list.get(j - 1, null_on_oob=True).alias(f"wk_{j}")
                for j in range(1, SLOPE_WEEKS + 1)
            ]
        )
        .with_columns(
            start_ytd=pl.coalesce("start_ytd", as_of_day).clip(upper_bound=as_of_day),
            start_prev=pl.coalesce("start_prev", "start_ytd", as_of_day),
        )
        .drop("weeks", "year")
        .select("school_id", pl.all().exclude("school_id"))
    )
