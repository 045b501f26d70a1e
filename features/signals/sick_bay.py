"""Sick-bay visits: who is often on the sick bed, often feels ill, often calls home."""

from __future__ import annotations

import polars as pl

from features.windows import count, share


def sick_bay_visits(window: str) -> pl.Expr:
    """Visits to the sick bay in the window."""
    return count("sick_bay_count", window)


def sick_bay_sent_home_8w() -> pl.Expr:
    """Sick-bay visits in the last 8 school weeks that ended with going home or parents called."""
    return count("sick_bay_home", "8w")


def sick_bay_sent_home_share_ytd() -> pl.Expr:
    """Share of this year's sick-bay visits that ended with going home or parents called."""
    return share(count("sick_bay_home", "ytd"), count("sick_bay_count", "ytd"))
