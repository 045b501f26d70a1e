"""A tiny literal export for the feature tests, run through the real canonicalisation.

School year 2024-25 at one school (built-in calendar). The as-of date is Monday 7 October
2024: five school weeks lie before it (2 Sep - 4 Oct), 25 school days, 45 half-days
(Wednesday afternoons are free).

- P1, grade 1, class 1A, new this year: a B-code on the morning of Monday 16 September;
  ill on a parent's note all of Monday 30 September, Tuesday 1 October and Wednesday 2
  October (morning only: the afternoon is free), so 5 half-days and one 3-day spell; late on
  24 September (08:35, 5 min) and 3 October (13:40, 10 min); sent home from the sick bay on
  3 October. And a B-code ON the as-of date, which no feature may see.
- P2, grade 3: nothing recorded.
- P3, grade 2 in class 2A, at the school since 2023: ill with a certificate all of Monday
  3 June 2024, last school year.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from features.build import Prepared, feature_table, prepare
from features.canonical.codes import CategoryDtype, builtin_profile
from features.canonical.pseudonym import pseudonym
from features.canonical.tables import IngestOptions, canonicalise
from tests.conftest import raw_tables

KEY = bytes(range(32))
AS_OF = dt.date(2024, 10, 7)

EXPORT = {
    "enrolments.csv": (
        "student_id;school_id;grade;start_date;class_id;end_date\n"
        "P1;S1;1;2024-09-02;1A;\n"
        "P2;S1;3;2024-09-02;3A;\n"
        "P3;S1;1;2023-09-01;1A;2024-06-30\n"
        "P3;S1;2;2024-09-02;2A;\n"
    ),
    "absences.csv": (
        "student_id;date;period;code;minutes\n"
        "P1;2024-09-16;AM;B;\n"
        "P1;2024-09-30;AM;Z;\nP1;2024-09-30;PM;Z;\n"
        "P1;2024-10-01;AM;Z;\nP1;2024-10-01;PM;Z;\n"
        "P1;2024-10-02;AM;Z;\n"
        "P1;2024-10-07;AM;B;\n"
        "P3;2024-06-03;AM;D;\nP3;2024-06-03;PM;D;\n"
    ),
    "late_arrivals.csv": (
        "student_id;date;time;minutes_late\nP1;2024-09-24;08:35;5\nP1;2024-10-03;13:40;10\n"
    ),
    "sick_bay_visits.csv": (
        "student_id;date;time;minutes;outcome\nP1;2024-10-03;10:00;40;sent_home\n"
    ),
}


def prepared(files: dict[str, str] | None = None) -> Prepared:
    result = canonicalise(
        raw_tables(files or EXPORT), IngestOptions(profile=builtin_profile("flanders"), key=KEY)
    )
    assert all(r.quarantined == 0 for r in result.reconciliation), result.quarantine
    t = {name: frame.lazy() for name, frame in result.tables.items()}
    return prepare(
        t["enrolments"], t["absences"], t["late_arrivals"], t["sick_bay_visits"], t["calendar"]
    )


def features_at(as_of: dt.date = AS_OF, files: dict[str, str] | None = None) -> pl.DataFrame:
    return feature_table(prepared(files), as_of).collect()


def row(table: pl.DataFrame, pupil: str) -> dict[str, float]:
    return table.filter(pl.col("student_key") == pseudonym(KEY, pupil)).row(0, named=True)


P1_ROW = row(features_at(), "P1")
P2_ROW = row(features_at(), "P2")
P3_ROW = row(features_at(), "P3")
"""Each pupil's features on the unchanged export at :data:`AS_OF`."""


# The columns pupil_days reads from each canonical table, typed as canonicalise types them.
ABSENCES = pl.Schema(
    {
        "student_key": pl.String(),
        "school_id": pl.String(),
        "date": pl.Date(),
        "half": pl.String(),
        "category": CategoryDtype,
    }
)
LATE_ARRIVALS = pl.Schema(
    {
        "student_key": pl.String(),
        "school_id": pl.String(),
        "date": pl.Date(),
        "time": pl.String(),
        "minutes_late": pl.Int32(),
    }
)
SICK_BAY_VISITS = pl.Schema(
    {
        "student_key": pl.String(),
        "school_id": pl.String(),
        "date": pl.Date(),
        "outcome": pl.String(),
    }
)
