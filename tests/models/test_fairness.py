"""Fairness on hand-made pupil-weeks whose flags and rates can be worked out by hand.

Scores are 1 (on the list) or 0, and each week has exactly as many 1s as its list has places,
so no tie is broken at random. Where every pupil of a group has the same totals, the group's
rates do not move under the pupil bootstrap: its ratio to the reference is exact, and so is
its interval.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from models.fairness import (
    METRICS,
    _pupil_totals,
    _rates,
    bootstrap_weights,
    fairness,
    group_metrics,
    interval,
    round_pupils,
    verdict,
    with_flags,
)

MONDAY = dt.date(2024, 10, 7)
NAN = float("nan")

Week = tuple[float, int]
"""A pupil's (score, label) in one week."""

# Each pupil: 4 weeks, on the list in 2, a case in 2: flagged once as a case and once not.
# Per pupil: flag rate 1/2, recall 1/2, false positive rate 1/2, precision 1/2.
FIRST: list[Week] = [(1, 1), (1, 0), (0, 1), (0, 0)]
SECOND: list[Week] = [(0, 1), (0, 0), (1, 1), (1, 0)]
NEVER: list[Week] = [(0, 1), (0, 0), (0, 1), (0, 0)]  # the same labels, never on the list
ALWAYS: list[Week] = [(1, 1), (1, 0), (1, 1), (1, 0)]

SCHEMA = {
    "student_key": pl.String,
    "as_of": pl.Date,
    "school_id": pl.String,
    "score": pl.Float64,
    "label": pl.Int32,
    "gender": pl.String,
}


def pupils(gender: str | None, key: str, count: int, weeks: list[Week]) -> list[dict[str, object]]:
    """``count`` pupils of one school with the same ``weeks``, keyed ``key0``, ``key1``..."""
    return [
        {
            "student_key": f"{key}{i}",
            "as_of": MONDAY + dt.timedelta(weeks=w),
            "school_id": "S",
            "score": float(score),
            "label": label,
            "gender": gender,
        }
        for i in range(count)
        for w, (score, label) in enumerate(weeks)
    ]


