from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from models.metrics import expected_calibration_error, lead_times, precision_recall_at_k


def school(scores: list[float], labels: list[int], school_id: str = "S") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "as_of": [dt.date(2024, 10, 7)] * len(scores),
            "school_id": [school_id] * len(scores),
            "score": scores,
            "label": labels,
        }
    )


def test_ties_at_the_cut_count_by_their_expected_value() -> None:
    # 50 pupils: top 2% is 1 place. Ten pupils share the top score; one of them is a case.
    scores = [1.0] * 10 + [0.0] * 40
    labels = [1] + [0] * 49
    precision, recall = precision_recall_at_k(school(scores, labels), 2)
    assert precision == pytest.approx(0.1)
    assert recall == pytest.approx(0.1)
    # A model that puts the case alone at the top gets it fully.
    precision, recall = precision_recall_at_k(school([2.0, *scores[1:]], labels), 2)
    assert (precision, recall) == (1.0, 1.0)


def test_precision_is_pooled_over_schools() -> None:
    frame = pl.concat(
        [
            school([3, 2, 1] + [0] * 47, [1] + [0] * 49, "A"),
            school([3, 2, 1] + [0] * 47, [0, 1] + [0] * 48, "B"),
        ]
    )
    precision, recall = precision_recall_at_k(frame, 2)  # one place per school
    assert precision == pytest.approx(0.5)
    assert recall == pytest.approx(0.5)


def test_expected_calibration_error_is_zero_when_risks_match_rates() -> None:
    y = np.array([0, 0, 0, 1] * 25)
    assert expected_calibration_error(y, np.full(100, 0.25), bins=1) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.75), bins=1) == pytest.approx(0.5)


def test_lead_time_counts_weeks_from_the_first_flag_to_the_label_date() -> None:
    weeks = [dt.date(2024, 9, 2) + dt.timedelta(weeks=i) for i in range(4)]
    rows = []
    for i, week in enumerate(weeks):
        rows += [
            {
                "student_key": "case",
                "as_of": week,
                "school_id": "S",
                "score": float(i >= 1),
                "label": 1,
            },
            *[
                {"student_key": f"p{j}", "as_of": week, "school_id": "S", "score": 0.5, "label": 0}
                for j in range(20)
            ],
        ]
    frame = pl.DataFrame(rows).with_columns(label_date=pl.lit(dt.date(2024, 10, 7)))
    leads = lead_times(frame, k=2)
    assert leads.select("first_flag", "lead_weeks").rows() == [(weeks[1], 4.0)]


def test_summarise_reports_exactly_the_declared_metrics() -> None:
    from models.metrics import METRIC_KEYS, summarise

    frame = school([3.0, 2.0, 1.0] + [0.0] * 47, [1] + [0] * 49).with_columns(
        student_key=pl.Series([f"p{i}" for i in range(50)]),
        label_date=pl.lit(dt.date(2024, 11, 1)),
        risk=pl.col("score") / 10,
    )
    assert tuple(summarise(frame)) == METRIC_KEYS
