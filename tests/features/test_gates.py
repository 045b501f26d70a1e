"""Data gates on literal weeks: one school, Monday to Friday, five weeks before the list."""

from __future__ import annotations

import datetime as dt

import polars as pl

from features import gates

AS_OF = dt.date(2024, 10, 7)  # a Monday; the weeks before start 2 Sep .. 30 Sep
WEEKS = [dt.date(2024, 9, 2) + dt.timedelta(weeks=i) for i in range(5)]
DAYS = pl.DataFrame(
    {
        "school_id": "S1",
        "date": [w + dt.timedelta(days=d) for w in WEEKS for d in range(5)],
        "school_day": True,
        "week_start": [w for w in WEEKS for _ in range(5)],
    }
)
ENROLLED = pl.DataFrame({"school_id": ["S1"], "pupils": [100]})


def pupil_days(per_week: list[dict[str, int]]) -> pl.DataFrame:
    """One row per absent half-day pupil-day: ``absent`` rows on the week's Monday to Friday,
    ``b`` of them B-codes, and ``late``/``sick_bay`` on rows of their own."""
    rows = []
    for week, counts in zip(WEEKS, per_week, strict=True):
        for i in range(counts.get("absent", 0)):
            rows.append(
                (f"p{i}", week + dt.timedelta(days=i % 5), 1, int(i < counts.get("b", 0)), 0, 0)
            )
        for i in range(counts.get("late", 0)):
            rows.append((f"l{i}", week, 0, 0, 1, 0))
        for i in range(counts.get("sick_bay", 0)):
            rows.append((f"s{i}", week, 0, 0, 0, 1))
    columns = ["student_key", "date", "absent_halves", "b_halves", "late_count", "sick_bay_count"]
    return pl.DataFrame(rows, schema=columns, orient="row").with_columns(school_id=pl.lit("S1"))


def counts(per_week: list[dict[str, int]]) -> pl.DataFrame:
    """The gates' weekly counts of :func:`pupil_days`."""
    return gates.week_counts(pupil_days(per_week))


STEADY = {"absent": 30, "b": 3, "late": 2, "sick_bay": 1}


def test_steady_weeks_pass_every_gate() -> None:
    assert gates.check(counts([STEADY] * 5), DAYS, ENROLLED, AS_OF) == {}


def test_a_week_with_few_registrations_holds_the_list() -> None:
    partial = {**STEADY, "absent": 5}  # 1 a day against a median of 6
    found = gates.check(counts([STEADY] * 4 + [partial]), DAYS, ENROLLED, AS_OF)
    assert [(g.name, g.level) for g in found["S1"]] == [
        ("registrations", "hold"),
        ("pupils", "warn"),
    ]
    assert found["S1"][0].text == (
        "S1: 1.0 absent half-days registered per school day in the week of 2024-09-30, against "
        "a median of 6.0 in its 4 school weeks before: a partial export or days not yet "
        "registered; list held"
    )


def test_a_table_that_stopped_and_a_shift_in_the_code_mix_warn() -> None:
    quiet = {"absent": 30, "b": 3, "late": 2, "sick_bay": 0}
    shifted = {"absent": 30, "b": 20, "late": 2, "sick_bay": 0}
    weeks = [{**STEADY, "sick_bay": 2}, {**STEADY, "sick_bay": 2}, quiet, quiet, shifted]
    found = gates.check(counts(weeks), DAYS, ENROLLED, AS_OF)
    assert [(g.name, g.level) for g in found["S1"]] == [("stopped", "warn"), ("code_mix", "warn")]
    assert "no sick-bay visits in the last 3 school weeks" in found["S1"][0].text
    assert (
        "B-codes are 67% of the absent half-days in the week of 2024-09-30, 10% in the weeks"
        in found["S1"][1].text
    )


def test_a_school_with_one_week_behind_it_is_not_gated() -> None:
    found = gates.check(counts([STEADY] * 5), DAYS, ENROLLED, dt.date(2024, 9, 9))
    assert found == {}
