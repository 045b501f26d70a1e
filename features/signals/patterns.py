"""Patterns in the absences: Mondays, the day after a break, the first period, one weekday.

Each pattern is measured against what the calendar would give by chance, so a pupil who is
simply absent a lot does not score on it.
"""

from __future__ import annotations

import polars as pl

from features.windows import count, share

MIN_DAYS_FOR_PATTERN = 3  # fewer absent days than this is no pattern
PRIOR_DAYS = 10
"""Absent days, spread evenly over the weekdays, that :func:`weekday_concentration_ytd` adds
to a pupil's own before it takes the largest weekday share."""
WEEKDAYS = range(1, 6)
"""School weekdays, 1 is Monday (polars' numbering)."""


def absent_on(weekday: int) -> str:
    """The day-level flag of :func:`day_counts` for an absent day on ``weekday``."""
    return f"absent_wd{weekday}"


def day_counts() -> list[pl.Expr]:
    """Day-level flags these features count, from the pupil-day frame: absent after a break,
    after a holiday, in the morning, and on each weekday (:func:`absent_on`)."""
    absent = pl.col("absent_day")
    return [
        (absent & pl.col("after_break")).alias("absent_after_break"),
        (absent & pl.col("after_holiday")).alias("absent_after_holiday"),
        (absent & pl.col("am_absent")).alias("absent_am"),
        *[(absent & (pl.col("weekday") == d)).alias(absent_on(d)) for d in WEEKDAYS],
    ]


def _absent_days() -> pl.Expr:
    return count("absent_day", "ytd")


def _patterned(excess: pl.Expr) -> pl.Expr:
    """``excess`` for pupils with enough absent days to speak of a pattern, else 0."""
    return pl.when(_absent_days() >= MIN_DAYS_FOR_PATTERN).then(excess).otherwise(0.0)


def monday_excess_ytd() -> pl.Expr:
    """Share of absent days that fell on a Monday, minus the share of school days that are Mondays."""
    observed = share(count(absent_on(1), "ytd"), _absent_days())
    expected = share(pl.col("mondays_ytd"), pl.col("days_ytd"))
    return _patterned(observed - expected)


def after_break_excess_ytd() -> pl.Expr:
    """Absence on the first school day after a weekend or holiday, against the other days."""
    after_break = count("absent_after_break", "ytd")
    after = share(after_break, pl.col("after_break_days_ytd"))
    other = share(_absent_days() - after_break, pl.col("days_ytd") - pl.col("after_break_days_ytd"))
    return _patterned(after - other)


def after_holiday_absences_ytd() -> pl.Expr:
    """Absent days that were the first school day after a holiday or long weekend."""
    return count("absent_after_holiday", "ytd")


def first_period_excess_ytd() -> pl.Expr:
    """Share of absent days that include the first period (morning), minus the share expected."""
    observed = share(count("absent_am", "ytd"), _absent_days())
    # A pupil absent on random half-days misses the morning on about this share of absent days.
    expected = share(pl.col("days_ytd"), pl.col("periods_ytd")).clip(upper_bound=1.0)
    return _patterned(observed - expected)


def weekday_concentration_ytd() -> pl.Expr:
    """How much the absent days pile up on one weekday: the largest weekday share minus 1/5,
    the shares taken after adding :data:`PRIOR_DAYS` absent days spread evenly over the week.

    The largest of five shares is above 1/5 by chance alone, and the more so the fewer the
    days: 3 days spread at random give about +0.32 on average, 40 days about +0.09, so a
    pupil absent 3 days looked more "concentrated" than one absent 40. The even prior
    shrinks few days toward 0 (3 days on one weekday: (3 + 2) / 13 - 1/5 = +0.18) and
    leaves the chance level between +0.07 and +0.09 from 3 to 40 days.
    """
    days = _absent_days()
    even = PRIOR_DAYS / len(WEEKDAYS)
    shares = [
        (count(absent_on(d), "ytd") + even).cast(pl.Float64) / (days + PRIOR_DAYS) for d in WEEKDAYS
    ]
    return _patterned(pl.max_horizontal(shares) - 1 / len(WEEKDAYS))
