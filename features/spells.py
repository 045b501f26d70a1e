"""Spells: runs of consecutive school days (weekends and holidays do not break a run)."""

from __future__ import annotations

import polars as pl

SPELL_FLAGS = {
    "full": "full_day",
    "b": "b_full_day",
    "illness": "illness_day",
    "note": "note_day",
}
"""Which day flag each kind of spell follows."""


def runs(pupil_days: pl.LazyFrame, flag: str) -> pl.LazyFrame:
    """Each run of consecutive school days on which ``flag`` holds.

    Returns ``student_key, first_date, last_index, length`` per run. Consecutive means
    consecutive school-day indices at the pupil's school.
    """
    key, index = pl.col("student_key"), pl.col("day_index")
    # One sort, then a run id that grows at every break (another pupil, or a gap in school
    # days): grouping on an integer is far cheaper than a window over the string key.
    breaks = (key != key.shift(1)).fill_null(True) | (index != index.shift(1) + 1).fill_null(True)
    return (
        pupil_days.filter(pl.col(flag) & index.is_not_null())
        .select("student_key", "date", "day_index")
        .sort("student_key", "date")
        .with_columns(run=breaks.cum_sum())
        .group_by("run")
        .agg(
            key.first(),
            pl.col("date").min().alias("first_date"),
            index.max().alias("last_index"),
            pl.len().cast(pl.Int32).alias("length"),
        )
        .drop("run")
    )


def spell_aggregates(pupil_days: pl.LazyFrame) -> pl.LazyFrame:
    """Per pupil: spell counts and lengths this school year, keyed by ``student_key``.

    ``pupil_days`` must already carry the pupil's window columns (``start_ytd``,
    ``start_12w``) and ``last_school_index`` (the index of the last school day before the
    as-of date at the pupil's school).
    """
    ytd = pupil_days.filter(pl.col("date") >= pl.col("start_ytd"))
    starts = pupil_days.select("student_key", "start_12w", "last_school_index").unique(
        "student_key"
    )
    frames = []
    for kind, flag in SPELL_FLAGS.items():
        frames.append(
            runs(ytd, flag)
            .join(starts, on="student_key", how="left")
            .group_by("student_key")
            .agg(
                pl.col("length").max().alias(f"s_{kind}_longest"),
                pl.len().cast(pl.Int32).alias(f"s_{kind}_count"),
                (pl.col("first_date") >= pl.col("start_12w"))
                .sum()
                .cast(pl.Int32)
                .alias(f"s_{kind}_started_12w"),
                pl.col("length")
                .filter(pl.col("last_index") == pl.col("last_school_index"))
                .max()
                .alias(f"s_{kind}_current"),
            )
        )
    out = frames[0]
    for frame in frames[1:]:
        out = out.join(frame, on="student_key", how="full", coalesce=True)
    return out


def longest_spell_ytd() -> pl.Expr:
    """Longest run of consecutive whole school days absent this school year."""
    return pl.col("s_full_longest").alias("longest_spell_ytd")


def spells_ytd() -> pl.Expr:
    """Number of separate runs of whole days absent this school year."""
    return pl.col("s_full_count").alias("spells_ytd")


def current_spell_days() -> pl.Expr:
    """Whole school days absent in a row up to the last school day before the as-of date."""
    return pl.col("s_full_current").alias("current_spell_days")


def b_longest_spell_ytd() -> pl.Expr:
    """Longest run of consecutive whole school days with B-codes this school year."""
    return pl.col("s_b_longest").alias("b_longest_spell_ytd")


def illness_longest_spell_ytd() -> pl.Expr:
    """Longest run of consecutive school days ill this school year (M@ZL: 7 or more)."""
    return pl.col("s_illness_longest").alias("illness_longest_spell_ytd")


def illness_reports_12w() -> pl.Expr:
    """Separate illness spells that began in the last 12 school weeks (M@ZL: the 4th one)."""
    return pl.col("s_illness_started_12w").alias("illness_reports_12w")


def parent_note_spells_ytd() -> pl.Expr:
    """Separate spells of illness on a parent's note this school year (at most 4 are allowed)."""
    return pl.col("s_note_count").alias("parent_note_spells_ytd")
