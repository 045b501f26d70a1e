"""Profiles: does a pupil's picture look like refusal, truancy or illness?

The material insists the distinction matters for what a care team does next (sanctions do not
work for refusal). The profile is read off the pupil's own signals, by fixed, documented
rules, and is a hint for the conversation, never a diagnosis. Each needs some absence to read
(:data:`MIN_ABSENT` half-days this school year); then:

- ``truancy-like``: at least half of the absent half-days are B-codes, and no visit to the
  sick bay;
- ``illness-like``: most absence is certified illness (60% or more of absent half-days) in a
  spell of 5 or more school days, with at most one sick-bay visit;
- ``refusal-like``: the absence is justified (under a quarter B-codes) and shows at least
  :data:`MIN_REFUSAL_SIGNALS` of the refusal pattern's signals: 2 or more sick-bay visits,
  3 or more partial days, 3 or more spells on a parent's note, absence piling up on Mondays or
  after breaks (10 percentage points above chance), absence rising (the last 4 weeks 5 points
  above the pupil's own share earlier this year);
- ``unclear``: anything else (little absence, or no clear pattern).

How often each profile matched the case that followed is in the research report.
"""

from __future__ import annotations

import polars as pl

PROFILES = ("refusal-like", "truancy-like", "illness-like", "unclear")

MIN_ABSENT = 6
"""Absent half-days this school year (three days) below which no profile is read."""

MIN_REFUSAL_SIGNALS = 2
"""Refusal signals a pupil must show, besides justified absence, to look refusal-like."""


def refusal_signals() -> pl.Expr:
    """How many of the refusal pattern's signals a row shows (see the module docstring)."""
    signals = [
        pl.col("sick_bay_visits_ytd") >= 2,
        pl.col("partial_days_ytd") >= 3,
        pl.col("parent_note_spells_ytd") >= 3,
        (pl.col("monday_excess_ytd") >= 0.10) | (pl.col("after_break_excess_ytd") >= 0.10),
        pl.col("absence_change_vs_year") >= 0.05,
    ]
    return pl.sum_horizontal([s.cast(pl.Int8) for s in signals])


def profile() -> pl.Expr:
    """The profile of each row of a feature table."""
    absent = pl.col("absent_halfdays_ytd")
    b_share = pl.when(absent > 0).then(pl.col("b_halfdays_ytd") / absent).otherwise(0.0)
    certified_share = (
        pl.when(absent > 0).then(pl.col("certified_halfdays_ytd") / absent).otherwise(0.0)
    )
    return (
        pl.when(absent < MIN_ABSENT)
        .then(pl.lit("unclear"))
        .when((b_share >= 0.5) & (pl.col("sick_bay_visits_ytd") == 0))
        .then(pl.lit("truancy-like"))
        .when(
            (certified_share >= 0.6)
            & (pl.col("illness_longest_spell_ytd") >= 5)
            & (pl.col("sick_bay_visits_ytd") <= 1)
        )
        .then(pl.lit("illness-like"))
        .when((b_share < 0.25) & (refusal_signals() >= MIN_REFUSAL_SIGNALS))
        .then(pl.lit("refusal-like"))
        .otherwise(pl.lit("unclear"))
        .alias("profile")
    )


CASE_OF = {"refusal-like": "school_refusal", "truancy-like": "truancy", "illness-like": "illness"}
"""The case type that bears a profile out."""


def profile_outcomes(flagged: pl.DataFrame, min_cell: int) -> pl.DataFrame:
    """How each profile turned out, over flagged pupil-weeks with a ``profile``, ``label``
    (a new school-refusal case in the window) and ``outcome`` (the window's first case of any
    type, or ``none``): pupil-weeks, the share with a refusal case, and the share whose first
    case is the profile's own type (``borne_out``; none for ``unclear``). Shares of fewer
    than ``min_cell`` pupil-weeks are hidden."""
    own = pl.col("profile").replace_strict(CASE_OF, default=None)
    table = (
        flagged.group_by("profile")
        .agg(
            pupil_weeks=pl.len(),
            refusal_case=pl.col("label").cast(pl.Float64).mean(),
            borne_out=(pl.col("outcome") == own).cast(pl.Float64).mean(),
        )
        .with_columns(borne_out=pl.when(own.is_not_null()).then(pl.col("borne_out")))
    )
    small = pl.col("pupil_weeks") < min_cell
    order = {name: i for i, name in enumerate(PROFILES)}
    return (
        table.with_columns(
            pl.when(~small).then(pl.col(c)).alias(c) for c in ("refusal_case", "borne_out")
        )
        .with_columns(_order=pl.col("profile").replace_strict(order, default=len(order)))
        .sort("_order")
        .drop("_order")
    )
