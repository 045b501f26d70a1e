"""Running counts: each day-level count added up over the pupil-days, in pupil and date order.

Built once for all as-of dates (:func:`running_counts`). A window's count is then the running
count at its end minus the one at its start (:func:`features.windows.between`): two look-ups
per pupil (:func:`look_up`) instead of a pass over every pupil-day at every as-of date.
"""

from __future__ import annotations

import polars as pl

_SPAN = 2**32  # room for every date of one pupil in the sort key
_EPOCH = 2**31  # shifts days since 1970 (negative before it) to non-negative
_END = 2**63 - 1


def sort_key(pupil: pl.Expr, date: pl.Expr) -> pl.Expr:
    """One ``Int64`` ordered by pupil number, then date."""
    days = date.cast(pl.Int32).cast(pl.Int64)
    return pupil.cast(pl.Int64) * _SPAN + days + _EPOCH


def running_counts(pupil_days: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Per pupil-day, sorted by ``key`` (:func:`sort_key`): each of ``columns`` added up over
    all rows before it (earlier days of the pupil and all days of lower-numbered pupils).

    ``pupil_days`` needs ``pupil`` (a number), ``date`` and ``columns`` (counts or flags;
    null counts as 0). A last row with the largest key holds the totals, so the running
    count before any key can be read off the row :func:`look_up` finds.
    """
    rows = pupil_days.select(sort_key(pl.col("pupil"), pl.col("date")).alias("key"), *columns)
    rows = rows.sort("key")  # before widening the counts: a sort moves every column
    counts = {c: pl.col(c).fill_null(0).cast(pl.Int64) for c in columns}
    before = rows.select("key", *[(n.cum_sum() - n).alias(c) for c, n in counts.items()])
    end = rows.select(pl.lit(_END, pl.Int64).alias("key"), *[n.sum() for n in counts.values()])
    return pl.concat([before, end])


def look_up(
    frame: pl.LazyFrame,
    counts: pl.DataFrame,
    pairs: list[tuple[str, str, str]],
    seen: tuple[pl.Expr, pl.Expr],
) -> pl.LazyFrame:
    """``frame`` with, for each ``(column, edge, name)``, the running count of ``column`` just
    before the pupil's date in ``edge``, as column ``name``. It includes the days of every
    lower-numbered pupil: only the difference of two of them, for one pupil, is a count.

    ``frame`` has one row per pupil with ``pupil`` and the edge date columns; ``counts`` is
    :func:`running_counts`. ``seen = (first, last)``: an edge outside ``[first, last]`` is
    moved onto it, so only days in between are ever counted. A null edge gives null. Rows
    sorted by pupil are fastest: the look-ups then walk ``counts`` in order, which is kinder
    to the memory caches than jumping about it.
    """
    first, last = seen
    edges = list(dict.fromkeys(edge for _, edge, _ in pairs))
    keys = pl.lit(counts["key"])
    positions = [
        pl.when(pl.col(edge).is_not_null())
        .then(
            keys.search_sorted(
                sort_key(pl.col("pupil"), pl.col(edge).clip(first).clip(upper_bound=last)),
                side="left",
            )
        )
        .alias(f"_row_{edge}")
        for edge in edges
    ]
    values = [
        pl.lit(counts[column]).gather(pl.col(f"_row_{edge}")).alias(name)
        for column, edge, name in pairs
    ]
    return frame.with_columns(positions).with_columns(values).drop(f"_row_{e}" for e in edges)