def weeks(*groups: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame([row for group in groups for row in group], schema=SCHEMA)


def judged(table: pl.DataFrame, group: str) -> dict[str, str]:
    """Metric -> verdict of one group."""
    rows = table.filter(pl.col("group") == group)
    return dict(zip(rows["metric"], rows["verdict"], strict=True))


def test_two_groups_with_the_same_pupils_are_within_the_band_exactly() -> None:
    # 20 pupils a week, 10 places at k=50: the 10 scores of 1
    frame = weeks(
        pupils("F", "fa", 5, FIRST),
        pupils("F", "fb", 5, SECOND),
        pupils("M", "ma", 5, FIRST),
        pupils("M", "mb", 5, SECOND),
    )
    table = fairness(frame, "gender", k=50)
    expected = pl.DataFrame(
        {
            "attribute": ["gender"] * 8,
            "group": ["F"] * 4 + ["M"] * 4,
            "pupils": [10] * 8,
            "metric": list(METRICS) * 2,
            "value": [0.5] * 8,
            # equal sizes: the reference is the first group by name
            "reference": ["F"] * 8,
            "ratio": [1.0] * 8,
            "ratio_low": [1.0] * 8,
            "ratio_high": [1.0] * 8,
            "verdict": ["reference"] * 4 + ["within"] * 4,
        }
    )
    assert_frame_equal(table, expected)


def test_a_group_never_on_the_list_is_outside_and_its_precision_has_too_few_pupils() -> None:
    # 22 pupils a week, 6 places at k=25: the 6 scores of 1, all boys'
    frame = weeks(
        pupils("F", "f", 10, NEVER),
        pupils("M", "ma", 6, FIRST),
        pupils("M", "mb", 6, SECOND),
    )
    table = fairness(frame, "gender", k=25)
    assert set(table["reference"]) == {"M"}  # the largest group, whatever its name
    assert table["pupils"].to_list() == [10] * 8  # 12 boys are shown as 10
    assert judged(table, "M") == dict.fromkeys(METRICS, "reference")
    girls = table.filter(pl.col("group") == "F")
    assert judged(table, "F") == {
        "flag_rate": "outside",
        "recall": "outside",
        "false_positive_rate": "outside",
        # no girl was ever flagged: a precision over 0 pupils is not shown
        "precision": "too few pupils",
    }
    assert girls["value"].to_list()[:3] == [0.0, 0.0, 0.0]
    assert girls["ratio"].to_list()[:3] == [0.0, 0.0, 0.0]
    assert girls["ratio_high"].to_list()[:3] == [0.0, 0.0, 0.0]
    assert np.isnan(girls["value"][3]) and np.isnan(girls["ratio"][3])


def test_a_group_without_cases_has_no_recall_to_compare() -> None:
    no_case_first: list[Week] = [(1, 0), (1, 0), (0, 0), (0, 0)]
    no_case_second: list[Week] = [(0, 0), (0, 0), (1, 0), (1, 0)]
    frame = weeks(
        pupils("F", "fa", 5, FIRST),
        pupils("F", "fb", 5, SECOND),
        pupils("M", "ma", 5, no_case_first),
        pupils("M", "mb", 5, no_case_second),
    )
    table = fairness(frame, "gender", k=50)
    assert judged(table, "M") == {
        "flag_rate": "within",  # 1/2 each, like the girls
        "recall": "too few pupils",  # no boy is a case
        "false_positive_rate": "within",  # 2 of 4 non-case weeks, like the girls' 1 of 2
        "precision": "outside",  # 0 against the girls' 1/2
    }
    boys = table.filter(pl.col("group") == "M")
    assert boys["value"].to_list()[0] == 0.5 and boys["value"].to_list()[2:] == [0.5, 0.0]
    assert np.isnan(boys["value"][1])


def test_a_group_half_always_and_half_never_on_the_list_is_uncertain() -> None:
    # the boys' rates equal the girls' (ratio 1), but a resample can hold mostly either half
    frame = weeks(
        pupils("F", "fa", 5, FIRST),
        pupils("F", "fb", 5, SECOND),
        pupils("M", "ma", 5, ALWAYS),
        pupils("M", "mb", 5, NEVER),
    )
    table = fairness(frame, "gender", k=50)
    assert judged(table, "M") == {
        "flag_rate": "uncertain",
        "recall": "uncertain",
        "false_positive_rate": "uncertain",
        "precision": "too few pupils",  # only 5 boys were ever flagged
    }
    boys = table.filter(pl.col("group") == "M").head(3)
    assert boys["value"].to_list() == [0.5, 0.5, 0.5]
    assert boys["ratio"].to_list() == [1.0, 1.0, 1.0]
    assert (boys["ratio_low"] < 0.8).all() and (boys["ratio_high"] > 1.25).all()


def test_a_ratio_to_a_reference_rate_of_zero_is_not_defined_and_a_small_group_not_shown() -> None:
    # flagged only in the week they are a case: no false positive in any group
    case_first: list[Week] = [(1, 1), (0, 0)]
    case_second: list[Week] = [(0, 0), (1, 1)]
    frame = weeks(
        pupils("F", "fa", 5, case_first),
        pupils("F", "fb", 5, case_second),
        pupils("M", "ma", 5, case_first),
        pupils("M", "mb", 5, case_second),
        pupils("X", "x", 4, [(0, 0), (0, 0)]),
    )
    # 24 pupils a week, 10 places at k=40 (9.6 rounded up)
    assert set(group_metrics(frame, "gender", k=40)["group"]) == {"F", "M", "X"}
    table = fairness(frame, "gender", k=40)
    assert set(table["group"]) == {"F", "M"}  # X, 4 pupils: not shown
    assert judged(table, "M") == {
        "flag_rate": "within",
        "recall": "within",
        "false_positive_rate": "not defined",
        "precision": "within",
    }
    fpr = table.filter((pl.col("group") == "M") & (pl.col("metric") == "false_positive_rate"))
    assert fpr["value"].item() == 0.0 and np.isnan(fpr["ratio"].item())


def test_groups_are_shown_from_min_group_pupils_and_compared_only_in_twos() -> None:
    frame = weeks(
        pupils("F", "fa", 5, FIRST),
        pupils("F", "fb", 5, SECOND),
        pupils("M", "ma", 5, FIRST),
        pupils("M", "mb", 5, SECOND),
    )
    assert fairness(frame, "gender", k=50, min_group=10).height == 8
    hidden = fairness(frame, "gender", k=50, min_group=11)
    assert hidden.is_empty()
    assert hidden.columns == [
        "attribute",
        "group",
        "pupils",
        "metric",
        "value",
        "reference",
        "ratio",
        "ratio_low",
        "ratio_high",
        "verdict",
    ]
    only_girls = frame.with_columns(gender=pl.when(pl.col("gender") == "F").then(pl.col("gender")))
    assert fairness(only_girls, "gender", k=50).is_empty()  # one group: nothing to compare


def test_group_metrics_rank_every_pupil_before_leaving_out_unknown_attributes() -> None:
    # one week, 4 pupils, 2 places at k=50: g1 and the pupil of unknown gender
    frame = pl.DataFrame(
        {
            "student_key": ["g1", "u", "b", "g2"],
            "as_of": [MONDAY] * 4,
            "school_id": ["S"] * 4,
            "score": [0.9, 0.8, 0.1, 0.0],
            "label": [1, 0, 1, 0],
            "gender": ["F", None, "M", "F"],
        },
        schema=SCHEMA,
    )
    assert with_flags(frame, 50, seed=0)["_flag"].to_list() == [True, True, False, False]
    expected = pl.DataFrame(
        {
            "group": ["F", "M"],
            "flag_rate": [0.5, 0.0],
            "recall": [1.0, 0.0],  # ranked among girls and boys alone, b would be on the list
            "false_positive_rate": [0.0, NAN],  # no boy who is not a case
            "precision": [1.0, NAN],  # no boy flagged
            "pupils": pl.Series([2, 1], dtype=pl.UInt32),
            "attribute": ["gender", "gender"],
        }
    )
    assert_frame_equal(group_metrics(frame, "gender", k=50), expected)
    assert group_metrics(frame.with_columns(gender=None), "gender", k=50).is_empty()


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.8, 1.25, "within"),  # the band's ends belong to it
        (0.95, 1.05, "within"),
        (0.79, 1.0, "uncertain"),
        (1.0, 1.26, "uncertain"),
        (0.5, 2.0, "uncertain"),
        (0.5, 0.79, "outside"),
        (0.5, 0.8, "uncertain"),  # touching the band is not wholly outside it
        (1.26, 2.0, "outside"),
        (NAN, 1.0, "uncertain"),
        (NAN, NAN, "uncertain"),
    ],
)
def test_a_verdict_compares_the_interval_with_the_band(
    low: float, high: float, expected: str
) -> None:
    assert verdict(low, high) == expected


