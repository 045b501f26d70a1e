from __future__ import annotations

import datetime as dt
import itertools

from models.splits import rolling_splits


def mondays(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(weeks=i) for i in range(n)]


def test_splits_move_forward_and_no_label_window_straddles_a_boundary() -> None:
    dates = mondays(dt.date(2022, 9, 5), 150)
    until = dt.date(2025, 7, 1)
    splits = rolling_splits(dates, until, horizon_weeks=8, calibration_weeks=8, test_weeks=8)
    assert len(splits) == 6
    h = dt.timedelta(weeks=8)
    for split in splits:
        assert split.fit_end + h <= split.calibration_start  # fit labels close before calibration
        assert split.calibration_end + h <= split.test_start  # calibration labels close before test
        assert split.test_end + h <= until  # test labels are known by `until`
    assert [s.test_start for s in splits] == sorted(s.test_start for s in splits)
    assert all(a.test_end <= b.test_start for a, b in itertools.pairwise(splits))


def test_short_histories_give_fewer_or_no_splits() -> None:
    dates = mondays(dt.date(2024, 9, 2), 30)
    assert rolling_splits(dates, dt.date(2025, 4, 1), 8, min_fit_weeks=26) == []
