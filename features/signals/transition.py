"""Transitions: the first year of secondary school, a new school, the start of the year."""

from __future__ import annotations

import polars as pl


def first_year_secondary() -> pl.Expr:
    """1 for a pupil in the first year of secondary school."""
    return (pl.col("grade") == 1).cast(pl.Int8).alias("first_year_secondary")


def new_at_school() -> pl.Expr:
    """1 for a pupil in their first school year at this school."""
    return pl.col("new_at_school").cast(pl.Int8).alias("new_at_school")


def school_weeks_into_year() -> pl.Expr:
    """School weeks since the school year began."""
    return pl.col("weeks_into_year").alias("school_weeks_into_year")
