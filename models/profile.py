"""Profiles: does a pupil's picture look like refusal, truancy or illness?

The material insists the distinction matters for what a care team does next (sanctions do not
work for refusal). The profile is read off the pupil's own signals, by fixed, documented
rules, and is a hint for the conversation, never a diagnosis:

- ``truancy-like``: at least half of this year's absent half-days are B-codes, and no visit
  to the sick bay;
- ``illness-like``: most absence is certified illness (60% or more of absent half-days) in a
  spell of 5 or more school days, with at most one sick-bay visit;
- ``refusal-like``: fewer than half B-codes, and at least one of: 2 or more sick-bay visits,
  3 or more partial days, 3 or more spells on a parent's note, or absence piling up on
  Mondays / after breaks (10 percentage points above chance);
- ``unclear``: anything else, including little absence at all.
"""

from __future__ import annotations

import polars as pl

PROFILES = ("refusal-like", "truancy-like", "illness-like", "unclear")


def profile() -> pl.Expr:
    """The profile of each row of a feature table."""
    absent = pl.col("absent_halfdays_ytd")
    b_share = pl.when(absent > 0).then(pl.col("b_halfdays_ytd") / absent).otherwise(0.0)
    certified_share = (
        pl.when(absent > 0).then(pl.col("certified_halfdays_ytd") / absent).otherwise(0.0)
    )
    refusal_signals = (
        (pl.col("sick_bay_visits_ytd") >= 2)
        | (pl.col("partial_days_ytd") >= 3)
        | (pl.col("parent_note_spells_ytd") >= 3)
        | (pl.col("monday_excess_ytd") >= 0.10)
        | (pl.col("after_break_excess_ytd") >= 0.10)
    )
    return (
        pl.when((b_share >= 0.5) & (pl.col("sick_bay_visits_ytd") == 0) & (absent > 0))
        .then(pl.lit("truancy-like"))
        .when(
            (certified_share >= 0.6)
            & (pl.col("illness_longest_spell_ytd") >= 5)
            & (pl.col("sick_bay_visits_ytd") <= 1)
        )
        .then(pl.lit("illness-like"))
        .when((b_share < 0.5) & refusal_signals)
        .then(pl.lit("refusal-like"))
        .otherwise(pl.lit("unclear"))
        .alias("profile")
    )
