from __future__ import annotations

import datetime as dt

import polars as pl

from models.labels import cases_known_before, is_known_case, label_rows, usable_for_training

D = dt.date
CASES = pl.LazyFrame(
    {
        "student_key": ["a", "b", "c", "d"],
        "case_type": ["school_refusal", "school_refusal", "truancy", "school_refusal"],
        "opened_on": [D(2024, 11, 20), D(2024, 10, 1), D(2024, 10, 20), D(2024, 12, 20)],
        "label_date": [D(2024, 11, 5), D(2024, 9, 20), D(2024, 10, 15), D(2024, 10, 1)],
    }
)


def labelled(as_of: dt.date) -> dict[str, dict[str, object]]:
    keys = pl.LazyFrame({"student_key": ["a", "b", "c", "d", "e"], "as_of": [as_of] * 5})
    rows = label_rows(keys, CASES, horizon_weeks=8).collect()
    return {r["student_key"]: r for r in rows.iter_rows(named=True)}


def test_label_window_is_open_at_the_as_of_date_and_closed_at_the_horizon() -> None:
    rows = labelled(D(2024, 10, 7))
    assert rows["a"]["label"] == 1  # 5 Nov is within 8 weeks
    assert rows["a"]["label_date"] == D(2024, 11, 5)
    assert rows["e"]["label"] == 0 and rows["e"]["outcome"] == "none"
    assert labelled(D(2024, 11, 5))["a"]["label"] == 0  # the label date itself is not after t
    assert labelled(D(2024, 9, 10))["a"]["label"] == 1  # 5 Nov is exactly 8 weeks on: inside
    assert labelled(D(2024, 9, 9))["a"]["label"] == 0  # and a day earlier it is not


def test_known_and_ambiguous_cases_and_other_case_types() -> None:
    rows = labelled(D(2024, 10, 7))
    assert rows["b"]["known_case"] and not rows["b"]["ambiguous"]  # opened 1 Oct
    assert rows["d"]["ambiguous"] and not rows["d"]["known_case"]  # began 1 Oct, opened in December
    assert rows["c"]["label"] == 0 and rows["c"]["outcome"] == "truancy"


def test_training_rows_need_a_closed_label_window_and_cases_known_in_time() -> None:
    frame = pl.DataFrame(
        {
            "as_of": [D(2024, 9, 2), D(2024, 10, 28)],
            "known_case": [False, False],
            "ambiguous": [False, False],
        }
    )
    kept = frame.filter(usable_for_training(D(2024, 12, 1), 8))
    assert kept["as_of"].to_list() == [D(2024, 9, 2)]  # 28 Oct + 8 weeks is after 1 Dec
    known = cases_known_before(CASES, D(2024, 11, 1)).collect()
    assert sorted(known["student_key"]) == ["b", "c"]  # a and d were opened later


def test_a_case_is_known_from_the_day_it_is_opened() -> None:
    # One rule for training and the weekly list: opened on the as-of date counts as known.
    cases = pl.DataFrame(
        {"case_type": ["school_refusal"] * 3 + ["truancy"], "opened_on": [D(2024, 10, 7)] * 4}
    )
    as_of = [D(2024, 10, 6), D(2024, 10, 7), D(2024, 10, 8), D(2024, 10, 8)]
    known = cases.with_columns(as_of=pl.Series(as_of)).select(is_known_case())
    assert known.to_series().to_list() == [False, True, True, False]
    assert labelled(D(2024, 11, 20))["a"]["known_case"]  # opened 20 Nov
    assert not labelled(D(2024, 11, 19))["a"]["known_case"]
