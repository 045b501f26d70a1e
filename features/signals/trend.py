"""Trend: is it getting worse, against the pupil's own earlier weeks and last year?"""

from __future__ import annotations

import polars as pl

from features.windows import PREVIOUS_YEAR, SLOPE, count, periods, rate, share


def absence_slope_8w() -> pl.Expr:
    """Least-squares slope of the weekly absence share over the last 8 school weeks."""
    ys, valid = [], []
    for week in SLOPE:
        ok = periods(week) > 0
        valid.append(ok.cast(pl.Float64))
        ys.append(pl.when(ok).then(count("absent_halves", week) / periods(week)).otherwise(0.0))
    xs = [float(-j) for j in range(1, len(SLOPE) + 1)]  # older weeks further left
    n = pl.sum_horizontal(valid)
    sx = pl.sum_horizontal([v * x for v, x in zip(valid, xs, strict=True)])
    sy = pl.sum_horizontal(ys)
    sxx = pl.sum_horizontal([v * x * x for v, x in zip(valid, xs, strict=True)])
    sxy = pl.sum_horizontal([y * x for y, x in zip(ys, xs, strict=True)])
    denominator = n * sxx - sx * sx
    return (
        pl.when((n >= 3) & (denominator > 0)).then((n * sxy - sx * sy) / denominator).otherwise(0.0)
    )


def absence_change_vs_year() -> pl.Expr:
    """Absence share of the last 4 school weeks minus the pupil's own share earlier this year."""
    earlier_periods = periods("ytd") - periods("4w")
    earlier = share(count("absent_halves", "ytd") - count("absent_halves", "4w"), earlier_periods)
    recent = rate("absent_halves", "4w")
    return pl.when(earlier_periods > 0).then(recent - earlier).otherwise(0.0)


def absence_change_vs_last_year() -> pl.Expr:
    """Absence share this school year minus the pupil's share last school year."""
    this_year = rate("absent_halves", "ytd")
    last_year = rate("absent_halves", PREVIOUS_YEAR)
    return (
        pl.when((periods(PREVIOUS_YEAR) > 0) & (periods("ytd") > 0))
        .then(this_year - last_year)
        .otherwise(0.0)
    )
