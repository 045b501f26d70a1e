from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_series_equal

from models.profile import PROFILES, profile

SIGNALS = (
    "absent_halfdays_ytd",
    "b_halfdays_ytd",
    "certified_halfdays_ytd",
    "illness_longest_spell_ytd",
    "sick_bay_visits_ytd",
    "partial_days_ytd",
    "parent_note_spells_ytd",
    "monday_excess_ytd",
    "after_break_excess_ytd",
    "absence_change_vs_year",
)
SCHEMA = dict.fromkeys(SIGNALS, pl.Float64)  # feature tables hold every signal as Float64


def pupil(**signals: float) -> dict[str, float]:
    """One pupil's row: the named signals, every other one 0."""
    return {name: float(signals.get(name, 0.0)) for name in SIGNALS}


TRUANT = pupil(absent_halfdays_ytd=10, b_halfdays_ytd=5)  # exactly half B-codes, no sick bay
ILL = pupil(absent_halfdays_ytd=10, certified_halfdays_ytd=6, illness_longest_spell_ytd=5)
JUSTIFIED = pupil(absent_halfdays_ytd=12, b_halfdays_ytd=2)  # under a quarter B-codes
SICK_BAY = {"sick_bay_visits_ytd": 2.0}  # one refusal signal

CASES = {
    # (row, profile): each pair sits on one side of one threshold of the rule
    "no absence and no signal": (pupil(), "unclear"),
    "half B-codes, no sick bay": (TRUANT, "truancy-like"),
    "half B-codes, 5 half-days absent": (TRUANT | {"absent_halfdays_ytd": 5.0}, "unclear"),
    "half B-codes and one sick-bay visit": (TRUANT | {"sick_bay_visits_ytd": 1.0}, "unclear"),
    "60% certified in a 5-day spell": (ILL, "illness-like"),
    "60% certified, one sick-bay visit": (ILL | {"sick_bay_visits_ytd": 1.0}, "illness-like"),
    "50% certified": (ILL | {"certified_halfdays_ytd": 5.0}, "unclear"),
    "60% certified in a 4-day spell": (ILL | {"illness_longest_spell_ytd": 4.0}, "unclear"),
    "justified absence, no signal": (JUSTIFIED, "unclear"),
    "justified absence, one signal": (JUSTIFIED | SICK_BAY, "unclear"),
    "sick bay and 3 partial days": (
        JUSTIFIED | SICK_BAY | {"partial_days_ytd": 3.0},
        "refusal-like",
    ),
    "sick bay and 2 partial days": (JUSTIFIED | SICK_BAY | {"partial_days_ytd": 2.0}, "unclear"),
    "sick bay and 3 parent-note spells": (
        JUSTIFIED | SICK_BAY | {"parent_note_spells_ytd": 3.0},
        "refusal-like",
    ),
    "sick bay and Mondays 10 points above": (
        JUSTIFIED | SICK_BAY | {"monday_excess_ytd": 0.10},
        "refusal-like",
    ),
    "sick bay and Mondays 9.9 points above": (
        JUSTIFIED | SICK_BAY | {"monday_excess_ytd": 0.099},
        "unclear",
    ),
    # Mondays and after breaks are one signal (both say: absence piles up at the start)
    "Mondays and after breaks": (
        JUSTIFIED | {"monday_excess_ytd": 0.2, "after_break_excess_ytd": 0.2},
        "unclear",
    ),
    "sick bay and absence rising 5 points": (
        JUSTIFIED | SICK_BAY | {"absence_change_vs_year": 0.05},
        "refusal-like",
    ),
    "sick bay and absence rising 4 points": (
        JUSTIFIED | SICK_BAY | {"absence_change_vs_year": 0.04},
        "unclear",
    ),
    # B-codes a quarter or more: not the justified absence refusal shows as
    "a quarter B-codes with two signals": (
        JUSTIFIED | SICK_BAY | {"b_halfdays_ytd": 3.0, "partial_days_ytd": 3.0},
        "unclear",
    ),
    # the second visit ends the illness picture; with a second signal it reads as refusal
    "60% certified, two visits, rising": (
        ILL | SICK_BAY | {"absence_change_vs_year": 0.1},
        "refusal-like",
    ),
    "two sick-bay visits and 3 partial days, never absent": (
        pupil(sick_bay_visits_ytd=2, partial_days_ytd=3),
        "unclear",
    ),
}


@pytest.mark.parametrize(("row", "expected"), list(CASES.values()), ids=list(CASES))
def test_each_profile_at_its_boundaries(row: dict[str, float], expected: str) -> None:
    frame = pl.DataFrame([row], schema=SCHEMA)
    assert frame.select(profile())["profile"].to_list() == [expected]


def test_a_feature_table_gets_one_profile_per_row_and_only_the_documented_ones() -> None:
    rows = [row for row, _ in CASES.values()]
    frame = pl.LazyFrame(rows, schema=SCHEMA).with_columns(profile()).collect()
    expected = pl.Series("profile", [p for _, p in CASES.values()], dtype=pl.String)
    assert_series_equal(frame["profile"], expected)
    assert set(frame["profile"]) == set(PROFILES)
    assert frame.drop("profile").equals(pl.DataFrame(rows, schema=SCHEMA))  # signals untouched


def test_each_profile_is_checked_against_the_case_that_followed() -> None:
    from models.profile import profile_outcomes

    flagged = pl.DataFrame(
        {
            "profile": [*["refusal-like"] * 4, *["truancy-like"] * 2, *["unclear"] * 4],
            "label": [1, 1, 0, 0, 0, 0, 1, 0, 0, 0],
            "outcome": [
                *("school_refusal", "school_refusal", "none", "truancy"),
                *("truancy", "none"),
                *("school_refusal", "none", "none", "none"),
            ],
        }
    )
    table = profile_outcomes(flagged, min_cell=3)
    assert table.rows() == [
        ("refusal-like", 4, 0.5, 0.5),
        ("truancy-like", 2, None, None),  # under 3 pupil-weeks: hidden
        ("unclear", 4, 0.25, None),  # no case type bears "unclear" out
    ]
