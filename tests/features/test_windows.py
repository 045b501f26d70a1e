"""Window counts: running counts looked up at two edges add up exactly the days between."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

from features.running import look_up
from features.windows import EDGES, SLOPE, WINDOWS, between, running_lookups, share
from tests.features.builders import AS_OF, prepared


def test_window_counts_add_up_exactly_the_pupil_days_between_their_edges() -> None:
    prep = prepared()
    first, last = dt.date(2024, 6, 1), AS_OF  # what the pupils may see: edges are moved inside
    edges = pl.date_range(dt.date(2024, 5, 27), dt.date(2024, 10, 14), "1d", eager=True)
    grid = (
        prep.pupils.lazy()
        .join(pl.LazyFrame({"lo": edges}), how="cross")
        .join(pl.LazyFrame({"hi": edges}), how="cross")
        .filter(pl.col("lo") <= pl.col("hi"))
    )
    counts = [
        between("absent_halves", "lo", "hi").alias("absent"),
        between("late_minutes", "lo", "hi").alias("minutes"),
    ]
    got = look_up(grid, prep.counts, running_lookups(counts), (pl.lit(first), pl.lit(last)))
    inside = (pl.col("date") >= pl.col("lo").clip(first, last)) & (
        pl.col("date") < pl.col("hi").clip(first, last)
    )
    expected = (
        grid.join(
            prep.pupil_days.lazy().join(prep.pupils.lazy(), on="student_key"),
            on="pupil",
            how="left",
        )
        .group_by("pupil", "lo", "hi")
        .agg(
            pl.when(inside).then(pl.col(c)).otherwise(0).sum().cast(pl.Int32).alias(name)
            for c, name in (("absent_halves", "absent"), ("late_minutes", "minutes"))
        )
    )
    keys = ["pupil", "lo", "hi"]
    assert_frame_equal(
        got.select(*keys, *counts).sort(keys).collect(), expected.sort(keys).collect()
    )
    assert expected.select(pl.col("absent").max()).collect().item() > 0


def test_every_window_is_a_span_between_two_edges_and_the_slope_weeks_chain() -> None:
    assert WINDOWS == ("1w", "2w", "4w", "8w", "12w", "ytd")
    assert EDGES["4w"] == ("start_4w", "as_of")
    assert EDGES["prev"] == ("start_history", "start_ytd")
    assert [EDGES[w] for w in SLOPE[:3]] == [
        ("wk_1", "as_of"),
        ("wk_2", "wk_1"),
        ("wk_3", "wk_2"),
    ]


def test_a_share_over_nothing_is_zero() -> None:
    frame = pl.DataFrame({"n": [3, 0, 2], "d": [4, 0, 0]})
    got = frame.select(share(pl.col("n"), pl.col("d")).alias("s"))["s"].to_list()
    assert got == [0.75, 0.0, 0.0]
