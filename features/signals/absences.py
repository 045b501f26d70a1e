"""Absences of every kind, B-codes alone, and illness: rates, counts and partial days.

The material's first advice is to look at *all* absences, not only the B-codes: these
features exist for both, so that an evaluation can compare them.
"""

from __future__ import annotations

import polars as pl

from features.windows import count, rate


def absence_rate(window: str) -> pl.Expr:
    """Share of registrable half-days absent, any reason, in the window."""
    return rate("absent_halves", window)


def absent_halfdays_ytd() -> pl.Expr:
    """Absent half-days this school year, any reason."""
    return count("absent_halves", "ytd")


def partial_days(window: str) -> pl.Expr:
    """Days present for only part of the day: a missed half-day, left early, or sent home."""
    return count("partial_day", window)


def b_rate(window: str) -> pl.Expr:
    """Share of registrable half-days with a B-code (problematic absence) in the window."""
    return rate("b_halves", window)


def b_halfdays_ytd() -> pl.Expr:
    """B-code half-days this school year: what the Flemish rule (5 or more) counts."""
    return count("b_halves", "ytd")


def illness_rate(window: str) -> pl.Expr:
    """Share of registrable half-days absent through illness (note or certificate)."""
    return rate("illness_halves", window)


def parent_note_halfdays_ytd() -> pl.Expr:
    """Half-days of illness covered by a parent's note this school year."""
    return count("note_halves", "ytd")


def certified_halfdays_ytd() -> pl.Expr:
    """Half-days of illness covered by a doctor's certificate this school year."""
    return count("certified_halves", "ytd")
