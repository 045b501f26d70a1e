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
)
SCHEMA = dict.fromkeys(SIGNALS, pl.Float64)  # feature tables hold every signal as Float64


def pupil(**signals: float) -> dict[str, float]:
    """One pupil's row: the named signals, every other one 0."""
    return {name: float(signals.get(name, 0.0)) for name in SIGNALS}


TRUANT = pupil(absent_halfdays_ytd=10, b_halfdays_ytd=5)  # exactly half B-codes, no sick bay
ILL = pupil(absent_halfdays_ytd=10, certified_halfdays_ytd=6, illness_longest_spell_ytd=5)
ABSENT = pupil(absent_halfdays_ytd=10, b_halfdays_ytd=4)  # under half B-codes, no other signal

CASES = {
    # (row, profile): each pair sits on one side of one threshold of the rule
    "no absence and no signal": (pupil(), "unclear"),
    "half B-codes, no sick bay": (TRUANT, "truancy-like"),
    "under half B-codes": (ABSENT, "unclear"),
    "half B-codes and one sick-bay visit": (TRUANT | {"sick_bay_visits_ytd": 1.0}, "unclear"),
    # two visits are a refusal signal, but only with fewer than half B-codes
    "half B-codes and two sick-bay visits": (TRUANT | {"sick_bay_visits_ytd": 2.0}, "unclear"),
    "half B-codes and 3 partial days": (TRUANT | {"partial_days_ytd": 3.0}, "truancy-like"),
    "60% certified in a 5-day spell": (ILL, "illness-like"),
    "60% certified, one sick-bay visit": (ILL | {"sick_bay_visits_ytd": 1.0}, "illness-like"),
    "50% certified": (ILL | {"certified_halfdays_ytd": 5.0}, "unclear"),
    "60% certified in a 4-day spell": (ILL | {"illness_longest_spell_ytd": 4.0}, "unclear"),
    # the second visit ends the illness picture and is itself a refusal signal
    "60% certified, two sick-bay visits": (ILL | {"sick_bay_visits_ytd": 2.0}, "refusal-like"),
    "60% certified with 3 partial days": (ILL | {"partial_days_ytd": 3.0}, "illness-like"),
    "certified spell without absent half-days": (
        ILL | {"absent_halfdays_ytd": 0.0},
        "unclear",
    ),
    "two sick-bay visits": (ABSENT | {"sick_bay_visits_ytd": 2.0}, "refusal-like"),
    "one sick-bay visit": (ABSENT | {"sick_bay_visits_ytd": 1.0}, "unclear"),
    "3 partial days": (ABSENT | {"partial_days_ytd": 3.0}, "refusal-like"),
    "2 partial days": (ABSENT | {"partial_days_ytd": 2.0}, "unclear"),
    "3 spells on a parent's note": (ABSENT | {"parent_note_spells_ytd": 3.0}, "refusal-like"),
    "2 spells on a parent's note": (ABSENT | {"parent_note_spells_ytd": 2.0}, "unclear"),
    "Mondays 10 points above chance": (ABSENT | {"monday_excess_ytd": 0.10}, "refusal-like"),
    "Mondays 9.9 points above chance": (ABSENT | {"monday_excess_ytd": 0.099}, "unclear"),
    "after breaks 10 points above": (ABSENT | {"after_break_excess_ytd": 0.10}, "refusal-like"),
    "after breaks 9.9 points above": (ABSENT | {"after_break_excess_ytd": 0.099}, "unclear"),
    # no absence at all is "fewer than half B-codes": a refusal signal alone is enough
    "two sick-bay visits, never absent": (pupil(sick_bay_visits_ytd=2), "refusal-like"),
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
