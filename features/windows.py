"""Small expression helpers shared by the feature modules: windows, rates, safe shares.

A window's count is not summed over the pupil-days at every as-of date: the assembler looks
up, per pupil, the *running count* of a day-level column at each window edge (everything up
to the pupil's days before that date, :mod:`features.running`), and the count in
``[lo, hi)`` is the difference.
"""

from __future__ import annotations

import polars as pl

from features.school.schooldays import WEEK_WINDOWS

RATE_WINDOWS = ("1w", "2w", "4w", "8w", "ytd")

WINDOW_EDGES: dict[str, tuple[str, str]] = {
    **{f"{n}w": (f"start_{n}w", "as_of") for n in WEEK_WINDOWS},
    "ytd": ("start_ytd", "as_of"),
    "prev": ("start_history", "start_ytd"),
}
"""Each window as ``[lo, hi)`` between two per-pupil edge columns of the assembler's frame."""

_BEFORE = "__before__"


def running(column: str, edge: str) -> pl.Expr:
    """The running count of day-level ``column`` just before the pupil's date in ``edge``."""
    return pl.col(f"{column}{_BEFORE}{edge}")


def running_lookups(exprs: list[pl.Expr]) -> list[tuple[str, str, str]]:
    """The running counts ``exprs`` read, as ``(column, edge, column name)``, in first-use order."""
    names = [name for e in exprs for name in e.meta.root_names() if _BEFORE in name]
    lookups = []
    for name in dict.fromkeys(names):
        column, edge = name.split(_BEFORE)
        lookups.append((column, edge, name))
    return lookups


def between(column: str, lo: str, hi: str) -> pl.Expr:
    """Sum of day-level ``column`` over ``[lo, hi)`` (booleans count their true days); 0 if an
    edge is missing."""
    return (running(column, hi) - running(column, lo)).fill_null(0).cast(pl.Int32)


def total(column: str, window: str) -> pl.Expr:
    """Sum of day-level ``column`` over the window (booleans count their true days)."""
    return between(column, *WINDOW_EDGES[window])


def share(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, 0 where the denominator is 0 (no registrable periods)."""
    return pl.when(denominator > 0).then(numerator / denominator).otherwise(0.0).cast(pl.Float64)


def rate(count: str, window: str) -> pl.Expr:
    """A per-pupil count over the registrable periods the pupil was enrolled for in the window."""
    return share(pl.col(f"n_{count}_{window}"), pl.col(f"periods_{window}"))
