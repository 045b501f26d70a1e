"""Absences, B-codes and illness on the tiny export of :mod:`tests.features.builders`, by hand.

Five school weeks (45 half-days) lie before the as-of date; P1 joined on 2 September.
"""

from __future__ import annotations

import pytest

from tests.features.builders import P1_ROW as P1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("absence_rate_1w", 5 / 9),
        ("absence_rate_2w", 5 / 18),
        ("absence_rate_4w", 6 / 36),
        ("absence_rate_8w", 6 / 45),  # not enrolled before 2 September: 5 weeks count
        ("absence_rate_ytd", 6 / 45),
        ("absent_halfdays_ytd", 6),
        ("partial_days_4w", 2),  # the B morning, and being sent home on 3 October
        ("partial_days_ytd", 2),
    ],
)
def test_all_absences_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("b_rate_1w", 0),
        ("b_rate_4w", 1 / 36),
        ("b_rate_ytd", 1 / 45),
        ("b_halfdays_ytd", 1),  # the B-code on the as-of date itself is not seen
        ("illness_rate_4w", 5 / 36),
        ("illness_rate_ytd", 5 / 45),
        ("parent_note_halfdays_ytd", 5),
        ("certified_halfdays_ytd", 0),
    ],
)
def test_b_codes_and_illness_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)
