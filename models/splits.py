"""Forward-in-time splits (rolling origin, as in triage's timechop).

For a cut date ``c`` and horizon ``h``:

- test: as-of dates in ``[c, c + test_weeks)``;
- calibration: as-of dates in ``[c - h - calibration_weeks, c - h)``: their label windows end
  before ``c``;
- fit: as-of dates before ``c - 2h - calibration_weeks``: their label windows end before the
  calibration slice begins, so no label window straddles a boundary.

There is no random split anywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Split:
    """One forward split: fit on the past, calibrate on a later slice, test on the weeks after."""

    name: str
    fit_end: dt.date
    calibration_start: dt.date
    calibration_end: dt.date
    test_start: dt.date
    test_end: dt.date

    def part(self, which: str) -> pl.Expr:
        """Rows of ``fit``, ``calibration`` or ``test`` by their as-of date."""
        as_of = pl.col("as_of")
        if which == "fit":
            return as_of < self.fit_end
        if which == "calibration":
            return (as_of >= self.calibration_start) & (as_of < self.calibration_end)
        if which == "test":
            return (as_of >= self.test_start) & (as_of < self.test_end)
        raise ValueError(f"unknown part {which!r}")

    def describe(self) -> str:
        """One line for the console."""
        return (
            f"{self.name}: fit < {self.fit_end}, calibrate {self.calibration_start}..{self.calibration_end}, "
            f"test {self.test_start}..{self.test_end}"
        )


def make_split(
    name: str, cut: dt.date, horizon_weeks: int, calibration_weeks: int, test_weeks: int
) -> Split:
    """The split for one cut date."""
    h = dt.timedelta(weeks=horizon_weeks)
    cal = dt.timedelta(weeks=calibration_weeks)
    return Split(
        name=name,
        fit_end=cut - 2 * h - cal,
        calibration_start=cut - h - cal,
        calibration_end=cut - h,
        test_start=cut,
        test_end=cut + dt.timedelta(weeks=test_weeks),
    )


def rolling_splits(
    as_of_dates: list[dt.date],
    until: dt.date,
    horizon_weeks: int,
    calibration_weeks: int = 8,
    test_weeks: int = 8,
    min_fit_weeks: int = 26,
    max_splits: int = 6,
) -> list[Split]:
    """Cuts every ``test_weeks`` back from ``until``, as many as the history allows.

    A test slice's label windows must also close before ``until``; a split whose fit part
    would hold fewer than ``min_fit_weeks`` as-of dates is not made.
    """
    dates = sorted(as_of_dates)
    if not dates:
        return []
    h = dt.timedelta(weeks=horizon_weeks)
    last_test_end = until - h
    splits: list[Split] = []
    cut_end = last_test_end
    while len(splits) < max_splits:
        cut = cut_end - dt.timedelta(weeks=test_weeks)
        split = make_split("", cut, horizon_weeks, calibration_weeks, test_weeks)
        if sum(1 for d in dates if d < split.fit_end) < min_fit_weeks:
            break
        if any(split.test_start <= d < split.test_end for d in dates):  # summers are skipped
            splits.append(split)
        cut_end = cut
    splits.reverse()
    return [
        Split(
            f"split{i + 1}",
            s.fit_end,
            s.calibration_start,
            s.calibration_end,
            s.test_start,
            s.test_end,
        )
        for i, s in enumerate(splits)
    ]
