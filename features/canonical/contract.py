"""The input contract: one pandera model per export table, declared once.

Each model names the columns a school board's export must (or may) carry, their type after
parsing, and the value checks a row must pass. Readers use the models to know which columns
are required, parsing uses their dtypes, and ingest turns every failed check into a
quarantined row with its reason. Optional columns are ``Optional[...]`` annotations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandera.polars as pa
import polars as pl

# A lesson number (1-12) or a half-day. Lessons 1-4 are the morning in Flemish timetables.
PERIOD_PATTERN = r"^(AM|PM|[1-9]|1[0-2])$"
TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"

MAX_ID_LENGTH = 64
"""The longest id (school, pupil, class) taken. School ids name the care teams' folders and
every id is carried into their lists: a longer one is a pasted text, not an id."""

CONTROL_CHARACTER = r"[\x00-\x1f\x7f-\x9f]"
"""A control character (Unicode Cc: tab, CR, LF, NUL, ...): never part of an id, and it would
break a line of a list or a file name."""

PATH_SEPARATOR = r"[/\\]"
"""A path separator: a school id names a folder, so it may not hold one."""

DOT_NAMES = (".", "..")
"""Names a folder cannot have: the folder itself and its parent."""

FIRST_YEAR = 1990
LAST_YEAR = 2100
"""Dates outside these years (inclusive) are typing errors or placeholders (1900-01-01,
2999-12-31), not school days: an enrolment from 1900 would make every pupil a veteran."""

MAX_MINUTES = 600
"""The most minutes a duration (absent, late, at the sick bay) can have: a school day's length."""

OUTCOMES = ("back_to_class", "sent_home", "parents_called", "other")
CASE_TYPES = ("school_refusal", "truancy", "illness", "withdrawal", "exclusion", "other")
GENDERS = ("F", "M", "X")


_ID_LENGTH = {"max_value": MAX_ID_LENGTH}
_PLAUSIBLE_DATES = {"min_value": dt.date(FIRST_YEAR, 1, 1), "max_value": dt.date(LAST_YEAR, 12, 31)}

NO_CONTROL_CHARACTER = "no_control_character"
NO_PATH_SEPARATOR = "no_path_separator"
"""The names of the id checks, as the failures name them (see :mod:`features.canonical.validate`)."""


def _without(pattern: str, name: str, *fields: str) -> Any:
    """A check, named ``name``, that no value of ``fields`` contains ``pattern`` (blanks pass:
    a missing value is reported as such)."""

    def check(cls: type, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).str.contains(pattern).not_())

    return pa.check(*fields, name=name)(check)


def _id(*, nullable: bool = False) -> Any:
    """An id column (``student_id``, ``class_id``): at most :data:`MAX_ID_LENGTH` characters,
    and no control character (the model names it in :func:`_plain_ids`)."""
    return pa.Field(nullable=nullable, str_length=_ID_LENGTH)


def _school_id(*, nullable: bool = False) -> Any:
    """A ``school_id``: an id that names a folder, so not ``.`` or ``..`` either, and no path
    separator (the model names it in :func:`_folder_names` too)."""
    return pa.Field(nullable=nullable, str_length=_ID_LENGTH, notin=list(DOT_NAMES))


def _plain_ids(*fields: str) -> Any:
    """Ids are carried into the care teams' lists: no control character in them."""
    return _without(CONTROL_CHARACTER, NO_CONTROL_CHARACTER, *fields)


def _folder_names(*fields: str) -> Any:
    """School ids name the care teams' folders: no path separator in them."""
    return _without(PATH_SEPARATOR, NO_PATH_SEPARATOR, *fields)


class _Table(pa.DataFrameModel):
    class Config:
        strict = False  # extra columns are dropped with a notice before validation
        coerce = False


