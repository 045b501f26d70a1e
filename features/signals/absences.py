"""Absences of every kind, B-codes alone, and illness: rates, counts and partial days.

The material's first advice is to look at *all* absences, not only the B-codes: these
features exist for both, so that an evaluation can compare them.
"""

from __future__ import annotations

import polars as pl

from features.windows import RATE_WINDOWS, rate, total


def aggregates() -> list[pl.Expr]:
    """Per-pupil counts these features need, for the one aggregation of the assembler."""
    return (
        [total("absent_halves", w).alias(f"n_absent_{w}") for w in (*RATE_WINDOWS, "prev")]
        + [total("b_halves", w).alias(f"n_b_{w}") for w in RATE_WINDOWS]
        + [total("illness_halves", w).alias(f"n_illness_{w}") for w in ("4w", "8w", "ytd")]
        + [
            total("note_halves", "ytd").alias("n_note_ytd"),
            total("certified_halves", "ytd").alias("n_certified_ytd"),
            total("partial_day", "4w").alias("n_partial_4w"),
            total("partial_day", "ytd").alias("n_partial_ytd"),
        ]
    )


def absence_rate(window: str) -> pl.Expr:
    """Share of registrable half-days absent, any reason, in the window."""
    return rate("absent", window).alias(f"absence_rate_{window}")


def b_rate(window: str) -> pl.Expr:
    """Share of registrable half-days with a B-code (problematic absence) in the window."""
    return rate("b", window).alias(f"b_rate_{window}")


def b_halfdays_ytd() -> pl.Expr:
    """B-code half-days this school year: what the Flemish rule (5 or more) counts."""
    return pl.col("n_b_ytd").alias("b_halfdays_ytd")


def absent_halfdays_ytd() -> pl.Expr:
    """Absent half-days this school year, any reason."""
    return pl.col("n_absent_ytd").alias("absent_halfdays_ytd")


def illness_rate(window: str) -> pl.Expr:
    """Share of registrable half-days absent through illness (note or certificate)."""
    return rate("illness", window).alias(f"illness_rate_{window}")


def parent_note_halfdays_ytd() -> pl.Expr:
    """Half-days of illness covered by a parent's note this school year."""
    return pl.col("n_note_ytd").alias("parent_note_halfdays_ytd")


def certified_halfdays_ytd() -> pl.Expr:
    """Half-days of illness covered by a doctor's certificate this school year."""
    return pl.col("n_certified_ytd").alias("certified_halfdays_ytd")


def partial_days(window: str) -> pl.Expr:
    """Days present for only part of the day: a missed half-day, left early, or sent home."""
    return pl.col(f"n_partial_{window}").alias(f"partial_days_{window}")
