from __future__ import annotations

import datetime as dt

import polars as pl

from features.canonical.append import append
from features.canonical.codes import builtin_profile
from features.canonical.tables import CANONICAL_COLUMNS, IngestOptions, canonicalise
from tests.conftest import TINY, raw_tables

KEY = bytes(range(32))


def tables() -> dict[str, pl.DataFrame]:
    return canonicalise(
        raw_tables(TINY), IngestOptions(profile=builtin_profile("flanders"), key=KEY)
    ).tables


def late(rows: list[tuple[str, dt.date, str]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows, schema={"student_key": pl.String, "date": pl.Date, "time": pl.String}, orient="row"
    )
    return frame.with_columns(
        school_id=pl.lit("S1"),
        minutes_late=pl.lit(None, dtype=pl.Int32),
        source=pl.lit("late_arrivals"),
    ).select(CANONICAL_COLUMNS["late_arrivals"])


def test_late_twice_a_day_is_two_events_and_the_same_row_again_is_one() -> None:
    held, new = tables(), tables()
    day = dt.date(2024, 9, 10)
    held["late_arrivals"] = late([("k1", day, "08:40")])
    new["late_arrivals"] = late([("k1", day, "08:40"), ("k1", day, "13:05")])
    done = append(held, new, builtin=True)
    assert done.tables["late_arrivals"]["time"].to_list() == ["08:40", "13:05"]
    account = next(a for a in done.reconciliation if a.table == "late_arrivals")
    assert (account.already_held, account.replaced, account.total) == (1, 0, 2)
    assert all(a.balanced for a in done.reconciliation)


def test_the_built_in_calendar_covers_every_event_held_or_new() -> None:
    held, new = tables(), tables()
    # The new export's events are all in the next school year; the held ones in 2024-25.
    new["absences"] = new["absences"].with_columns(pl.col("date") + dt.timedelta(days=364))
    done = append(held, new, builtin=True)
    days = done.tables["calendar"]["date"]
    assert days.min() <= dt.date(2024, 9, 2) and days.max() >= dt.date(2025, 9, 8)
    # An export's own calendar is the export's.
    assert append(held, new, builtin=False).tables["calendar"].equals(new["calendar"])
