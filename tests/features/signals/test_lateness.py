"""Late arrivals on the tiny export of :mod:`tests.features.builders`, by hand: P1 was late
at 08:35 (5 minutes) and at 13:40 (10 minutes)."""

from __future__ import annotations

import pytest

from tests.features.builders import P1_ROW as P1
from tests.features.builders import P2_ROW as P2


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("late_arrivals_4w", 2),
        ("late_arrivals_ytd", 2),
        ("late_minutes_4w", 15),
        ("late_start_of_day_share_ytd", 0.5),  # 08:35 is the start of the day, 13:40 is not
    ],
)
def test_late_arrivals_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


def test_a_pupil_never_late_has_a_share_of_zero_not_a_division_by_zero() -> None:
    assert P2["late_start_of_day_share_ytd"] == 0
