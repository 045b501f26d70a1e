from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from models.evaluation import (
    calibration_bins,
    error_profile,
    false_positive_outcomes,
    lead_time_curve,
    ranking_table,
    sample_sizes,
    signal_table,
    weekly_precision,
)

WEEK = dt.date(2024, 10, 7)


def week(n_pupils: int, cases: set[int], seed: int = 0) -> pl.DataFrame:
    """One as-of week at one school; pupils in ``cases`` become a case 3 weeks later."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "as_of": [WEEK] * n_pupils,
            "school_id": ["S"] * n_pupils,
            "student_key": [f"p{i:03d}" for i in range(n_pupils)],
            "label": [int(i in cases) for i in range(n_pupils)],
            "label_date": [
                WEEK + dt.timedelta(weeks=3) if i in cases else None for i in range(n_pupils)
            ],
            "sick_bay_visits_4w": [5.0 if i in cases else 0.0 for i in range(n_pupils)],
            "b_halfdays_ytd": rng.integers(0, 3, n_pupils).astype(float),
            "school_weeks_into_year": [6.0] * n_pupils,
        }
    )


def test_a_signal_that_marks_every_case_has_full_precision_and_a_constant_one_the_base_rate() -> (
    None
):
    frame = week(100, {1, 2, 3, 4, 5})
    table = signal_table(frame, ["sick_bay_visits_4w", "school_weeks_into_year"], k=5)
    rows = {r["feature"]: r for r in table.iter_rows(named=True)}
    assert rows["sick_bay_visits_4w"]["precision"] == pytest.approx(1.0)
    assert rows["sick_bay_visits_4w"]["lift"] == pytest.approx(20.0)
    assert rows["sick_bay_visits_4w"]["median_lead_weeks"] == pytest.approx(3.0)
    assert rows["school_weeks_into_year"]["precision"] == pytest.approx(0.05)  # ties share the list
    assert rows["sick_bay_visits_4w"]["prevalence"] == pytest.approx(0.05)


def test_lead_time_curve_counts_cases_flagged_at_least_n_weeks_ahead() -> None:
    frame = week(100, {1, 2})
    good = frame.with_columns(score=pl.col("sick_bay_visits_4w"))
    blind = frame.with_columns(score=pl.lit(0.0))
    curve = lead_time_curve({"model": good, "rule": blind}, k=2, max_weeks=4)
    assert curve["model"].to_list() == [1.0, 1.0, 1.0, 1.0, 0.0]  # flagged 3 weeks ahead
    # 2 places among 100 tied pupils: a case is flagged 2% of the time (averaged over 5 draws)
    assert curve["rule"].to_list()[0] <= 0.2


def scored_weeks(n_weeks: int, n_pupils: int, cases: set[int], perfect: bool) -> pl.DataFrame:
    """``n_weeks`` weeks of one school; ``cases`` are positive every week."""
    rng = np.random.default_rng(8)
    frames = []
    for w in range(n_weeks):
        label = [int(i in cases) for i in range(n_pupils)]
        frames.append(
            pl.DataFrame(
                {
                    "as_of": [WEEK + dt.timedelta(weeks=w)] * n_pupils,
                    "school_id": ["S"] * n_pupils,
                    "student_key": [f"p{i:03d}" for i in range(n_pupils)],
                    "label": label,
                    "label_date": [
                        WEEK + dt.timedelta(weeks=n_weeks + 2) if y else None for y in label
                    ],
                    "score": [
                        float(y) if perfect else float(v)
                        for y, v in zip(label, rng.random(n_pupils), strict=True)
                    ],
                    "risk": [0.9 if y and perfect else 0.01 for y in label],
                }
            )
        )
    return pl.concat(frames)


def test_ranking_table_gives_a_perfect_model_full_precision_and_its_gain_over_a_baseline() -> None:
    cases = set(range(0, 200, 10))  # 20 cases among 200 pupils: the top 10% exactly
    perfect = scored_weeks(4, 200, cases, perfect=True)
    noise = scored_weeks(4, 200, cases, perfect=False)
    table = ranking_table(
        {"noise": noise, "perfect": perfect}, ks=(10,), n_boot=50, baseline="noise"
    )
    rows = {r["model"]: r for r in table.iter_rows(named=True)}
    assert rows["perfect"]["precision_at_10"] == pytest.approx(1.0)
    assert rows["perfect"]["recall_at_10"] == pytest.approx(1.0)
    assert rows["perfect"]["precision_at_10_low"] == pytest.approx(1.0)
    assert rows["perfect"]["lift_at_10"] == pytest.approx(10.0)
    assert rows["noise"]["gain_at_10"] == pytest.approx(1.0)
    assert rows["perfect"]["gain_at_10"] == pytest.approx(1.0 / rows["noise"]["precision_at_10"])
    assert rows["perfect"]["flagged_4w_ahead"] == pytest.approx(1.0)  # flagged 6 weeks ahead


def test_weekly_precision_and_calibration_bins() -> None:
    perfect = scored_weeks(3, 100, {1, 2}, perfect=True)
    weekly = weekly_precision({"m": perfect}, k=2)
    assert weekly.height == 3 and (weekly["precision"] == 1.0).all()
    bins = calibration_bins(perfect, bins=5)
    assert bins["rows"].sum() == 300
    assert bins["observed"].to_list()[-1] > bins["observed"].to_list()[0]


def test_sample_sizes_count_each_case_once_however_many_weeks_lead_to_it() -> None:
    # two schools, three weeks each; pupils 1 and 2 of school S are positive every week
    frame = pl.concat(
        [
            scored_weeks(3, 20, {1, 2}, perfect=True).with_columns(split=pl.lit("a")),
            scored_weeks(3, 30, set(), perfect=True).with_columns(
                school_id=pl.lit("T"), student_key="t" + pl.col("student_key"), split=pl.lit("b")
            ),
        ]
    )
    assert sample_sizes(frame).row(0, named=True) == {
        "splits": 2,
        "schools": 2,
        "pupils": 50,
        "weeks": 3,
        "pupil_weeks": 150,
        "positive_weeks": 6,
        "cases": 2,
    }


def test_false_positives_are_named_by_what_they_turn_out_to_be_and_small_cells_hidden() -> None:
    n = 400
    frame = week(n, set()).with_columns(
        score=pl.Series(np.arange(n, dtype=float)),
        outcome=pl.Series(["truancy" if i >= 380 else "none" for i in range(n)]),
        later_refusal=pl.Series([360 <= i < 365 for i in range(n)]),
    )
    table = false_positive_outcomes(frame, k=10)  # the 40 highest scores are flagged
    rows = {r["turns_out"]: r for r in table.iter_rows(named=True)}
    assert rows["truancy case in the window"]["pupils"] == 20
    assert rows["school refusal after the window"]["suppressed"]
    assert rows["school refusal after the window"]["pupils"] is None
    # one hidden cell would follow from the total: the next smallest (15) is hidden too
    assert rows["no case"]["suppressed"] and rows["no case"]["pupils"] is None


def test_error_profile_puts_the_feature_that_separates_most_first() -> None:
    frame = week(400, set(range(12))).with_columns(
        score=pl.col("sick_bay_visits_4w") + pl.Series(np.random.default_rng(9).random(400))
    )
    table = error_profile(frame, ["sick_bay_visits_4w", "b_halfdays_ytd"], k=10)
    assert table["feature"][0] == "sick_bay_visits_4w"
    assert table["true_positives"][0] == pytest.approx(5.0)  # 12 cases, 28 others flagged
    assert table["false_positives"][0] == pytest.approx(0.0)
    hidden = error_profile(frame.filter(pl.col("student_key") > "p005"), ["b_halfdays_ytd"], k=10)
    assert hidden["true_positives"][0] is None  # 6 flagged cases: fewer than 10 pupils