class Enrolments(_Table):
    """One row per enrolment of a pupil at a school (years, transfers)."""

    student_id: str = _id()
    school_id: str = _school_id()
    grade: pl.Int8 = pa.Field(nullable=False, ge=1, le=7)
    start_date: pl.Date = pa.Field(nullable=False, in_range=_PLAUSIBLE_DATES)
    class_id: str | None = _id(nullable=True)
    end_date: pl.Date | None = pa.Field(nullable=True, in_range=_PLAUSIBLE_DATES)

    _ids = _plain_ids("student_id", "school_id", "class_id")
    _folders = _folder_names("school_id")


class Absences(_Table):
    """One row per absent period (half-day or lesson), with the school's own code."""

    student_id: str = _id()
    date: pl.Date = pa.Field(nullable=False, in_range=_PLAUSIBLE_DATES)
    period: str = pa.Field(nullable=False, str_matches=PERIOD_PATTERN)
    code: str = pa.Field(nullable=False)
    minutes: pl.Int32 | None = pa.Field(nullable=True, ge=0, le=MAX_MINUTES)

    school_id: str | None = _school_id(nullable=True)

    _ids = _plain_ids("student_id", "school_id")
    _folders = _folder_names("school_id")


class LateArrivals(_Table):
    """One row per late arrival."""

    student_id: str = _id()
    date: pl.Date = pa.Field(nullable=False, in_range=_PLAUSIBLE_DATES)
    time: str | None = pa.Field(nullable=True, str_matches=TIME_PATTERN)
    minutes_late: pl.Int32 | None = pa.Field(nullable=True, ge=0, le=MAX_MINUTES)

    school_id: str | None = _school_id(nullable=True)

    _ids = _plain_ids("student_id", "school_id")
    _folders = _folder_names("school_id")


class SickBayVisits(_Table):
    """One row per visit to the sick bay (the 'ziekenkamer')."""

    student_id: str = _id()
    date: pl.Date = pa.Field(nullable=False, in_range=_PLAUSIBLE_DATES)
    time: str | None = pa.Field(nullable=True, str_matches=TIME_PATTERN)
    minutes: pl.Int32 | None = pa.Field(nullable=True, ge=0, le=MAX_MINUTES)
    outcome: str | None = pa.Field(nullable=True, isin=list(OUTCOMES))

    school_id: str | None = _school_id(nullable=True)

    _ids = _plain_ids("student_id", "school_id")
    _folders = _folder_names("school_id")


class Calendar(_Table):
    """The school days; without this table the built-in Flemish calendar is used."""

    date: pl.Date = pa.Field(nullable=False, in_range=_PLAUSIBLE_DATES)
    school_day: pl.Boolean = pa.Field(nullable=False)
    school_id: str | None = _school_id(nullable=True)
    # Registrable half-days: 2 on a full day, 1 on a half day (features count half-days).
    periods: pl.Int8 | None = pa.Field(nullable=True, ge=0, le=2)
    holiday: str | None = pa.Field(nullable=True)

    _ids = _plain_ids("school_id")
    _folders = _folder_names("school_id")


class Students(_Table):
    """Audit-only attributes: never model features unless a setting says so."""

    student_id: str = _id()  # one row per pupil: see features.canonical.tables
    gender: str | None = pa.Field(nullable=True, isin=list(GENDERS))
    ses_low: pl.Boolean | None = pa.Field(nullable=True)
    sen: pl.Boolean | None = pa.Field(nullable=True)

    school_id: str | None = _school_id(nullable=True)

    _ids = _plain_ids("student_id", "school_id")
    _folders = _folder_names("school_id")


class CareCases(_Table):
    """Care cases: the labels. Label date = onset_on when given, else opened_on."""

    student_id: str = _id()
    opened_on: pl.Date = pa.Field(nullable=False, in_range=_PLAUSIBLE_DATES)
    case_type: str = pa.Field(nullable=False, isin=list(CASE_TYPES))
    onset_on: pl.Date | None = pa.Field(nullable=True, in_range=_PLAUSIBLE_DATES)

    school_id: str | None = _school_id(nullable=True)

    _ids = _plain_ids("student_id", "school_id")
    _folders = _folder_names("school_id")


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
