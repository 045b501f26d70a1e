"""Transitions: the first year of secondary school, a new school, the start of the year."""

from __future__ import annotations

import polars as pl


def first_year_secondary() -> pl.Expr:
    """1 for a pupil in the first year of secondary school."""
    return (pl.col("grade") == 1).cast(pl.Int8)


def new_at_school() -> pl.Expr:
    """1 for a pupil in their first school year at this school."""
    return pl.col("new_at_school").cast(pl.Int8)


def school_weeks_into_year() -> pl.Expr:
    """School weeks of this school year before the as-of date's week."""
    return pl.col("weeks_into_year")
