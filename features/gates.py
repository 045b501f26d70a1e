"""Data gates: does the week a list stands on look like the school's own recent weeks?

A list for as-of date D reads the events before D; the week that matters most is the last
school week before D's. Each gate compares that week with the school's previous school
weeks (up to :data:`RECENT_WEEKS`), per school, so a school that registers little is
compared with itself. A gate that fails at level ``hold`` means the list would rest on data
that is not there (a partial export, days not yet registered): that school's list is held.
A ``warn`` gate is said in the run's log and at the top of the school's list.

The gates and their thresholds:

- ``registrations`` (hold): absent half-days registered per school day in the last school week
  under :data:`MIN_REGISTRATION_SHARE` of the school's median per school day in its previous
  weeks (when that median is at least :data:`MIN_MEDIAN_PER_DAY`).
- ``stopped`` (warn), for late arrivals and sick-bay visits: none in the last
  :data:`STOPPED_WEEKS` school weeks where the weeks before had at least
  :data:`STOPPED_BEFORE` of them.
- ``code_mix`` (warn): the share of B-codes among the absent half-days of the last school week
  more than :data:`MAX_B_SHIFT` away from that share over the previous weeks (with at least
  :data:`MIN_ABSENCES_FOR_MIX` absent half-days in the last week).
- ``pupils`` (warn): the share of the school's pupils with any event in the last school week
  under :data:`MIN_REGISTRATION_SHARE` of its median share in the previous weeks (when that
  median is at least :data:`MIN_PUPIL_SHARE`).

New absence codes need no gate: ingest stops on a code its profile does not know.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Literal

import polars as pl

from features.school.schooldays import week_of

RECENT_WEEKS = 8
MIN_REGISTRATION_SHARE = 0.4
MIN_MEDIAN_PER_DAY = 2.0
STOPPED_WEEKS = 3
STOPPED_BEFORE = 3
MAX_B_SHIFT = 0.25
MIN_ABSENCES_FOR_MIX = 20
MIN_PUPIL_SHARE = 0.05


@dataclass(frozen=True)
class Gate:
    """One failed gate of one school."""

    name: str
    level: Literal["warn", "hold"]
    text: str
    """What failed, in one line (no pupil, only counts)."""


def week_counts(pupil_days: pl.DataFrame) -> pl.DataFrame:
    """Per school and week (``week_start``, a Monday) with pupil-day rows, what was registered
    in it: ``absent, b, late, sick_bay, pupils`` (half-days, arrivals, visits, pupils with any),
    sorted by school and week."""
    return (
        pupil_days.with_columns(week_start=pl.col("date").dt.truncate("1w"))
        .group_by("school_id", "week_start")
        .agg(
            pl.col("absent_halves").sum().cast(pl.Int64).alias("absent"),
            pl.col("b_halves").sum().cast(pl.Int64).alias("b"),
            pl.col("late_count").sum().cast(pl.Int64).alias("late"),
            pl.col("sick_bay_count").sum().cast(pl.Int64).alias("sick_bay"),
            pl.col("student_key").n_unique().cast(pl.Int64).alias("pupils"),
        )
        .sort("school_id", "week_start")
    )


def school_weeks_before(counts: pl.DataFrame, days: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Per school, its last ``RECENT_WEEKS + 1`` school weeks before ``as_of``'s week, oldest
    first: ``school_id, week_start, school_days`` and what was registered in them (the
    :func:`week_counts` ``counts``, 0 for a week without rows)."""
    weeks = (
        days.filter(pl.col("school_day") & (pl.col("week_start") < week_of(as_of)))
        .group_by("school_id", "week_start")
        .agg(pl.len().cast(pl.Int32).alias("school_days"))
        .sort("school_id", "week_start")
        .group_by("school_id", maintain_order=True)
        .tail(RECENT_WEEKS + 1)
    )
    counted = ("absent", "b", "late", "sick_bay", "pupils")
    return weeks.join(
        counts.select("school_id", "week_start", *counted),
        on=["school_id", "week_start"],
        how="left",
    ).with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counted)


def check(
    counts: pl.DataFrame, days: pl.DataFrame, enrolled: pl.DataFrame, as_of: dt.date
) -> dict[str, list[Gate]]:
    """The failed gates of each school for the list of ``as_of`` (schools that pass: absent).

    ``counts`` are the board's :func:`week_counts`; ``enrolled`` has ``school_id`` and
    ``pupils``, the school's pupils enrolled on ``as_of``.
    A school with fewer than 2 school weeks behind the week is not gated (no history yet).
    """
    weeks = school_weeks_before(counts, days, as_of)
    sizes = dict(enrolled.select("school_id", "pupils").iter_rows())
    out = {}
    for (school,), rows in weeks.group_by("school_id", maintain_order=True):
        if rows.height < 2:
            continue
        gates = _school_gates(str(school), rows, sizes.get(school, 0))
        if gates:
            out[str(school)] = gates
    return dict(sorted(out.items()))


def _school_gates(school: str, weeks: pl.DataFrame, pupils: int) -> list[Gate]:
    last, before = weeks.row(-1, named=True), weeks.head(weeks.height - 1)
    week = last["week_start"]
    gates = []
    per_day = [a / d for a, d in zip(before["absent"], before["school_days"], strict=True)]
    median = statistics.median(per_day)
    now = last["absent"] / last["school_days"]
    if median >= MIN_MEDIAN_PER_DAY and now < MIN_REGISTRATION_SHARE * median:
        gates.append(
            Gate(
                "registrations",
                "hold",
                f"{school}: {now:.1f} absent half-days registered per school day in the week "
                f"of {week}, against a median of {median:.1f} in its {before.height} school "
                "weeks before: a partial export or days not yet registered; list held",
            )
        )
    for column, what in (("late", "late arrivals"), ("sick_bay", "sick-bay visits")):
        recent, earlier = weeks.tail(STOPPED_WEEKS), weeks.head(weeks.height - STOPPED_WEEKS)
        if recent[column].sum() == 0 and earlier[column].sum() >= STOPPED_BEFORE:
            gates.append(
                Gate(
                    "stopped",
                    "warn",
                    f"{school}: no {what} in the last {STOPPED_WEEKS} school weeks (to the week "
                    f"of {week}), {earlier[column].sum()} in the {earlier.height} weeks before: "
                    "is the table still exported?",
                )
            )
    absent_before, b_before = int(before["absent"].sum()), int(before["b"].sum())
    if last["absent"] >= MIN_ABSENCES_FOR_MIX and absent_before:
        share_now, share_before = last["b"] / last["absent"], b_before / absent_before
        if abs(share_now - share_before) > MAX_B_SHIFT:
            gates.append(
                Gate(
                    "code_mix",
                    "warn",
                    f"{school}: B-codes are {share_now:.0%} of the absent half-days in the week "
                    f"of {week}, {share_before:.0%} in the weeks before: a change in how "
                    "absences are coded?",
                )
            )
    if pupils:
        shares = [p / pupils for p in before["pupils"]]
        usual, share = statistics.median(shares), last["pupils"] / pupils
        if usual >= MIN_PUPIL_SHARE and share < MIN_REGISTRATION_SHARE * usual:
            gates.append(
                Gate(
                    "pupils",
                    "warn",
                    f"{school}: {share:.0%} of its pupils have any event in the week of {week}, "
                    f"against a median of {usual:.0%}: a partial export?",
                )
            )
    return gates
