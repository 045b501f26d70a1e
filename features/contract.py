"""The input contract: one pandera model per export table, declared once.

Each model names the columns a school board's export must (or may) carry, their type after
parsing, and the value checks a row must pass. Readers use the models to know which columns
are required, parsing uses their dtypes, and ingest turns every failed check into a
quarantined row with its reason. Optional columns are ``Optional[...]`` annotations.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

# A lesson number (1-12) or a half-day. Lessons 1-4 are the morning in Flemish timetables.
PERIOD_PATTERN = r"^(AM|PM|[1-9]|1[0-2])$"
TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"

OUTCOMES = ("back_to_class", "sent_home", "parents_called", "other")
CASE_TYPES = ("school_refusal", "truancy", "illness", "withdrawal", "exclusion", "other")
GENDERS = ("F", "M", "X")


class _Table(pa.DataFrameModel):
    class Config:
        strict = False  # extra columns are dropped with a notice before validation
        coerce = False


class Enrolments(_Table):
    """One row per enrolment of a pupil at a school (years, transfers)."""

    student_id: str = pa.Field(nullable=False)
    school_id: str = pa.Field(nullable=False)
    grade: pl.Int8 = pa.Field(nullable=False, ge=1, le=7)
    start_date: pl.Date = pa.Field(nullable=False)
    class_id: str | None = pa.Field(nullable=True)
    end_date: pl.Date | None = pa.Field(nullable=True)


class Absences(_Table):
    """One row per absent period (half-day or lesson), with the school's own code."""

    student_id: str = pa.Field(nullable=False)
    date: pl.Date = pa.Field(nullable=False)
    period: str = pa.Field(nullable=False, str_matches=PERIOD_PATTERN)
    code: str = pa.Field(nullable=False)
    minutes: pl.Int32 | None = pa.Field(nullable=True, ge=0)


class LateArrivals(_Table):
    """One row per late arrival."""

    student_id: str = pa.Field(nullable=False)
    date: pl.Date = pa.Field(nullable=False)
    time: str | None = pa.Field(nullable=True, str_matches=TIME_PATTERN)
    minutes_late: pl.Int32 | None = pa.Field(nullable=True, ge=0)


class SickBayVisits(_Table):
    """One row per visit to the sick bay (the 'ziekenkamer')."""

    student_id: str = pa.Field(nullable=False)
    date: pl.Date = pa.Field(nullable=False)
    time: str | None = pa.Field(nullable=True, str_matches=TIME_PATTERN)
    minutes: pl.Int32 | None = pa.Field(nullable=True, ge=0)
    outcome: str | None = pa.Field(nullable=True, isin=list(OUTCOMES))


class Calendar(_Table):
    """The school days; without this table the built-in Flemish calendar is used."""

    date: pl.Date = pa.Field(nullable=False)
    school_day: pl.Boolean = pa.Field(nullable=False)
    school_id: str | None = pa.Field(nullable=True)
    # Registrable half-days: 2 on a full day, 1 on a half day (features count half-days).
    periods: pl.Int8 | None = pa.Field(nullable=True, ge=0, le=2)
    holiday: str | None = pa.Field(nullable=True)


class Students(_Table):
    """Audit-only attributes: never model features unless a setting says so."""

    student_id: str = pa.Field(nullable=False, unique=True)
    gender: str | None = pa.Field(nullable=True, isin=list(GENDERS))
    ses_low: pl.Boolean | None = pa.Field(nullable=True)
    sen: pl.Boolean | None = pa.Field(nullable=True)


class CareCases(_Table):
    """Care cases: the labels. Label date = onset_on when given, else opened_on."""

    student_id: str = pa.Field(nullable=False)
    opened_on: pl.Date = pa.Field(nullable=False)
    case_type: str = pa.Field(nullable=False, isin=list(CASE_TYPES))
    onset_on: pl.Date | None = pa.Field(nullable=True)


MODELS: dict[str, type[pa.DataFrameModel]] = {
    "enrolments": Enrolments,
    "absences": Absences,
    "late_arrivals": LateArrivals,
    "sick_bay_visits": SickBayVisits,
    "calendar": Calendar,
    "students": Students,
    "care_cases": CareCases,
}
"""Every table of the contract, in the order ingest processes them."""

REQUIRED_TABLES = ("enrolments", "absences")
EVENT_TABLES = ("absences", "late_arrivals", "sick_bay_visits")


def columns(table: str) -> dict[str, pa.Column]:
    """Declared columns of ``table``: name -> pandera column (dtype, nullable, required)."""
    return dict(MODELS[table].to_schema().columns)


def required_columns(table: str) -> list[str]:
    """Columns an export of ``table`` must have."""
    return [name for name, col in columns(table).items() if col.required]
