"""Labels: which pupils develop school refusal within the horizon after an as-of date.

A school-refusal case's label date is ``onset_on`` when known, else ``opened_on``. For a row
(pupil, as-of date ``t``):

- ``label`` is 1 when a school-refusal case has its label date in ``(t, t + horizon]``;
- ``known_case`` is true when a school-refusal case was *opened* on or before ``t``
  (:func:`is_known_case`): the care team knows; such rows are left out of training and of
  the ranking;
- ``ambiguous`` is true when the problem had already begun (label date on or before ``t``)
  but no case was open yet: neither a future case nor a known one, so such rows are left out
  of training and of the metrics (they are still scored in production: finding them is the
  point);
- ``outcome`` names the case type (any type) whose label date falls first in the window, or
  ``none``: it lets a model tell refusal-like from truancy-like and illness-like profiles.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

REFUSAL = "school_refusal"


def is_known_case() -> pl.Expr:
    """A school-refusal case opened on or before the as-of date: the care team knows of it.

    One rule for training (such rows are left out) and for the weekly list (such pupils are
    listed as known, not ranked). A case opened on the as-of date counts: the list goes out
    that day, and the case's team already has the pupil. Needs ``case_type, opened_on, as_of``.
    """
    return (pl.col("case_type") == REFUSAL) & (pl.col("opened_on") <= pl.col("as_of"))


def label_rows(keys: pl.LazyFrame, cases: pl.LazyFrame, horizon_weeks: int) -> pl.LazyFrame:
    """Add ``label, known_case, ambiguous, outcome, label_date`` to (student_key, as_of) rows.

    Parameters
    ----------
    keys
        At least ``student_key`` and ``as_of``.
    cases
        Canonical care cases: ``student_key, case_type, opened_on, label_date``.
    horizon_weeks
        Length of the label window in calendar weeks.
    """
    horizon = dt.timedelta(weeks=horizon_weeks)
    pairs = keys.select("student_key", "as_of").join(cases, on="student_key", how="inner")
    end = pl.col("as_of") + horizon
    in_window = (pl.col("label_date") > pl.col("as_of")) & (pl.col("label_date") <= end)
    refusal = pl.col("case_type") == REFUSAL
    per_row = pairs.group_by("student_key", "as_of").agg(
        (refusal & in_window).any().alias("label"),
        is_known_case().any().alias("known_case"),
        (
            refusal
            & (pl.col("label_date") <= pl.col("as_of"))
            & (pl.col("opened_on") > pl.col("as_of"))
        )
        .any()
        .alias("ambiguous"),
        pl.col("case_type")
        .filter(in_window)
        .sort_by(pl.col("label_date").filter(in_window))
        .first()
        .alias("outcome"),
        pl.col("label_date").filter(refusal & in_window).min().alias("label_date"),
    )
    return keys.join(per_row, on=["student_key", "as_of"], how="left").with_columns(
        pl.col("label").fill_null(False).cast(pl.Int8),
        pl.col("known_case").fill_null(False),
        pl.col("ambiguous").fill_null(False) & ~pl.col("known_case").fill_null(False),
        pl.col("outcome").fill_null("none"),
    )


def usable_for_training(until: dt.date, horizon_weeks: int) -> pl.Expr:
    """Rows whose whole label window closed before ``until``, not known or ambiguous cases."""
    window_end = pl.col("as_of") + dt.timedelta(weeks=horizon_weeks)
    return (window_end < pl.lit(until)) & ~pl.col("known_case") & ~pl.col("ambiguous")


def cases_known_before(cases: pl.LazyFrame, until: dt.date) -> pl.LazyFrame:
    """The cases a model trained with ``--until`` may see: label date and opening before it."""
    return cases.filter((pl.col("label_date") < until) & (pl.col("opened_on") < until))


def later_refusals(keys: pl.LazyFrame, cases: pl.LazyFrame, horizon_weeks: int) -> pl.LazyFrame:
    """``later_refusal`` per (student_key, as_of): a refusal case with its label date after the
    label window (so not this row's label), among ``cases`` (those known before ``--until``).
    """
    end = pl.col("as_of") + dt.timedelta(weeks=horizon_weeks)
    refusals = cases.filter(pl.col("case_type") == REFUSAL).select("student_key", "label_date")
    later = (
        keys.select("student_key", "as_of")
        .join(refusals, on="student_key")
        .group_by("student_key", "as_of")
        .agg((pl.col("label_date") > end).any().alias("later_refusal"))
    )
    return (
        keys.select("student_key", "as_of")
        .join(later, on=["student_key", "as_of"], how="left")
        .with_columns(pl.col("later_refusal").fill_null(False))
    )
