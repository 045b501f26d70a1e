"""Patterns in the absences: Mondays, the day after a break, the first period, one weekday.

Each pattern is measured against what the calendar would give by chance, so a pupil who is
simply absent a lot does not score on it.
"""

from __future__ import annotations

import polars as pl

from features.windows import share, total

MIN_DAYS_FOR_PATTERN = 3  # fewer absent days than this is no pattern


def day_counts() -> list[pl.Expr]:
    """Day-level flags these features count, from the pupil-day frame: absent after a break,
    after a holiday, in the morning, and on each weekday (1 is Monday)."""
    absent = pl.col("absent_day")
    return [
        (absent & pl.col("after_break")).alias("absent_after_break"),
        (absent & pl.col("after_holiday")).alias("absent_after_holiday"),
        (absent & pl.col("am_absent")).alias("absent_am"),
        *[(absent & (pl.col("weekday") == d)).alias(f"absent_wd{d}") for d in range(1, 6)],
    ]


def aggregates() -> list[pl.Expr]:
    """Per-pupil counts these features need."""
    return [
        total("absent_day", "ytd").alias("n_absent_days_ytd"),
        total("absent_wd1", "ytd").alias("n_absent_mondays_ytd"),
        total("absent_after_break", "ytd").alias("n_absent_after_break_ytd"),
        total("absent_after_holiday", "ytd").alias("n_absent_after_holiday_ytd"),
        total("absent_am", "ytd").alias("n_absent_am_ytd"),
        *[total(f"absent_wd{d}", "ytd").alias(f"n_absent_wd{d}_ytd") for d in range(1, 6)],
    ]


def _enough() -> pl.Expr:
    return pl.col("n_absent_days_ytd") >= MIN_DAYS_FOR_PATTERN


def monday_excess_ytd() -> pl.Expr:
    """Share of absent days that fell on a Monday, minus the share of school days that are Mondays."""
    observed = share(pl.col("n_absent_mondays_ytd"), pl.col("n_absent_days_ytd"))
    expected = share(pl.col("mondays_ytd"), pl.col("days_ytd"))
    return pl.when(_enough()).then(observed - expected).otherwise(0.0).alias("monday_excess_ytd")


def after_break_excess_ytd() -> pl.Expr:
    """Absence on the first school day after a weekend or holiday, against the other days."""
    after = share(pl.col("n_absent_after_break_ytd"), pl.col("after_break_days_ytd"))
    other = share(
        pl.col("n_absent_days_ytd") - pl.col("n_absent_after_break_ytd"),
        pl.col("days_ytd") - pl.col("after_break_days_ytd"),
    )
    return pl.when(_enough()).then(after - other).otherwise(0.0).alias("after_break_excess_ytd")


def after_holiday_absences_ytd() -> pl.Expr:
    """Absent days that were the first school day after a holiday or long weekend."""
    return pl.col("n_absent_after_holiday_ytd").alias("after_holiday_absences_ytd")


def first_period_excess_ytd() -> pl.Expr:
    """Share of absent days that include the first period (morning), minus the share expected."""
    observed = share(pl.col("n_absent_am_ytd"), pl.col("n_absent_days_ytd"))
    # A pupil absent on random half-days misses the morning on about this share of absent days.
    expected = share(pl.col("days_ytd"), pl.col("periods_ytd")).clip(upper_bound=1.0)
    return (
        pl.when(_enough()).then(observed - expected).otherwise(0.0).alias("first_period_excess_ytd")
    )


def weekday_concentration_ytd() -> pl.Expr:
    """How much the absent days pile up on one weekday: the largest weekday share minus 1/5."""
    shares = [
        share(pl.col(f"n_absent_wd{d}_ytd"), pl.col("n_absent_days_ytd")) for d in range(1, 6)
    ]
    return (
        pl.when(_enough())
        .then(pl.max_horizontal(shares) - 0.2)
        .otherwise(0.0)
        .alias("weekday_concentration_ytd")
    )
