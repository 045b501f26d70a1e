"""The school days and half-day slots of one school year, as arrays.

Everything else in the simulator indexes days by their position in the year's list of
school days (0 = the first school day), and registrable half-days ("slots") by their
position in the list of slots: an AM slot every school day, a PM slot except on
Wednesdays. The calendar itself comes from `features.school.calendar`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from features.school.calendar import flemish_calendar, school_year_bounds
from schoolsim.assumptions import Assumptions

Array = npt.NDArray[Any]

# A gap of at least a week between two school days is a holiday period (herfst-, kerst-,
# krokus-, paas-, zomervakantie); shorter gaps are weekends and single free days.
_HOLIDAY_GAP = 7


@dataclass(frozen=True)
class YearDays:
    """School days and slots of a school year.

    Attributes
    ----------
    year : int
        First calendar year of the school year.
    epoch : ndarray of int32, shape (D,)
        The school days, as days since 1970-01-01.
    weekday : ndarray of int8, shape (D,)
        0 = Monday ... 4 = Friday.
    has_pm : ndarray of bool, shape (D,)
        Whether the afternoon is registrable (not on Wednesdays).
    after_break : ndarray of bool, shape (D,)
        First school day after free weekdays (a long weekend or a holiday).
    after_holiday : ndarray of bool, shape (D,)
        Within a few school days after a holiday period (not the summer).
    near_holiday : ndarray of bool, shape (D,)
        In the week before or after a holiday period, when a parent's note is not accepted.
    season : ndarray of float32, shape (D,)
        Seasonal factor of illness (mean about 1, peak in January).
    pattern : ndarray of float32, shape (D,)
        Weight of a refusal-type absence on this day (Mondays, after a break).
    slot_day : ndarray of int16, shape (S,)
        Day of each slot.
    slot_pm : ndarray of bool, shape (S,)
        Whether a slot is the afternoon.
    am_slot, pm_slot : ndarray of int32, shape (D,)
        Slot of each day's morning and afternoon (-1 when there is none).
    """

    year: int
    epoch: Array
    weekday: Array
    has_pm: Array
    after_break: Array
    after_holiday: Array
    near_holiday: Array
    season: Array
    pattern: Array
    slot_day: Array
    slot_pm: Array
    am_slot: Array
    pm_slot: Array

    @property
    def n_days(self) -> int:
        """Number of school days."""
        return int(self.epoch.size)

    @property
    def n_slots(self) -> int:
        """Number of registrable half-days."""
        return int(self.slot_day.size)


def year_days(year: int, assumptions: Assumptions) -> YearDays:
    """Build the school days of school year ``year`` from the built-in Flemish calendar.

    Parameters
    ----------
    year : int
        First calendar year of the school year (2024 for 2024-25).
    assumptions : Assumptions
        Source of the seasonal and weekday-pattern factors.

    Returns
    -------
    YearDays
        Arrays indexed by school day and by slot.
    """
    first, last = school_year_bounds(year)
    cal = flemish_calendar(first, last).filter(pl.col("school_day"))
    dates = cal["date"].to_numpy().astype("datetime64[D]")
    epoch = dates.astype(np.int64).astype(np.int32)
    periods = cal["periods"].to_numpy().astype(np.int64)
    weekday = ((epoch.astype(np.int64) + 3) % 7).astype(np.int8)  # 1970-01-01 was a Thursday

    gap_prev = np.diff(epoch, prepend=epoch[0] - 60)
    gap_next = np.diff(epoch, append=epoch[-1] + 60)
    after_break = gap_prev > 3
    near_holiday = _near_holiday(epoch, gap_prev, gap_next, assumptions.note_holiday_window_days)
    after_holiday = _after_holiday(gap_prev, assumptions.onset_after_holiday_days)

    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    season = 1.0 + assumptions.season_amplitude * np.cos(2 * np.pi * (doy - 20) / 365.25)

    a = assumptions
    pattern = np.select(
        [after_break, weekday == 0, weekday == 4, weekday == 2],
        [a.pattern_after_break, a.pattern_monday, a.pattern_friday, a.pattern_wednesday],
        a.pattern_other,
    )

    slot_day = np.repeat(np.arange(epoch.size), periods).astype(np.int16)
    first_slot = np.concatenate([[0], np.cumsum(periods)[:-1]])
    slot_pm = np.arange(slot_day.size) > first_slot[slot_day]
    return YearDays(
        year=year,
        epoch=epoch,
        weekday=weekday,
        has_pm=periods == 2,
        after_break=after_break,
        after_holiday=after_holiday,
        near_holiday=near_holiday,
        season=season.astype(np.float32),
        pattern=pattern.astype(np.float32),
        slot_day=slot_day,
        slot_pm=slot_pm,
        am_slot=first_slot.astype(np.int32),
        pm_slot=np.where(periods == 2, first_slot + 1, -1).astype(np.int32),
    )


def _near_holiday(epoch: Array, gap_prev: Array, gap_next: Array, window: int) -> Array:
    """Days within ``window`` calendar days of a holiday period (summer included)."""
    last_before = np.flatnonzero(gap_next >= _HOLIDAY_GAP)  # always holds the last day
    first_after = np.flatnonzero(gap_prev >= _HOLIDAY_GAP)  # always holds the first day
    days = np.arange(epoch.size)
    nxt = last_before[np.searchsorted(last_before, days, side="left")]
    prv = first_after[np.searchsorted(first_after, days, side="right") - 1]
    # The holiday starts the day after `nxt` and ends the day before `prv`.
    return ((epoch[nxt] + 1 - epoch) <= window) | ((epoch - (epoch[prv] - 1)) <= window)


def _after_holiday(gap_prev: Array, n_days: int) -> Array:
    """The first ``n_days`` school days after each holiday period except the summer."""
    starts = np.flatnonzero(gap_prev >= _HOLIDAY_GAP)
    starts = starts[starts > 0]
    flag = np.zeros(gap_prev.size, dtype=bool)
    for offset in range(n_days):  # a handful of offsets, not a loop over days
        flag[np.minimum(starts + offset, gap_prev.size - 1)] = True
    return flag
