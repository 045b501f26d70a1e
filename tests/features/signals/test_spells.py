"""Spells of whole days on the tiny export of :mod:`tests.features.builders`, by hand."""

from __future__ import annotations

import pytest

from tests.features.builders import EXPORT, features_at, row
from tests.features.builders import P1_ROW as P1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("longest_spell_ytd", 3),  # ill Monday 30 September to Wednesday 2 October
        ("spells_ytd", 1),
        ("current_spell_days", 0),  # back at school on Thursday 3 October
        ("b_longest_spell_ytd", 0),  # a B morning is not a whole day
        ("parent_note_spells_ytd", 1),
        ("illness_reports_12w", 1),
        ("illness_longest_spell_ytd", 3),
    ],
)
def test_spells_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


def test_a_spell_running_over_the_summer_counts_only_its_days_this_school_year() -> None:
    # P3 is ill on a parent's note on the last two school days of June and the first two of
    # September: one run of consecutive school days, of which two fall in this school year.
    across = "".join(
        f"P3;{d};{half};Z;\n"
        for d in ("2024-06-27", "2024-06-28", "2024-09-02", "2024-09-03")
        for half in ("AM", "PM")
    )
    table = features_at(files={**EXPORT, "absences.csv": EXPORT["absences.csv"] + across})
    p3 = row(table, "P3")
    assert (p3["longest_spell_ytd"], p3["spells_ytd"], p3["current_spell_days"]) == (2, 1, 0)
    assert (p3["illness_longest_spell_ytd"], p3["parent_note_spells_ytd"]) == (2, 1)
    assert p3["illness_reports_12w"] == 1


def test_a_spell_up_to_the_last_school_day_is_current() -> None:
    # P2 is absent (B) all of Thursday 3 and Friday 4 October: two whole days up to the
    # as-of date (Monday 7 October); a weekend does not break a run.
    spell = "".join(f"P2;2024-10-0{d};{h};B;\n" for d in (3, 4) for h in ("AM", "PM"))
    p2 = row(features_at(files={**EXPORT, "absences.csv": EXPORT["absences.csv"] + spell}), "P2")
    assert (p2["current_spell_days"], p2["longest_spell_ytd"], p2["b_longest_spell_ytd"]) == (
        2,
        2,
        2,
    )
