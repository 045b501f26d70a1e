"""Candidate rewrites of the hot spots of feature building, for the profile case to time.

None of this is used by the pipeline. Each function computes the same frame as the project
code it shadows (the profile checks that, column for column). Rewrites that proved faster
and identical were adopted into ``features/`` (when/then sums, integer run ids for spells,
flags-first absence days); what is left here is what has not been adopted yet:

- :func:`precomputed_aggregates`: the assembler's per-pupil aggregation with each summed
  expression made into a column before the ``group_by``, so the aggregation is plain sums.
- :func:`integer_keys`: the pupil key as a dense ``UInt32`` instead of a 20-character string.
"""

from __future__ import annotations

import polars as pl

from features import build


def precomputed_aggregates(events: pl.LazyFrame) -> pl.LazyFrame:
    """``events.group_by("student_key").agg(build._aggregates())`` as plain sums of columns."""
    exprs = build._aggregates()
    names = [e.meta.output_name() for e in exprs]
    # Every expression is ``inner.sum().cast(Int32)``: make ``inner`` a column, then sum it.
    inners = [e.meta.undo_aliases().meta.pop()[0].meta.pop()[0] for e in exprs]
    return (
        events.select(
            "student_key", *[i.cast(pl.Int32).alias(n) for i, n in zip(inners, names, strict=True)]
        )
        .group_by("student_key")
        .agg([pl.col(n).sum().cast(pl.Int32) for n in names])
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
