"""Context: the class's and the school's absence in the same weeks.

A flu wave that keeps half the class home is not a personal pattern; these features let a
model (and a care team) see a pupil's absence against the class's. They read two pupil
features, computed first (the catalog's ``context`` stage).
"""

from __future__ import annotations

import polars as pl

CLASS = ["school_id", "class_key"]
ABSENCE = pl.col("absence_rate_4w")
"""The pupil feature :func:`features.signals.absences.absence_rate` over 4 school weeks."""
ILLNESS = pl.col("illness_rate_4w")
"""The pupil feature :func:`features.signals.absences.illness_rate` over 4 school weeks."""


def class_absence_rate_4w() -> pl.Expr:
    """Mean absence share of the pupil's class over the last 4 school weeks."""
    return ABSENCE.mean().over(CLASS)


def school_absence_rate_4w() -> pl.Expr:
    """Mean absence share of the pupil's school over the last 4 school weeks."""
    return ABSENCE.mean().over("school_id")


def absence_rate_vs_class_4w() -> pl.Expr:
    """The pupil's absence share over the last 4 school weeks minus the class mean."""
    return ABSENCE - ABSENCE.mean().over(CLASS)


def illness_rate_vs_class_4w() -> pl.Expr:
    """The pupil's illness share over the last 4 school weeks minus the class mean."""
    return ILLNESS - ILLNESS.mean().over(CLASS)
