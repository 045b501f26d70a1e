"""Drift on literal frames: seasonal decile bins kept at training, PSI per school and family."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from models import drift

WEEK = "school_weeks_into_year"
TRAINING = pl.DataFrame(
    {
        WEEK: [5] * 100,
        "a": [float(v) for v in range(100)],
        "zeros": [0.0] * 90 + [1.0] * 10,
        "school_absence_rate_4w": [0.1] * 100,
    }
)


def test_the_reference_keeps_decile_edges_and_the_share_of_rows_in_each_bin() -> None:
    ref = drift.reference(TRAINING, ["a", "zeros", "school_absence_rate_4w", WEEK])
    assert list(ref) == ["5"]
    assert ref["5"]["a"]["edges"] == [9.0, 19.0, 29.0, 39.0, 49.0, 59.0, 69.0, 79.0, 89.0]
    assert ref["5"]["a"]["shares"] == pytest.approx([0.1] * 10)
    # A count that is mostly 0: its deciles repeat, so it keeps the edges it has.
    assert ref["5"]["zeros"] == {"edges": [0.0], "shares": [0.9, 0.1]}
    # One value for a whole school in a week says nothing about its pupils: left out.
    assert set(ref["5"]) == {"a", "zeros"}


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift() -> None:
    assert drift.psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    moved = drift.psi(np.array([0.9, 0.1]), np.array([0.5, 0.5]))
    assert moved == pytest.approx((0.5 - 0.9) * math.log(0.5 / 0.9) + (0.5 - 0.1) * math.log(5))
    assert moved > drift.SHIFT
    assert drift.psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(
        2 * (1 - 1e-4) * math.log(1 / 1e-4)
    )  # an empty bin counts as 1e-4, so the index stays finite


def test_a_family_is_the_mean_of_its_features_per_school() -> None:
    ref = drift.reference(TRAINING, ["a", "zeros"])
    week = pl.DataFrame(
        {
            "school_id": ["S1"] * 100 + ["S2"] * 100,
            WEEK: [5] * 200,
            "a": [float(v) for v in range(100)] * 2,
            "zeros": [0.0] * 90 + [1.0] * 10 + [0.0] * 50 + [1.0] * 50,
        }
    )
    table = drift.family_psi(week, ref, {"a": "absence_all", "zeros": "sick_bay"})
    assert table["school_id"].to_list() == ["S1", "S1", "S2", "S2"]
    assert table["family"].to_list() == ["absence_all", "sick_bay"] * 2
    assert table["psi"].to_list()[:3] == pytest.approx([0.0, 0.0, 0.0])
    expected = drift.psi(np.array([0.9, 0.1]), np.array([0.5, 0.5]))
    assert table["psi"][3] == pytest.approx(expected)
    assert table["features"].to_list() == [1, 1, 1, 1]


def test_a_week_is_compared_with_the_same_point_of_the_school_year() -> None:
    # A count of this school year: small in October, large in June, in training and now.
    training = pl.DataFrame(
        {WEEK: [5] * 50 + [35] * 50, "ytd": [float(v % 10) for v in range(50)] * 2}
    ).with_columns(ytd=pl.when(pl.col(WEEK) == 35).then(pl.col("ytd") * 10).otherwise("ytd"))
    ref = drift.reference(training, ["ytd"])
    assert sorted(ref, key=int) == ["5", "35"]
    june = training.filter(pl.col(WEEK) == 35).with_columns(school_id=pl.lit("S1"), **{WEEK: 34})
    table = drift.family_psi(june, ref, {"ytd": "absence_all"})
    assert table["psi"].to_list() == [0.0]  # week 34 takes the reference of week 35
    october = drift.family_psi(june.with_columns(**{WEEK: 6}), ref, {"ytd": "absence_all"})
    assert october["psi"][0] > drift.SHIFT  # June's counts against October's: a shift
