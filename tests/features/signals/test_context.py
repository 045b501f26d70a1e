"""Class and school context, and the transition signals, on the tiny export of
:mod:`tests.features.builders`, by hand: P1 is alone in class 1A this year; P2 and P3
have no absence in the last 4 school weeks."""

from __future__ import annotations

import pytest

from tests.features.builders import P1_ROW as P1
from tests.features.builders import P2_ROW as P2
from tests.features.builders import P3_ROW as P3


def test_class_and_school_absence_by_hand() -> None:
    school = (6 / 36 + 0 + 0) / 3
    assert P1["class_absence_rate_4w"] == pytest.approx(6 / 36)
    assert P1["school_absence_rate_4w"] == pytest.approx(school)
    assert P1["absence_rate_vs_class_4w"] == pytest.approx(0)
    assert P1["illness_rate_vs_class_4w"] == pytest.approx(0)
    assert P2["school_absence_rate_4w"] == pytest.approx(school)
    assert P2["class_absence_rate_4w"] == 0


def test_transition_signals_by_hand() -> None:
    assert (P1["first_year_secondary"], P1["new_at_school"], P1["school_weeks_into_year"]) == (
        1,
        1,
        5,
    )
    assert (P3["first_year_secondary"], P3["new_at_school"]) == (0, 0)  # grade 2, since 2023
