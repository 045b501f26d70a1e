"""Patterns on the tiny export of :mod:`tests.features.builders`, by hand.

P1 was absent on 4 days (16 Sep, 30 Sep, 1 Oct, 2 Oct); 5 of the 25 school days before the
as-of date are Mondays.
"""

from __future__ import annotations

import pytest

from features.signals.patterns import MIN_DAYS_FOR_PATTERN
from tests.features.builders import EXPORT, features_at, row
from tests.features.builders import P1_ROW as P1

PATTERNS = (
    "monday_excess_ytd",
    "after_break_excess_ytd",
    "first_period_excess_ytd",
    "weekday_concentration_ytd",
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("monday_excess_ytd", 2 / 4 - 5 / 25),
        # After a break: the 5 Mondays. Absent on 2 of them; 2 of the 20 other days.
        ("after_break_excess_ytd", 2 / 5 - 2 / 20),
        ("after_holiday_absences_ytd", 0),
        # All 4 absent days include the morning; 25 days over 45 half-days is chance.
        ("first_period_excess_ytd", 4 / 4 - 25 / 45),
        # 2 of the 4 absent days on one weekday, with 10 days spread evenly added (2 a weekday).
        ("weekday_concentration_ytd", (2 + 2) / (4 + 10) - 0.2),
    ],
)
def test_patterns_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


def test_fewer_absent_days_than_the_minimum_make_no_pattern() -> None:
    # P2 is absent on two Mondays only: all Mondays, but not yet a pattern.
    two = "P2;2024-09-09;AM;B;\nP2;2024-09-09;PM;B;\nP2;2024-09-23;AM;B;\n"
    assert MIN_DAYS_FOR_PATTERN == 3
    p2 = row(features_at(files={**EXPORT, "absences.csv": EXPORT["absences.csv"] + two}), "P2")
    assert [p2[name] for name in PATTERNS] == [0, 0, 0, 0]
    # A third Monday makes it one: 3 of 3 absent days on a Monday, against 5 of 25 by chance.
    three = two + "P2;2024-09-30;AM;B;\n"
    p2 = row(features_at(files={**EXPORT, "absences.csv": EXPORT["absences.csv"] + three}), "P2")
    assert p2["monday_excess_ytd"] == pytest.approx(1 - 5 / 25)
    assert p2["weekday_concentration_ytd"] == pytest.approx((3 + 2) / (3 + 10) - 0.2)


def test_a_few_absent_days_on_different_weekdays_are_hardly_a_concentration() -> None:
    # P2 is absent on a Monday, a Tuesday and a Thursday: the largest weekday share is 1/3,
    # 0.13 above 1/5 by the raw shares, but three days say little; the even prior keeps it
    # near 0, and below three days on one weekday.
    spread = "P2;2024-09-09;AM;B;\nP2;2024-09-17;AM;B;\nP2;2024-09-26;AM;B;\n"
    p2 = row(features_at(files={**EXPORT, "absences.csv": EXPORT["absences.csv"] + spread}), "P2")
    assert p2["weekday_concentration_ytd"] == pytest.approx((1 + 2) / (3 + 10) - 0.2)
    assert p2["weekday_concentration_ytd"] < (3 + 2) / (3 + 10) - 0.2
