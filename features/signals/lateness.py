"""Late arrivals: who knows the school secretariat well as a late-comer."""

from __future__ import annotations

import polars as pl

from features.windows import share, total


def aggregates() -> list[pl.Expr]:
    """Per-pupil counts these features need."""
    return [
        total("late_count", "4w").alias("n_late_4w"),
        total("late_count", "ytd").alias("n_late_ytd"),
        total("late_minutes", "4w").alias("n_late_minutes_4w"),
        total("late_start_of_day", "ytd").alias("n_late_start_ytd"),
    ]


def late_arrivals(window: str) -> pl.Expr:
    """Late arrivals in the window."""
    return pl.col(f"n_late_{window}").alias(f"late_arrivals_{window}")


def late_minutes_4w() -> pl.Expr:
    """Minutes late, added up, over the last 4 school weeks."""
    return pl.col("n_late_minutes_4w").alias("late_minutes_4w")


def late_start_of_day_share_ytd() -> pl.Expr:
    """Share of this year's late arrivals at the start of the school day (before 10:00)."""
    return share(pl.col("n_late_start_ytd"), pl.col("n_late_ytd")).alias(
        "late_start_of_day_share_ytd"
    )
