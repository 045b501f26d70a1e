from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from models.extract import research_extract, research_extract_chunks

MONDAY = dt.date(2024, 10, 7)
NEXT = MONDAY + dt.timedelta(weeks=1)
D = dt.timedelta(days=1)

SCHEMA = {
    "student_key": pl.String,
    "school_id": pl.String,
    "class_key": pl.String,
    "as_of": pl.Date,
    "split": pl.String,
    "label": pl.Int32,
    "label_date": pl.Date,
    "case_type": pl.String,
    "gender": pl.String,
    "ses_low": pl.Boolean,
    "sen": pl.Boolean,
    "sick_bay_visits_4w": pl.Float64,
}
ROWS = [
    # key, school, class, as_of, split, label, label date, case type, gender, ses_low, sen, visits
    # at school A two girls share a combination of attributes (a cell of 2), one boy is alone
    ("ka", "school-A", "1A", MONDAY, "s1", 1, MONDAY + 10 * D, "refusal", "F", False, False, 0.0),
    ("ka", "school-A", "1A", NEXT, "s1", 1, MONDAY + 10 * D, "refusal", "F", False, False, 1.0),
    ("kb", "school-A", "1B", MONDAY, "s1", 1, MONDAY + 14 * D, "refusal", "F", False, False, 2.0),
    ("kb", "school-A", "1B", NEXT, "s1", 0, None, None, "F", False, False, 3.0),
    ("kc", "school-A", "1A", MONDAY, "s1", 1, MONDAY + 15 * D, "refusal", "M", True, False, 4.0),
    # at school B the girls' combination holds one pupil: small, though school A has two
    ("kd", "school-B", "2A", MONDAY, None, 1, MONDAY, "refusal", "F", False, False, 5.0),
    # an unknown gender is part of the combination: this pupil is alone in its cell
    ("ke", "school-B", "2A", MONDAY, None, 0, None, None, None, True, False, 6.0),
    ("kf", "school-B", "2A", MONDAY, None, 0, None, None, None, None, None, 7.0),
]


def pupil_weeks() -> pl.DataFrame:
    return pl.DataFrame(ROWS, schema=SCHEMA, orient="row")


def extract(frame: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    return research_extract(
        frame, ["sick_bay_visits_4w"], min_cell=2, rng=np.random.default_rng(seed)
    )


def test_the_extract_keeps_the_features_label_week_and_split_under_new_ids() -> None:
    frame = pupil_weeks()
    out = extract(frame)
    assert out.columns == [
        "pupil",
        "school",
        "as_of",
        "split",
        "label",
        "weeks_to_label",
        "gender",
        "ses_low",
        "sen",
        "sick_bay_visits_4w",
    ]
    assert set(out["pupil"]) == {"P1", "P2", "P3", "P4", "P5", "P6"}
    assert set(out["school"]) == {"S1", "S2"}
    # each pupil's visits are their own (kb: 2 and 3): rows follow pupils one to one
    by_visits = dict(zip(out["sick_bay_visits_4w"], out["pupil"], strict=True))
    assert by_visits[0.0] == by_visits[1.0] and by_visits[2.0] == by_visits[3.0]
    assert len(set(by_visits.values())) == 6
    schools = out.group_by("school").agg(pl.col("sick_bay_visits_4w").sort())
    assert sorted(schools["sick_bay_visits_4w"].to_list()) == [
        [0.0, 1.0, 2.0, 3.0, 4.0],
        [5.0, 6.0, 7.0],
    ]
    assert out.equals(out.sort("school", "pupil", "as_of"))  # no trace of the input's order
    assert_frame_equal(frame, pupil_weeks())  # the input is left as it was


def test_weeks_to_the_label_are_whole_weeks_rounded_up() -> None:
    out = extract(pupil_weeks()).sort("sick_bay_visits_4w")
    # 10 days, the same date a week later (3 days), 14 days, no case, 15 days, the as-of date
    # itself, no case twice
    assert out["weeks_to_label"].to_list() == [2, 1, 2, None, 3, 0, None, None]
    assert out["weeks_to_label"].dtype == pl.Int8


def test_attributes_are_blanked_in_cells_under_min_cell_pupils_within_a_school() -> None:
    out = extract(pupil_weeks()).sort("sick_bay_visits_4w")
    assert out["gender"].to_list() == ["F", "F", "F", "F", None, None, None, None]
    assert out["ses_low"].to_list() == [False] * 4 + [None] * 4
    assert out["sen"].to_list() == [False] * 4 + [None] * 4
    # a cell counts pupils, not rows: two weeks of one girl are not a cell of two
    one_girl = pupil_weeks().filter(pl.col("student_key") != "kb")
    school_a = extract(one_girl).filter(pl.col("sick_bay_visits_4w") < 5)
    assert school_a["gender"].to_list() == [None, None, None]


def test_ids_are_numbered_from_one_as_wide_as_the_largest() -> None:
    frame = pl.concat(
        [pupil_weeks().with_columns(student_key=pl.col("student_key") + str(i)) for i in range(2)]
    )
    out = extract(frame, seed=1)
    assert sorted(set(out["pupil"])) == [f"P{n:02d}" for n in range(1, 13)]
    assert sorted(set(out["school"])) == ["S1", "S2"]


def test_the_extract_in_chunks_of_one_pupil_is_the_whole_extract() -> None:
    frame = pupil_weeks()
    whole = extract(frame, seed=5)
    chunks = list(
        research_extract_chunks(
            frame.lazy(),
            ["sick_bay_visits_4w"],
            min_cell=2,
            rng=np.random.default_rng(5),
            pupils_per_chunk=1,
        )
    )
    assert len(chunks) == 6  # one per pupil, each read on its own
    assert_frame_equal(pl.concat(chunks), whole)
    empty = research_extract(frame.clear(), ["sick_bay_visits_4w"], min_cell=2)
    assert empty.height == 0 and empty.columns == whole.columns
