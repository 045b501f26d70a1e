"""Candidate rewrites of the hot spots of feature building, for the profile case to time.

None of this is used by the pipeline. Each function computes the same frame as the project
code it shadows (the profile checks that, column for column) in a way polars runs faster:

- :func:`masked_aggregates`: the assembler's per-pupil aggregation with every
  ``col.filter(window).sum()`` written as ``when(window).then(col).otherwise(0).sum()``;
  with ``precompute=True`` the masked columns are made before the ``group_by`` and the
  aggregation is plain sums (polars' fast path).
- :func:`spell_aggregates`: the spells with one sort, run ids from a ``cum_sum`` of breaks and
  a ``group_by`` on that integer, instead of a sort, a window ``int_range().over(pupil)`` and
  a ``group_by(pupil, run)`` per kind of spell.
- :func:`absence_days`: the pupil-day absence counts with the half-day flags made first and
  one ``group_by(pupil, date)`` of ``max``, instead of six filtered ``n_unique`` per group.
- :func:`integer_keys`: the pupil key as a dense ``UInt32`` instead of a 20-character string.
"""

from __future__ import annotations

import polars as pl

from features import absences, build, lateness, patterns, sick_bay, spells, windows
from features.codes import ABSENT_CATEGORIES, ILLNESS_CATEGORIES
from features.schooldays import SLOPE_WEEKS


def _masked_total(column: str, window: str) -> pl.Expr:
    return pl.when(windows.in_window(window)).then(pl.col(column)).otherwise(0).sum().cast(pl.Int32)


def _masked_trend() -> list[pl.Expr]:
    exprs = []
    for j in range(1, SLOPE_WEEKS + 1):
        upper = pl.col("as_of") if j == 1 else pl.col(f"wk_{j - 1}")
        inside = (pl.col("date") >= pl.col(f"wk_{j}")) & (pl.col("date") < upper)
        exprs.append(
            pl.when(inside)
            .then(pl.col("absent_halves"))
            .otherwise(0)
            .sum()
            .cast(pl.Int32)
            .alias(f"n_absent_wk_{j}")
        )
    return exprs


def masked_aggregates(events: pl.LazyFrame, precompute: bool = False) -> pl.LazyFrame:
    """``events.group_by("student_key").agg(build._aggregates())``, without ``filter`` in the agg."""
    modules = (absences, lateness, sick_bay, patterns)
    saved = [m.total for m in modules]
    try:
        for m in modules:
            m.total = _masked_total  # type: ignore[attr-defined]
        exprs = [
            *absences.aggregates(),
            *lateness.aggregates(),
            *sick_bay.aggregates(),
            *patterns.aggregates(),
            *_masked_trend(),
        ]
    finally:
        for m, total in zip(modules, saved, strict=True):
            m.total = total  # type: ignore[attr-defined]
    names = [e.meta.output_name() for e in exprs]
    assert names == [e.meta.output_name() for e in build._aggregates()]
    if not precompute:
        return events.group_by("student_key").agg(exprs)
    # Every expression is ``inner.sum().cast(Int32)``: make ``inner`` a column, then sum it.
    inners = [e.meta.undo_aliases().meta.pop()[0].meta.pop()[0] for e in exprs]
    return (
        events.select(
            "student_key", *[i.cast(pl.Int32).alias(n) for i, n in zip(inners, names, strict=True)]
        )
        .group_by("student_key")
        .agg([pl.col(n).sum().cast(pl.Int32) for n in names])
    )


def spell_aggregates(events: pl.LazyFrame) -> pl.LazyFrame:
    """:func:`features.spells.spell_aggregates` with one sort and integer run ids."""
    ytd = (
        events.filter((pl.col("date") >= pl.col("start_ytd")) & pl.col("day_index").is_not_null())
        .select(
            "student_key",
            "date",
            "day_index",
            "start_12w",
            "last_school_index",
            *spells.SPELL_FLAGS.values(),
        )
        .sort("student_key", "date")
    )
    new_run = (pl.col("student_key") != pl.col("student_key").shift()).fill_null(True) | (
        pl.col("day_index") != pl.col("day_index").shift() + 1
    ).fill_null(True)
    frames = []
    for kind, flag in spells.SPELL_FLAGS.items():
        runs = (
            ytd.filter(pl.col(flag))
            .with_columns(run=new_run.cum_sum())
            .group_by("run")
            .agg(
                pl.col("student_key").first(),
                pl.col("date").first().alias("first_date"),
                pl.col("day_index").last().alias("last_index"),
                pl.len().cast(pl.Int32).alias("length"),
                pl.col("start_12w").first(),
                pl.col("last_school_index").first(),
            )
        )
        frames.append(
            runs.group_by("student_key").agg(
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


def absence_days(absences_: pl.LazyFrame) -> pl.LazyFrame:
    """:func:`features.pupil_days.absence_days` with flags first and one group-by of ``max``."""
    absent = [c for c in ABSENT_CATEGORIES if c != "early_departure"]
    cat = pl.col("category")
    am = pl.col("half") == "AM"
    pm = pl.col("half") == "PM"
    flags = {
        "absent_halves": cat.is_in(absent),
        "b_halves": cat == "unexcused",
        "illness_halves": cat.is_in(ILLNESS_CATEGORIES),
        "note_halves": cat == "illness_parent_note",
        "certified_halves": cat == "illness_certified",
        "exclusion_halves": cat == "exclusion",
    }
    per_row = absences_.select(
        "student_key",
        "date",
        "school_id",
        *[(f & am).alias(f"{n}_am") for n, f in flags.items()],
        *[(f & pm).alias(f"{n}_pm") for n, f in flags.items()],
        (cat == "early_departure").alias("early_departure"),
    )
    bools = [*(f"{n}_am" for n in flags), *(f"{n}_pm" for n in flags), "early_departure"]
    per_day = per_row.group_by("student_key", "date").agg(
        pl.col("school_id").first(), *[pl.col(c).max() for c in bools]
    )

    def halves(name: str) -> pl.Expr:
        return (pl.col(f"{name}_am").cast(pl.UInt32) + pl.col(f"{name}_pm").cast(pl.UInt32)).alias(
            name
        )

    return per_day.select(
        "student_key",
        "date",
        "school_id",
        halves("absent_halves"),
        pl.col("absent_halves_am").alias("am_absent"),
        *[halves(n) for n in list(flags)[1:]],
        "early_departure",
    )


def integer_keys(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` with ``student_key`` replaced by a dense ``UInt32`` pupil number."""
    ids = events.select(pl.col("student_key").unique().sort()).with_row_index("pupil")
    return (
        events.join(ids, on="student_key")
        .drop("student_key")
        .rename({"pupil": "student_key"})
        .select(events.columns)
    )


def same(a: pl.DataFrame, b: pl.DataFrame, key: list[str]) -> bool:
    """The same rows and values, whatever the row order."""
    return a.columns == b.columns and a.sort(key).equals(b.sort(key))
