"""Trends on the tiny export of :mod:`tests.features.builders`, by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from features.school.calendar import flemish_calendar
from tests.features.builders import P1_ROW as P1
from tests.features.builders import P3_ROW as P3


def test_the_slope_is_the_least_squares_line_through_the_weekly_shares() -> None:
    # Weekly shares, latest week first: 30 Sep (5/9), 23 Sep (0), 16 Sep (1/9), 9 Sep, 2 Sep;
    # the three June weeks before them do not count (not enrolled yet).
    weekly = [5 / 9, 0, 1 / 9, 0, 0]
    slope = np.polyfit([-1, -2, -3, -4, -5], weekly, 1)[0]
    assert P1["absence_slope_8w"] == pytest.approx(slope)


def test_change_against_earlier_this_year_and_against_last_year() -> None:
    assert P1["absence_change_vs_year"] == pytest.approx(6 / 36 - 0 / 9)
    assert P1["absence_change_vs_last_year"] == 0  # not on the board last year
    last_year = flemish_calendar(dt.date(2023, 9, 1), dt.date(2024, 6, 30))["periods"].sum()
    assert P3["absence_change_vs_last_year"] == pytest.approx(0 - 2 / last_year)
