from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from models import drift
from models.splits import make_split
from models.training import (
    WEIGHT,
    TrainingTable,
    compact,
    kept_fraction,
    row_counts,
    sample_fit_rows,
)

MONDAY = dt.date(2024, 9, 2)
WEEK = dt.timedelta(weeks=1)
FEATURES = ["absence_rate_4w", "late_arrivals_4w"]


def rows(weeks: int = 6, pupils: int = 200, seed: int = 1) -> pl.DataFrame:
    """Usable rows of two schools over ``weeks`` weeks; about 1 in 20 rows a positive."""
    rng = np.random.default_rng(seed)
    frames = []
    for week in range(weeks):
        as_of = MONDAY + week * WEEK
        label = (rng.random(pupils) < 0.05).astype(np.int32)
        frames.append(
            pl.DataFrame(
                {
                    "student_key": [f"k{i:04d}" for i in range(pupils)],
                    "as_of": [as_of] * pupils,
                    "school_id": ["S1" if i % 3 else "S2" for i in range(pupils)],
                    "class_key": ["1A"] * pupils,
                    "label": label,
                    "label_date": [as_of + 3 * WEEK if y else None for y in label],
                    "absence_rate_4w": rng.random(pupils) / 3,
                    "late_arrivals_4w": rng.poisson(1, pupils).astype(float),
                    "unused_feature": rng.random(pupils),
                },
                schema_overrides={"label_date": pl.Date},
            )
        )
    return pl.concat(frames)


def test_every_positive_is_kept_and_weights_restore_each_school_weeks_negatives() -> None:
    data = rows()
    sampled = sample_fit_rows(data.lazy(), fraction=0.25, seed=0).collect()
    positives = data.filter(pl.col("label") == 1)
    kept_positives = sampled.filter(pl.col("label") == 1)
    assert kept_positives.height == positives.height
    assert (kept_positives[WEIGHT] == 1.0).all()
    # Per school-week, the kept negatives' weights add up to the true count of negatives,
    # and about a quarter of them (rounded up) is kept.
    true = data.filter(pl.col("label") == 0).group_by("school_id", "as_of").len("negatives")
    weighted = (
        sampled.filter(pl.col("label") == 0)
        .group_by("school_id", "as_of")
        .agg(pl.col(WEIGHT).sum().alias("weighted"), pl.len().alias("kept"))
    )
    both = true.join(weighted, on=["school_id", "as_of"], how="full", coalesce=True)
    assert both.height == true.height == 12  # 2 schools x 6 weeks, none lost
    assert np.allclose(both["weighted"], both["negatives"])
    assert (both["kept"] == (both["negatives"] * 0.25).ceil().cast(pl.UInt32)).all()
    assert sampled.height < 0.35 * data.height


def test_the_sample_is_deterministic_for_a_seed_and_independent_of_row_order() -> None:
    data = rows()
    key = ["as_of", "school_id", "student_key"]
    first = sample_fit_rows(data.lazy(), 0.25, seed=3).collect().sort(key)
    again = sample_fit_rows(data.sample(fraction=1.0, shuffle=True, seed=9).lazy(), 0.25, seed=3)
    assert_frame_equal(first, again.collect().sort(key))
    other = sample_fit_rows(data.lazy(), 0.25, seed=4).collect().sort(key)
    assert not first["student_key"].equals(other["student_key"])


def test_a_fraction_of_one_keeps_every_row_with_weight_one() -> None:
    data = rows(weeks=2)
    sampled = sample_fit_rows(data.lazy(), 1.0, seed=0).collect()
    assert sampled.height == data.height
    assert (sampled[WEIGHT] == 1.0).all()


