"""Trend: is it getting worse, against the pupil's own earlier weeks and last year?"""

from __future__ import annotations

import polars as pl

from features.school.schooldays import SLOPE_WEEKS
from features.windows import between, share


def aggregates() -> list[pl.Expr]:
    """Absent half-days in each of the last school weeks (``wk_1`` is the latest)."""
    return [
        between("absent_halves", f"wk_{j}", "as_of" if j == 1 else f"wk_{j - 1}").alias(
            f"n_absent_wk_{j}"
        )
        for j in range(1, SLOPE_WEEKS + 1)
    ]


def absence_slope_8w() -> pl.Expr:
    """Least-squares slope of the weekly absence share over the last 8 school weeks."""
    ys, valid = [], []
    for j in range(1, SLOPE_WEEKS + 1):
        ok = pl.col(f"periods_wk_{j}") > 0
        valid.append(ok.cast(pl.Float64))
        ys.append(
            pl.when(ok).then(pl.col(f"n_absent_wk_{j}") / pl.col(f"periods_wk_{j}")).otherwise(0.0)
        )
    xs = [float(-j) for j in range(1, SLOPE_WEEKS + 1)]  # older weeks further left
    n = pl.sum_horizontal(valid)
    sx = pl.sum_horizontal([v * x for v, x in zip(valid, xs, strict=True)])
    sy = pl.sum_horizontal(ys)
    sxx = pl.sum_horizontal([v * x * x for v, x in zip(valid, xs, strict=True)])
    sxy = pl.sum_horizontal([y * x for y, x in zip(ys, xs, strict=True)])
    denominator = n * sxx - sx * sx
    return (
        pl.when((n >= 3) & (denominator > 0))
        .then((n * sxy - sx * sy) / denominator)
        .otherwise(0.0)
        .alias("absence_slope_8w")
    )


def absence_change_vs_year() -> pl.Expr:
    """Absence share of the last 4 school weeks minus the pupil's own share earlier this year."""
    earlier = share(
        pl.col("n_absent_ytd") - pl.col("n_absent_4w"), pl.col("periods_ytd") - pl.col("periods_4w")
    )
    has_earlier = (pl.col("periods_ytd") - pl.col("periods_4w")) > 0
    recent = share(pl.col("n_absent_4w"), pl.col("periods_4w"))
    return (
        pl.when(has_earlier).then(recent - earlier).otherwise(0.0).alias("absence_change_vs_year")
    )


def absence_change_vs_last_year() -> pl.Expr:
    """Absence share this school year minus the pupil's share last school year."""
    this_year = share(pl.col("n_absent_ytd"), pl.col("periods_ytd"))
    last_year = share(pl.col("n_absent_prev"), pl.col("periods_prev"))
    return (
        pl.when((pl.col("periods_prev") > 0) & (pl.col("periods_ytd") > 0))
        .then(this_year - last_year)
        .otherwise(0.0)
        .alias("absence_change_vs_last_year")
    )
