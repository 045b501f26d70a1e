"""Spells: runs of consecutive school days (weekends and holidays do not break a run)."""

from __future__ import annotations

import datetime as dt

import polars as pl

SPELL_FLAGS = {
    "full": "full_day",
    "b": "b_full_day",
    "illness": "illness_day",
    "note": "note_day",
}
"""Which day flag each kind of spell follows."""


def runs(pupil_days: pl.LazyFrame, flag: str) -> pl.LazyFrame:
    """The days on which ``flag`` holds, each with ``run``: one number per run of consecutive
    school days.

    Returns ``pupil, date, day_index, run`` sorted by pupil and date. Consecutive means
    consecutive school-day indices at the school of the day.
    """
    key, index = pl.col("pupil"), pl.col("day_index")
    # One sort, then a run id that grows at every break (another pupil, or a gap in school
    # days): grouping on an integer is far cheaper than a window over the pupil.
    breaks = (key != key.shift(1)).fill_null(True) | (index != index.shift(1) + 1).fill_null(True)
    return (
        pupil_days.filter(pl.col(flag) & index.is_not_null())
        .select("pupil", "date", "day_index")
        .sort("pupil", "date")
        .with_columns(run=breaks.cum_sum())
    )


def spell_days(pupil_days: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """:func:`runs` of every kind of spell, over all the pupil-days, for all as-of dates.

    The days of a pupil in a span of dates are consecutive among their days, so the span cuts
    each run into at most one piece, and the runs in the span are these runs, cut.
    """
    return {kind: runs(pupil_days, flag) for kind, flag in SPELL_FLAGS.items()}


def _pieces(
    days: pl.LazyFrame, pupils: pl.LazyFrame, first: dt.date | None, as_of: dt.date
) -> pl.LazyFrame:
    """The runs of ``days`` cut to this school year before ``as_of``, one row each.

    ``first`` is the earliest ``start_ytd`` of any pupil: days before it are dropped before
    the join, which is all that they would survive.
    """
    return (
        days.filter(pl.col("date").is_between(first, as_of, closed="left"))
        .join(pupils, on="pupil", how="inner")
        .filter(pl.col("date") >= pl.col("start_ytd"))
        .group_by("run")
        .agg(
            pl.col("pupil").first(),
            pl.col("start_12w").first(),
            pl.col("last_school_index").first(),
            pl.col("date").min().alias("first_date"),
            pl.col("day_index").max().alias("last_index"),
            pl.len().cast(pl.Int32).alias("length"),
        )
    )


def spell_aggregates(
    days: dict[str, pl.DataFrame], pupils: pl.LazyFrame, first: dt.date | None, as_of: dt.date
) -> pl.LazyFrame:
    """Per pupil: spell counts and lengths this school year, keyed by ``pupil``.

    ``days`` is :func:`spell_days`, collected; ``pupils`` gives each pupil's ``start_ytd``,
    ``start_12w`` and ``last_school_index`` (the index of the last school day before the
    as-of date at the pupil's school); ``first`` is the earliest of their ``start_ytd``.
    """
    frames = []
    for kind, kind_days in days.items():
        frames.append(
            _pieces(kind_days.lazy(), pupils, first, as_of)
            .group_by("pupil")
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
        out = out.join(frame, on="pupil", how="full", coalesce=True)
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
