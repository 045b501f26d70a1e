"""Running counts: one sort key per pupil-day, counts added up before each row, two look-ups
per window.

The literal pupil-days: pupil 0 on Friday 30 August 2024 (5 absent half-days, flagged),
Monday 2 September (1, flagged) and Thursday 5 September (3); pupil 1 on 2 September (nothing
filled in) and Tuesday 3 September (2, flagged); pupil 2 has no pupil-days at all.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.running import look_up, running_counts, sort_key

EPOCH = 2**31  # what day 0 (1 January 1970) of pupil 0 is shifted to
SPAN = 2**32  # one pupil's room
END = 2**63 - 1  # the totals row's key
AUG_30, SEP_2, SEP_3, SEP_5 = 19965, 19968, 19969, 19971  # days since 1 January 1970


def keys(pupils: list[int], dates: list[dt.date]) -> list[int]:
    frame = pl.DataFrame({"pupil": pupils, "date": dates}, schema_overrides={"pupil": pl.UInt32})
    return frame.select(sort_key(pl.col("pupil"), pl.col("date")).alias("key"))["key"].to_list()


@pytest.mark.parametrize(
    ("pupil", "date", "key"),
    [
        (0, dt.date(1970, 1, 1), 2_147_483_648),
        (0, dt.date(1969, 12, 31), 2_147_483_647),
        (0, dt.date(1900, 1, 1), 2_147_458_081),  # 25,567 days before 1970
        (0, dt.date(1, 1, 1), 2_146_764_486),  # 719,162 days before: still not negative
        (1, dt.date(1970, 1, 1), 6_442_450_944),
        (2, dt.date(2024, 9, 2), 10_737_438_208),  # 2 * 2**32 + 2**31 + 19,968
    ],
)
def test_the_sort_key_is_the_pupil_times_two_to_the_32_plus_the_shifted_day(
    pupil: int, date: dt.date, key: int
) -> None:
    assert keys([pupil], [date]) == [key]


def test_the_sort_key_orders_by_pupil_then_date_also_before_1970() -> None:
    pupils = [1, 0, 1, 0, 0, 1]
    dates = [
        dt.date(1969, 12, 31),
        dt.date(2024, 9, 2),
        dt.date(1900, 1, 1),
        dt.date(1969, 12, 31),
        dt.date(9999, 12, 31),
        dt.date(1, 1, 1),
    ]
    order = sorted(range(6), key=lambda i: keys(pupils, dates)[i])
    assert [(pupils[i], dates[i]) for i in order] == [
        (0, dt.date(1969, 12, 31)),
        (0, dt.date(2024, 9, 2)),
        (0, dt.date(9999, 12, 31)),
        (1, dt.date(1, 1, 1)),
        (1, dt.date(1900, 1, 1)),
        (1, dt.date(1969, 12, 31)),
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2**20), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))),
        min_size=2,
        max_size=20,
    )
)
def test_sorting_by_the_key_is_sorting_by_pupil_and_date(rows: list[tuple[int, dt.date]]) -> None:
    got = keys([p for p, _ in rows], [d for _, d in rows])
    assert sorted(range(len(rows)), key=lambda i: got[i]) == sorted(
        range(len(rows)), key=lambda i: rows[i]
    )


PUPIL_DAYS = pl.LazyFrame(
    # out of order on purpose: running_counts sorts
    {
        "pupil": [1, 0, 0, 1, 0],
        "date": [
            dt.date(2024, 9, 3),
            dt.date(2024, 9, 5),
            dt.date(2024, 8, 30),
            dt.date(2024, 9, 2),
            dt.date(2024, 9, 2),
        ],
        "absent": [2, 3, 5, None, 1],
        "flag": [True, False, True, None, True],
    },
    schema_overrides={"pupil": pl.UInt32, "absent": pl.Int32},
)
COUNTS = pl.DataFrame(
    {
        "key": [
            EPOCH + AUG_30,
            EPOCH + SEP_2,
            EPOCH + SEP_5,
            SPAN + EPOCH + SEP_2,
            SPAN + EPOCH + SEP_3,
            END,
        ],
        "absent": [0, 5, 6, 9, 9, 11],
        "flag": [0, 1, 2, 2, 2, 3],
    },
    schema=pl.Schema({"key": pl.Int64(), "absent": pl.Int64(), "flag": pl.Int64()}),
)
"""What came before each pupil-day (nulls as 0, flags as 1), and a last row with the totals."""


def test_running_counts_add_up_everything_before_each_row_and_end_with_the_totals() -> None:
    got = running_counts(PUPIL_DAYS, ["absent", "flag"]).collect()
    assert_frame_equal(got, COUNTS)


def test_running_counts_of_no_pupil_days_are_one_row_of_zeros() -> None:
    got = running_counts(PUPIL_DAYS.clear(), ["absent", "flag"]).collect()
    assert got.rows() == [(END, 0, 0)]


PAIRS = [("absent", "lo", "absent_lo"), ("absent", "hi", "absent_hi"), ("flag", "hi", "flag_hi")]
SEEN = (pl.lit(dt.date(2024, 9, 2)), pl.lit(dt.date(2024, 9, 5)))
"""The pupils may see 2 September up to (not including) 5 September."""


def looked_up(
    lo: list[dt.date | None], hi: list[dt.date | None], pupils: list[int]
) -> pl.DataFrame:
    frame = pl.LazyFrame(
        {"pupil": pupils, "lo": lo, "hi": hi},
        schema=pl.Schema({"pupil": pl.UInt32(), "lo": pl.Date(), "hi": pl.Date()}),
    )
    return look_up(frame, COUNTS, PAIRS, SEEN).collect()


def test_look_up_reads_the_running_count_just_before_each_edge() -> None:
    got = looked_up(
        lo=[dt.date(2024, 9, 2), dt.date(2024, 9, 3), dt.date(2024, 9, 3)],
        hi=[dt.date(2024, 9, 3), dt.date(2024, 9, 4), dt.date(2024, 9, 4)],
        pupils=[0, 1, 2],
    )
    expected = pl.DataFrame(
        {
            "pupil": [0, 1, 2],
            "lo": [dt.date(2024, 9, 2), dt.date(2024, 9, 3), dt.date(2024, 9, 3)],
            "hi": [dt.date(2024, 9, 3), dt.date(2024, 9, 4), dt.date(2024, 9, 4)],
            # pupil 0: the row of 2 Sep, then the row after it; pupil 1: the row of 3 Sep, then
            # the totals; pupil 2, with no days, finds the totals row at both edges
            "absent_lo": [5, 9, 11],
            "absent_hi": [6, 11, 11],
            "flag_hi": [2, 3, 3],
        },
        schema_overrides={"pupil": pl.UInt32},
    )
    assert_frame_equal(got, expected)


def test_the_difference_of_two_look_ups_is_the_count_between_the_edges() -> None:
    got = looked_up(
        lo=[dt.date(2024, 9, 2), dt.date(2024, 9, 2), dt.date(2024, 9, 3), dt.date(2024, 9, 2)],
        hi=[dt.date(2024, 9, 3), dt.date(2024, 9, 2), dt.date(2024, 9, 4), dt.date(2024, 9, 4)],
        pupils=[0, 0, 1, 2],
    )
    between = got.select(pl.col("absent_hi") - pl.col("absent_lo"))["absent_hi"].to_list()
    # [2, 3) holds pupil 0's 1; [2, 2) nothing; [3, 4) pupil 1's 2; pupil 2 has no days
    assert between == [1, 0, 2, 0]


def test_edges_outside_what_is_seen_are_moved_onto_it() -> None:
    got = looked_up(
        lo=[dt.date(2024, 8, 1), dt.date(1990, 1, 1)],
        hi=[dt.date(2024, 9, 6), dt.date(2030, 1, 1)],
        pupils=[0, 1],
    )
    # pupil 0: [1 Aug, 6 Sep) becomes [2 Sep, 5 Sep): the 5 of 30 Aug and the 3 of 5 Sep are
    # not seen, only the 1 of 2 Sep; pupil 1: all of its 2 (a null counts as 0)
    assert got.select("absent_lo", "absent_hi").rows() == [(5, 6), (9, 11)]
    assert got.select(pl.col("absent_hi") - pl.col("absent_lo"))["absent_hi"].to_list() == [1, 2]


def test_a_null_edge_gives_a_null_count() -> None:
    got = looked_up(lo=[None], hi=[dt.date(2024, 9, 3)], pupils=[1])
    assert got.select("absent_lo", "absent_hi", "flag_hi").rows() == [(None, 9, 2)]
