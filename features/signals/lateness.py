"""Late arrivals: who knows the school secretariat well as a late-comer."""

from __future__ import annotations

import polars as pl

from features.windows import count, share


def late_arrivals(window: str) -> pl.Expr:
    """Late arrivals in the window."""
    return count("late_count", window)


def late_minutes_4w() -> pl.Expr:
    """Minutes late, added up, over the last 4 school weeks."""
    return count("late_minutes", "4w")


def late_start_of_day_share_ytd() -> pl.Expr:
    """Share of this year's late arrivals at the start of the school day (before 10:00)."""
    return share(count("late_start_of_day", "ytd"), count("late_count", "ytd"))