def test_only_the_used_columns_are_read_in_compact_types(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    rows(weeks=2).write_parquet(path)
    lazy = compact(pl.scan_parquet(path), FEATURES, categorical_keys=True)
    plan = lazy.explain()
    # The scan reads 7 of the file's 9 columns: never class_key or unused_feature.
    assert "7/9 COLUMNS" in plan, plan
    frame = lazy.collect()
    assert frame.columns == ["student_key", "as_of", "school_id", "label", "label_date", *FEATURES]
    assert frame.schema["absence_rate_4w"] == pl.Float32
    assert frame.schema["late_arrivals_4w"] == pl.Float32
    assert frame.schema["label"] == pl.Int8
    assert isinstance(frame.schema["student_key"], pl.Categorical)
    assert isinstance(frame.schema["school_id"], pl.Categorical)


def test_the_table_fits_on_the_sample_and_tests_on_every_row(tmp_path: Path) -> None:
    data = rows(weeks=12)
    for as_of, week in data.group_by("as_of"):
        folder = tmp_path / f"as_of={as_of[0]}"
        folder.mkdir()
        week.write_parquet(folder / "rows.parquet")
    read: list[list[dt.date]] = []

    def scan(dates: Sequence[dt.date]) -> pl.LazyFrame:
        read.append(list(dates))
        return pl.concat([pl.scan_parquet(tmp_path / f"as_of={d}" / "rows.parquet") for d in dates])

    dates = sorted(data["as_of"].unique().to_list())
    table = TrainingTable.over(scan, dates, FEATURES, fraction=0.25, seed=0)
    assert table.rows == data.height
    assert table.positives == int(data["label"].sum())
    split = make_split("s", MONDAY + 10 * WEEK, 2, 2, 2)  # fit < week 4, calibrate 4-5
    fit = table.fit(split)
    expected = (
        sample_fit_rows(data.lazy().filter(pl.col("as_of") < split.fit_end), 0.25, 0)
        .collect()
        .sort("as_of", "school_id", "student_key")
    )
    assert fit["student_key"].cast(pl.String).to_list() == expected["student_key"].to_list()
    assert np.allclose(fit[WEIGHT].to_numpy(), expected[WEIGHT].to_numpy())
    assert (fit["as_of"] < split.fit_end).all()
    test = table.part(split, "test")
    whole = data.filter(split.part("test"))
    assert test.height == whole.height and WEIGHT not in test.columns
    assert test["label"].sum() == whole["label"].sum()
    assert table.rows_before(split.fit_end) == data.filter(split.part("fit")).height
    # The fit rows are read once, one as-of date at a time, and kept for every split after.
    reads = len(read)
    table.fit(make_split("t", MONDAY + 11 * WEEK, 2, 2, 1))
    assert len(read) == reads
    assert all(len(d) == 1 for d in read[1:])  # the first read counts the labels of all
    with pytest.raises(ValueError, match="fit"):
        table.part(split, "fit")


def test_the_negatives_kept_grow_with_the_positives_not_with_the_rows() -> None:
    # 1,000 positives among 1,000,000 rows: 50 negatives a positive is 5% of them.
    assert kept_fraction(1_000_000, 1_000, 0.25, 50) == pytest.approx(50_000 / 999_000)
    assert kept_fraction(10_000_000, 1_000, 0.25, 50) == pytest.approx(50_000 / 9_999_000)
    assert kept_fraction(10_000, 1_000, 0.25, 50) == 0.25  # the share is the most kept
    assert kept_fraction(10_000, 0, 0.25, 50) == 0.25  # nothing to compare with
    assert kept_fraction(10_000, 1_000, 0.25, None) == 0.25


def test_the_table_keeps_about_the_asked_negatives_per_positive(tmp_path: Path) -> None:
    data = rows(weeks=20, pupils=1_000)  # about 1 in 20 rows a positive
    lazy = data.lazy()
    dates = sorted(data["as_of"].unique().to_list())
    table = TrainingTable.over(
        lambda ds: lazy.filter(pl.col("as_of").is_in(list(ds))),
        dates,
        FEATURES,
        fraction=0.5,
        per_positive=4,
    )
    positives = int(data["label"].sum())
    assert table.fraction == pytest.approx(4 * positives / (data.height - positives))
    pool = table.pool
    negatives = pool.filter(pl.col("label") == 0)
    assert pool.height - negatives.height == positives  # every positive is kept
    # ceil() per school-week keeps a few more than 4 a positive; the weights add up to all.
    assert 4 * positives <= negatives.height <= 4 * positives + 2 * len(dates)
    assert negatives[WEIGHT].sum() == pytest.approx(data.height - positives)


def test_row_counts_count_every_row_and_positive_per_date() -> None:
    data = rows(weeks=3)
    counts = row_counts(lambda ds: data.lazy().filter(pl.col("as_of").is_in(list(ds))), [MONDAY])
    assert counts.to_dicts() == [
        {
            "as_of": MONDAY,
            "rows": 200,
            "positives": int(data.filter(pl.col("as_of") == MONDAY)["label"].sum()),
        }
    ]


def test_drift_reference_of_a_lazy_frame_equals_that_of_the_frame() -> None:
    data = rows(weeks=6).with_columns(
        school_weeks_into_year=((pl.col("as_of") - MONDAY).dt.total_days() // 7 + 1).cast(
            pl.Float64
        )
    )
    # The bins as they were computed from the whole frame in memory, week by week.
    weeks = data[drift.WEEK].cast(pl.Int64)
    expected = {
        str(week): {
            name: drift._bins(data.filter((weeks - week).abs() <= drift.SEASON_WEEKS)[name])
            for name in FEATURES
        }
        for week in sorted(weeks.unique().to_list())
    }
    assert drift.reference(data.lazy(), FEATURES) == expected
    assert drift.reference(data, FEATURES) == expected
