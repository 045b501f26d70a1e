"""The windows and the named inputs a feature reads: its only vocabulary.

A feature (:mod:`features.signals`) is a polars expression over these inputs, each a named
helper here, so that its inputs can be read off its code:

- :func:`count`: a day-level column of the pupil-day frame (:mod:`features.pupil_days`)
  added up over a window (booleans count their true days);
- :func:`periods`: the registrable half-days of a window the pupil was enrolled for, and
  :func:`rate`, a count over them;
- :func:`share`: a safe division.

The assembler (:mod:`features.build`) supplies the rest of the frame a feature may read by
its plain name: ``grade``, ``new_at_school``, ``weeks_into_year`` (school weeks of this year
before the as-of date), ``days_ytd``, ``mondays_ytd`` and ``after_break_days_ytd`` (the
school's days this year that the pupil was enrolled for), and the spell counts of
:func:`features.signals.spells.spell_aggregates`.

A window's count is not summed over the pupil-days at every as-of date: the assembler looks
up, per pupil, the *running count* of a day-level column at each window edge (everything up
to the pupil's days before that date, :mod:`features.running`), and the count in
``[lo, hi)`` is the difference. Which running counts to look up is read off the features'
expressions (:func:`running_lookups`).
"""

from __future__ import annotations

import polars as pl

from features.school.schooldays import SLOPE_WEEKS, WEEK_WINDOWS

WINDOWS = (*[f"{n}w" for n in WEEK_WINDOWS], "ytd")
"""Windows that end just before the as-of date: the last N school weeks, the school year."""
RATE_WINDOWS = ("1w", "2w", "4w", "8w", "ytd")
"""The windows of the absence and B-code rates."""
PREVIOUS_YEAR = "prev"
"""The previous school year, up to the start of this one."""
SLOPE = tuple(f"week{j}" for j in range(1, SLOPE_WEEKS + 1))
"""The last school weeks one by one, latest first (``week1`` is the week before the as-of
date's), for the trend's slope."""


def week_edge(j: int) -> str:
    """The assembler's column with the first day of the ``j``-th school week back."""
    return f"wk_{j}"


def start(window: str) -> str:
    """The assembler's column with the first day of ``window`` (one of :data:`WINDOWS` or
    :data:`PREVIOUS_YEAR`)."""
    return f"start_{window}"


def _edges(window: str) -> tuple[str, str]:
    if window in WINDOWS:
        return start(window), "as_of"
    if window == PREVIOUS_YEAR:
        # Its events are counted from the first day seen (the previous year's first day, when
        # the calendar reaches it): see features.build.feature_table.
        return "start_history", start("ytd")
    j = SLOPE.index(window) + 1
    return week_edge(j), "as_of" if j == 1 else week_edge(j - 1)


EDGES: dict[str, tuple[str, str]] = {w: _edges(w) for w in (*WINDOWS, PREVIOUS_YEAR, *SLOPE)}
"""Each window as ``[lo, hi)`` between two per-pupil date columns of the assembler's frame."""

_BEFORE = "__before__"


def running(column: str, edge: str) -> pl.Expr:
    """The running count of day-level ``column`` just before the pupil's date in ``edge``."""
    return pl.col(f"{column}{_BEFORE}{edge}")


def counted_column(name: str) -> str | None:
    """The day-level column a running-count column of :func:`running` counts, else None."""
    return name.split(_BEFORE)[0] if _BEFORE in name else None


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


def count(column: str, window: str) -> pl.Expr:
    """Sum of day-level ``column`` over the window (booleans count their true days)."""
    return between(column, *EDGES[window])


def periods_column(window: str) -> str:
    """The assembler's column with :func:`periods` of ``window``."""
    return f"periods_{window}"


def periods(window: str) -> pl.Expr:
    """Registrable half-days in the window that the pupil was enrolled for."""
    return pl.col(periods_column(window))


def share(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, 0 where the denominator is 0 (no registrable periods)."""
    return pl.when(denominator > 0).then(numerator / denominator).otherwise(0.0).cast(pl.Float64)


def rate(column: str, window: str) -> pl.Expr:
    """Day-level ``column`` (half-days) over the window's registrable half-days."""
    return share(count(column, window), periods(window))
