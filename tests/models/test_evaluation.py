from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from models.evaluation import fairness, group_metrics, lead_time_curve, signal_table

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
    assert curve["rule"].to_list()[0] <= 0.02 + 1e-9  # 2 ranked places among 100 tied pupils


def test_fairness_compares_groups_to_the_largest_and_suppresses_small_ones() -> None:
    frame = week(300, set(range(0, 300, 10)), seed=1).with_columns(
        score=pl.col("sick_bay_visits_4w") + pl.Series(np.random.default_rng(2).random(300)),
        gender=pl.Series(["F"] * 150 + ["M"] * 145 + ["X"] * 5),
    )
    per_group = group_metrics(frame, "gender", k=10)
    assert set(per_group["group"]) == {"F", "M", "X"}
    table = fairness(frame, "gender", k=10, n_boot=30)
    assert set(table["group"]) == {"F", "M"}  # X has 5 pupils: suppressed
    assert set(table["metric"]) == {"flag_rate", "recall", "false_positive_rate", "precision"}
    assert (table.filter(pl.col("group") == "F")["verdict"] == "reference").all()
    m = table.filter(pl.col("group") == "M")
    assert m["verdict"].is_in(["within", "outside", "uncertain"]).all()
    assert (m["ratio_low"] <= m["ratio"]).all() or m["ratio"].is_nan().any()
