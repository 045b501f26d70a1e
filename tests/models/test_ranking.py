from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from polars.testing import assert_series_equal

from models.ranking import (
    list_size,
    list_size_expr,
    random_tie_flags,
    rank_in_school,
    top_k_membership,
)


def test_list_size_rounds_up_with_a_floor() -> None:
    assert list_size(100, 2) == 2
    assert list_size(30, 2) == 1
    assert list_size(101, 5) == 6
    assert list_size(30, 2, minimum=3) == 3
    assert list_size(400, 2, minimum=3) == 8
    assert list_size(0, 2, minimum=3) == 0  # no pupils, no list
    sizes = pl.DataFrame({"g": ["a"] * 30 + ["b"] * 400}).select(
        list_size_expr(2, 3).over("g").alias("n")
    )
    assert sorted(set(sizes["n"].cast(pl.Int64).to_list())) == [3, 8]


def _week(scores: list[float], school: str = "S") -> pl.DataFrame:
    return pl.DataFrame(
        {"as_of": [dt.date(2024, 10, 7)] * len(scores), "school_id": school, "score": scores}
    )


def test_membership_counts_a_tie_at_the_cut_by_its_share_of_the_places() -> None:
    frame = _week([0.9, 0.5, 0.5, 0.5] + [0.1] * 96)  # top 2%: 2 places, 3 tied for the second
    member = top_k_membership(frame, 2)
    assert member[0] == 1.0
    assert np.allclose(member[1:4].to_numpy(), 1 / 3)
    assert member[4:].sum() == 0


def test_random_ties_fill_the_places_exactly_and_are_seeded() -> None:
    frame = pl.concat([_week([0.5] * 100, "A"), _week([0.2] * 50 + [0.9] * 50, "B")])
    flags = random_tie_flags(frame, 5, seed=1)
    assert flags[:100].sum() == 5 and flags[100:].sum() == 5
    assert not flags[100:150].any()  # B's places go to its top scores, never a lower one
    assert (random_tie_flags(frame, 5, seed=1) == flags).all()


def test_the_weekly_list_ranks_within_each_school_and_breaks_ties_by_key() -> None:
    frame = pl.DataFrame(
        {
            "school_id": ["A"] * 5 + ["B"] * 2,
            "student_key": ["e", "d", "c", "b", "a", "y", "x"],
            "risk": [0.1, 0.5, 0.5, 0.9, 0.2, 0.3, 0.3],
        }
    )
    ranked = rank_in_school(frame, percent=20, minimum=1, explain_percent=60)
    assert ranked["student_key"].to_list() == ["b", "c", "d", "a", "e", "x", "y"]
    assert_series_equal(ranked["rank"], pl.Series("rank", [1, 2, 3, 4, 5, 1, 2], pl.Int32))
    assert ranked["listed"].to_list() == [True, False, False, False, False, True, False]
    assert ranked["explained"].to_list() == [True, True, True, False, False, True, True]
