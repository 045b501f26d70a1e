"""Context: the class's and the school's absence in the same weeks.

A flu wave that keeps half the class home is not a personal pattern; these features let a
model (and a care team) see a pupil's absence against the class's.
"""

from __future__ import annotations

import polars as pl

CLASS = ["school_id", "class_key"]


def class_absence_rate_4w() -> pl.Expr:
    """Mean absence share of the pupil's class over the last 4 school weeks."""
    return pl.col("absence_rate_4w").mean().over(CLASS).alias("class_absence_rate_4w")


def school_absence_rate_4w() -> pl.Expr:
    """Mean absence share of the pupil's school over the last 4 school weeks."""
    return pl.col("absence_rate_4w").mean().over("school_id").alias("school_absence_rate_4w")


def absence_rate_vs_class_4w() -> pl.Expr:
    """The pupil's absence share over the last 4 school weeks minus the class mean."""
    return (pl.col("absence_rate_4w") - pl.col("absence_rate_4w").mean().over(CLASS)).alias(
        "absence_rate_vs_class_4w"
    )


def illness_rate_vs_class_4w() -> pl.Expr:
    """The pupil's illness share over the last 4 school weeks minus the class mean."""
    return (pl.col("illness_rate_4w") - pl.col("illness_rate_4w").mean().over(CLASS)).alias(
        "illness_rate_vs_class_4w"
    )
