"""Spells: runs of consecutive school days (weekends and holidays do not break a run)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import polars as pl

SPELL_FLAGS = {
    "full": "full_day",
    "b": "b_full_day",
    "illness": "illness_day",
    "note": "note_day",
}
"""Which day flag each kind of spell follows."""

Measure = Literal["longest", "count", "started_12w", "current"]


def spell(kind: str, measure: Measure) -> pl.Expr:
    """A column of :func:`spell_aggregates`: per pupil, for the spells of ``kind`` this school
    year, the ``longest`` (school days), their ``count``, how many ``started_12w`` (in the
    last 12 school weeks), or the ``current`` one's length up to the as-of date."""
    return pl.col(_name(kind, measure))


def _name(kind: str, measure: Measure) -> str:
    return f"s_{kind}_{measure}"


def spell_days(pupil_days: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """Per kind of spell, the school days its flag holds on: ``pupil, date, day_index``,
    sorted by pupil and date. Sorted once here, for all as-of dates."""
    return {
        kind: pupil_days.filter(pl.col(flag) & pl.col("day_index").is_not_null())
        .select("pupil", "date", "day_index")
        .sort("pupil", "date")
        for kind, flag in SPELL_FLAGS.items()
    }


def _this_year(
    days: pl.LazyFrame, pupils: pl.LazyFrame, first: dt.date | None, as_of: dt.date
) -> pl.LazyFrame:
    """The days of ``days`` in each pupil's school year before ``as_of``, still in order,
    with the pupil's columns. ``first`` is the earliest ``start_ytd`` of any pupil."""
    return (
        days.filter(pl.col("date").is_between(first, as_of, closed="left"))
        .join(pupils, on="pupil", how="inner", maintain_order="left")
        .filter(pl.col("date") >= pl.col("start_ytd"))
    )


def _run_columns() -> list[pl.Expr]:
    """On days sorted by pupil and date: ``starts`` and ``ends`` a run (another pupil, or a
    gap in school days, on one side) and ``so_far``, the days of its run up to this one."""
    key, index = pl.col("pupil"), pl.col("day_index")
    starts = (key != key.shift(1)).fill_null(True) | (index != index.shift(1) + 1).fill_null(True)
    return [
        starts.alias("starts"),
        starts.shift(-1, fill_value=True).alias("ends"),
        (index - pl.when(starts).then(index).forward_fill() + 1).alias("so_far"),
    ]


def spell_aggregates(
    days: dict[str, pl.DataFrame], pupils: pl.LazyFrame, first: dt.date | None, as_of: dt.date
) -> pl.LazyFrame:
    """Per pupil: spell counts and lengths this school year, keyed by ``pupil``.

    ``days`` is :func:`spell_days`, collected; ``pupils`` gives each pupil's ``start_ytd``,
    ``start_12w`` and ``last_school_index`` (the index of the last school day before the
    as-of date at the pupil's school); ``first`` is the earliest of their ``start_ytd``.
    A run is cut at the start of the school year: its days before it do not count.
    """
    frames = []
    for kind, kind_days in days.items():
        current = pl.col("ends") & (pl.col("day_index") == pl.col("last_school_index"))
        frames.append(
            _this_year(kind_days.lazy(), pupils, first, as_of)
            .with_columns(_run_columns())
            .group_by("pupil")
            .agg(
                pl.col("so_far").max().alias(_name(kind, "longest")),
                pl.col("starts").sum().cast(pl.Int32).alias(_name(kind, "count")),
                (pl.col("starts") & (pl.col("date") >= pl.col("start_12w")))
                .sum()
                .cast(pl.Int32)
                .alias(_name(kind, "started_12w")),
                pl.when(current).then(pl.col("so_far")).max().alias(_name(kind, "current")),
            )
        )
    out = frames[0]
    for frame in frames[1:]:
        out = out.join(frame, on="pupil", how="full", coalesce=True)
    return out


def longest_spell_ytd() -> pl.Expr:
    """Longest run of consecutive whole school days absent this school year."""
    return spell("full", "longest")


def spells_ytd() -> pl.Expr:
    """Number of separate runs of whole days absent this school year."""
    return spell("full", "count")


def current_spell_days() -> pl.Expr:
    """Whole school days absent in a row up to the last school day before the as-of date."""
    return spell("full", "current")


def b_longest_spell_ytd() -> pl.Expr:
    """Longest run of consecutive whole school days with B-codes this school year."""
    return spell("b", "longest")


def illness_longest_spell_ytd() -> pl.Expr:
    """Longest run of consecutive school days ill this school year (M@ZL: 7 or more)."""
    return spell("illness", "longest")


def illness_reports_12w() -> pl.Expr:
    """Separate illness spells that began in the last 12 school weeks (M@ZL: the 4th one)."""
    return spell("illness", "started_12w")


def parent_note_spells_ytd() -> pl.Expr:
    """Separate spells of illness on a parent's note this school year (at most 4 are allowed)."""
    return spell("note", "count")