def test_an_interval_is_the_central_95_percent_unless_over_1_percent_is_lost() -> None:
    values = np.arange(101, dtype=float)  # 0..100
    assert interval(values) == (2.5, 97.5)
    one_lost = np.append(np.arange(99, dtype=float), np.nan)  # 1 of 100 lost
    assert interval(one_lost) == pytest.approx((2.45, 95.55))  # of 0..98
    two_lost = np.append(np.arange(98, dtype=float), [np.nan, np.inf])
    assert all(np.isnan(interval(two_lost)))
    assert all(np.isnan(interval(np.array([]))))


def test_group_sizes_are_rounded_to_tens_half_to_even() -> None:
    assert [round_pupils(n) for n in (10, 12, 14, 15, 16, 25, 35)] == [10, 10, 10, 20, 20, 20, 40]


def test_bootstrap_weights_resample_every_pupil_count_and_are_seeded() -> None:
    weights = bootstrap_weights(7, 50, seed=3)
    assert weights.shape == (50, 7)
    assert (weights.sum(axis=1) == 7).all()
    assert np.array_equal(weights, bootstrap_weights(7, 50, seed=3))
    assert not np.array_equal(weights, bootstrap_weights(7, 50, seed=4))


def test_fairlearn_point_estimates_match_the_totals_the_bootstrap_resamples() -> None:
    rng = np.random.default_rng(3)
    frame = pl.DataFrame(
        {
            "student_key": [f"p{i:03d}" for i in range(300)],
            "as_of": [MONDAY] * 300,
            "school_id": ["S"] * 300,
            "score": rng.random(300),
            "label": [int(i % 7 == 0) for i in range(300)],
            "sen": [i % 3 == 0 for i in range(300)],
        }
    )
    point = group_metrics(frame, "sen", k=10, seed=5)
    totals = _pupil_totals(with_flags(frame, 10, 5), "sen")
    for group in ("false", "true"):
        summed = totals.filter(pl.col("group") == group).drop("student_key", "group").sum()
        expected = _rates(summed.to_numpy()[0].astype(float))
        got = point.filter(pl.col("group") == group).select(*METRICS)
        assert got.to_numpy()[0] == pytest.approx(expected)


def test_bootstrap_sums_in_chunks_equal_the_whole_resample_matrix() -> None:
    from models.fairness import bootstrap_sums, bootstrap_weights

    rng = np.random.default_rng(0)
    pupils, n_boot = 50, 23
    counts = rng.integers(0, 5, size=(80, 3)).astype(float)  # rows of (pupil, group) totals
    index = rng.integers(0, pupils, size=80)
    whole = bootstrap_weights(pupils, n_boot, seed=7)[:, index] @ counts
    for cells in (pupils, 7 * pupils, 10_000):  # one resample at a time, 7, all at once
        (chunked,) = bootstrap_sums(pupils, [(index, counts)], n_boot, seed=7, chunk_cells=cells)
        assert chunked.shape == (n_boot, 3)
        assert np.array_equal(chunked, whole)
