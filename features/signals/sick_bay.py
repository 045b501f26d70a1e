"""Sick-bay visits: who is often on the sick bed, often feels ill, often calls home."""

from __future__ import annotations

import polars as pl

from features.windows import share, total


def aggregates() -> list[pl.Expr]:
    """Per-pupil counts these features need."""
    return [
        total("sick_bay_count", "4w").alias("n_sick_bay_4w"),
        total("sick_bay_count", "ytd").alias("n_sick_bay_ytd"),
        total("sick_bay_home", "8w").alias("n_sick_bay_home_8w"),
        total("sick_bay_home", "ytd").alias("n_sick_bay_home_ytd"),
    ]


def sick_bay_visits(window: str) -> pl.Expr:
    """Visits to the sick bay in the window."""
    return pl.col(f"n_sick_bay_{window}").alias(f"sick_bay_visits_{window}")


def sick_bay_sent_home_8w() -> pl.Expr:
    """Sick-bay visits in the last 8 school weeks that ended with going home or parents called."""
    return pl.col("n_sick_bay_home_8w").alias("sick_bay_sent_home_8w")


def sick_bay_sent_home_share_ytd() -> pl.Expr:
    """Share of this year's sick-bay visits that ended with going home or parents called."""
    return share(pl.col("n_sick_bay_home_ytd"), pl.col("n_sick_bay_ytd")).alias(
        "sick_bay_sent_home_share_ytd"
    )
