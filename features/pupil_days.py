"""One row per pupil and day with anything recorded: the grain every feature aggregates from."""

from __future__ import annotations

import polars as pl

from features.canonical.codes import ABSENT_CATEGORIES, ILLNESS_CATEGORIES

# Arriving before this time (or at a time not recorded) counts as late for the start of the day.
START_OF_DAY_LATE_BEFORE = "10:00"


_ABSENT = tuple(c for c in ABSENT_CATEGORIES if c != "early_departure")
_HALF_KINDS = {
    "absent": _ABSENT,
    "b": ("unexcused",),
    "illness": ILLNESS_CATEGORIES,
    "note": ("illness_parent_note",),
    "certified": ("illness_certified",),
    "exclusion": ("exclusion",),
}


def absence_days(absences: pl.LazyFrame) -> pl.LazyFrame:
    """Absent half-days per pupil and day, by category.

    A half-day with several lesson registrations counts once; ``early_departure`` marks a
    partial day rather than an absent half-day. Each row is first turned into flags (is it a
    morning/afternoon absence of this kind), then one ``max`` per pupil-day and half-day says
    whether that half-day was missed: much faster than counting distinct halves per kind.
    """
    am, pm = pl.col("half") == "AM", pl.col("half") == "PM"
    flags = []
    for kind, categories in _HALF_KINDS.items():
        hit = pl.col("category").is_in(categories)
        flags += [(hit & am).alias(f"{kind}_am"), (hit & pm).alias(f"{kind}_pm")]
    flags.append((pl.col("category") == "early_departure").alias("early_departure"))
    names = [f.meta.output_name() for f in flags]
    per_day = (
        absences.select("student_key", "date", "school_id", *flags)
        .group_by("student_key", "date")
        .agg(pl.col("school_id").first(), *[pl.col(n).max() for n in names])
    )
    return per_day.select(
        "student_key",
        "date",
        "school_id",
        *[
            (pl.col(f"{kind}_am").cast(pl.Int32) + pl.col(f"{kind}_pm").cast(pl.Int32)).alias(
                "absent_halves" if kind == "absent" else f"{kind}_halves"
            )
            for kind in _HALF_KINDS
        ],
        pl.col("absent_am").alias("am_absent"),
        "early_departure",
    )


def late_days(late_arrivals: pl.LazyFrame) -> pl.LazyFrame:
    """Late arrivals per pupil and day: count, minutes and whether one was at the start of the day."""
    return late_arrivals.group_by("student_key", "date").agg(
        pl.col("school_id").first(),
        pl.len().cast(pl.Int32).alias("late_count"),
        pl.col("minutes_late").fill_null(0).sum().cast(pl.Int32).alias("late_minutes"),
        (pl.col("time").is_null() | (pl.col("time") < START_OF_DAY_LATE_BEFORE))
        .sum()
        .cast(pl.Int32)
        .alias("late_start_of_day"),
    )


def sick_bay_days(visits: pl.LazyFrame) -> pl.LazyFrame:
    """Sick-bay visits per pupil and day, and how many ended with the pupil sent home."""
    home = pl.col("outcome").is_in(["sent_home", "parents_called"])
    return visits.group_by("student_key", "date").agg(
        pl.col("school_id").first(),
        pl.len().cast(pl.Int32).alias("sick_bay_count"),
        home.sum().cast(pl.Int32).alias("sick_bay_home"),
    )


COUNT_COLUMNS = (
    "absent_halves",
    "b_halves",
    "illness_halves",
    "note_halves",
    "certified_halves",
    "exclusion_halves",
    "late_count",
    "late_minutes",
    "late_start_of_day",
    "sick_bay_count",
    "sick_bay_home",
)
FLAG_COLUMNS = ("am_absent", "early_departure")


def pupil_days(
    absences: pl.LazyFrame,
    late_arrivals: pl.LazyFrame,
    sick_bay_visits: pl.LazyFrame,
    days: pl.LazyFrame,
) -> pl.LazyFrame:
    """Absences, late arrivals and sick-bay visits side by side per pupil and day.

    Parameters
    ----------
    absences, late_arrivals, sick_bay_visits
        Canonical event tables.
    days
        :func:`features.school.schooldays.school_days`: gives each day its registrable periods,
        school-day index and whether it follows a break.

    Returns
    -------
    polars.LazyFrame
        Keyed by ``student_key, date``; counts are 0, flags false where nothing was recorded.
        Derived day flags: ``absent_day`` (any absent half-day), ``full_day`` (all registrable
        periods absent), ``partial_day`` (absent for part of the day, left early, or sent home
        from the sick bay), ``illness_day``, ``note_day``, ``b_day`` (any such half-day) and
        ``b_full_day``.
    """
    keys = ["student_key", "date", "school_id"]
    merged = (
        absence_days(absences)
        .join(
            late_days(late_arrivals),
            on=["student_key", "date"],
            how="full",
            coalesce=True,
            suffix="_late",
        )
        .join(
            sick_bay_days(sick_bay_visits),
            on=["student_key", "date"],
            how="full",
            coalesce=True,
            suffix="_bay",
        )
        .with_columns(
            pl.coalesce("school_id", "school_id_late", "school_id_bay").alias("school_id")
        )
        .select(keys + list(COUNT_COLUMNS) + list(FLAG_COLUMNS))
        .with_columns(
            [pl.col(c).fill_null(0).cast(pl.Int32) for c in COUNT_COLUMNS]
            + [pl.col(c).fill_null(False) for c in FLAG_COLUMNS]
        )
    )
    calendar = days.select(
        "school_id", "date", "periods", "day_index", "after_break", "after_holiday"
    )
    absent = pl.col("absent_halves") > 0
    return merged.join(calendar, on=["school_id", "date"], how="left").with_columns(
        weekday=pl.col("date").dt.weekday().cast(pl.Int8),
        absent_day=absent,
        full_day=absent & (pl.col("absent_halves") >= pl.col("periods")),
        partial_day=(absent & (pl.col("absent_halves") < pl.col("periods")))
        | pl.col("early_departure")
        | (pl.col("sick_bay_home") > 0),
        illness_day=pl.col("illness_halves") > 0,
        note_day=pl.col("note_halves") > 0,
        b_day=pl.col("b_halves") > 0,
        b_full_day=(pl.col("b_halves") > 0) & (pl.col("b_halves") >= pl.col("periods")),
    )
