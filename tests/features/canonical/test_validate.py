from __future__ import annotations

import datetime as dt
import gc

import polars as pl
import pytest

from features.canonical import contract
from features.canonical.validate import ROW, parse_table, position_column


def raw(**columns: list[str | None]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {ROW: list(range(2, n + 2)), **columns},
        schema={ROW: pl.Int64, **dict.fromkeys(columns, pl.String)},
    )


def absences(**overrides: list[str | None]) -> pl.DataFrame:
    cols: dict[str, list[str | None]] = {
        "student_id": ["L1"],
        "date": ["2024-09-03"],
        "period": ["AM"],
        "code": ["Z"],
        "minutes": [None],
    }
    return raw(**{**cols, **overrides})


def test_both_date_forms_parse_to_the_same_date() -> None:
    forms = ("2024-09-03", "03/09/2024", "3/9/2024")
    parsed = parse_table(
        pl.concat([absences(student_id=[f"L{i}"], date=[d]) for i, d in enumerate(forms)]),
        "absences",
    )
    assert parsed.rows["date"].to_list() == [dt.date(2024, 9, 3)] * 3
    assert parsed.failures.is_empty()


def test_rows_equal_once_parsed_are_duplicates() -> None:
    rows = pl.concat(
        [absences(date=[d], code=[c]) for d, c in (("2024-09-03", "Z"), ("03/09/2024", " Z "))]
    )
    parsed = parse_table(rows.with_columns(pl.Series(ROW, [2, 3])), "absences")
    assert (parsed.rows[ROW].to_list(), parsed.duplicates) == ([2], 1)
    pupils = raw(student_id=["L1", "L1 ", "L2", "L2"], gender=["M", "m", "M", "F"])
    parsed = parse_table(pupils, "students")
    # Two rows of pupil L2 that differ are no duplicates: canonicalise quarantines both (a
    # pupil's id is unique only per school with --ids per-school, so parsing cannot tell).
    assert (parsed.rows[ROW].to_list(), parsed.duplicates) == ([2, 4, 5], 1)
    assert parsed.failures.is_empty()


def test_a_value_that_fails_to_parse_is_compared_by_its_text() -> None:
    n = 3
    dates: list[str | None] = ["2024-13-03", "2024-13-03 ", "2024-14-03"]
    frame = raw(student_id=["L1"] * n, date=dates, period=["AM"] * n, code=["Z"] * n)
    parsed = parse_table(frame, "absences")
    assert parsed.duplicates == 1
    assert parsed.failures.select(ROW, "value").rows() == [(2, "2024-13-03"), (4, "2024-14-03")]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("date", "2024-13-01", "not a date (expected YYYY-MM-DD or DD/MM/YYYY)"),
        ("date", "03/09/24", "not a date (expected YYYY-MM-DD or DD/MM/YYYY)"),
        ("date", "24-09-03", "not a date (expected YYYY-MM-DD or DD/MM/YYYY)"),
        ("date", "", "missing value"),
        ("student_id", " ", "missing value"),
        ("period", "evening", "not AM, PM or a lesson number 1-12"),
        ("minutes", "-5", "negative duration"),
        ("minutes", "five", "not a whole number"),
    ],
)
def test_a_bad_value_is_rejected_with_its_column_value_and_reason(
    column: str, value: str, reason: str
) -> None:
    parsed = parse_table(absences(**{column: [value]}), "absences")
    assert parsed.rows.is_empty()
    assert parsed.failures.rows() == [(2, column, value, reason)]


def test_one_failure_per_row_the_first_column_in_contract_order() -> None:
    parsed = parse_table(absences(date=["x"], period=["never"]), "absences")
    assert parsed.failures.select("column", "reason").rows() == [
        ("date", "not a date (expected YYYY-MM-DD or DD/MM/YYYY)")
    ]


def test_lowercase_period_and_dutch_gender_and_booleans_are_understood() -> None:
    assert parse_table(absences(period=["pm"]), "absences").rows["period"].to_list() == ["PM"]
    students = parse_table(
        raw(student_id=["A", "B"], gender=["V", "m"], ses_low=["ja", "0"], sen=["true", "nee"]),
        "students",
    )
    assert students.rows.select("gender", "ses_low", "sen").rows() == [
        ("F", True, True),
        ("M", False, False),
    ]


def test_grades_outside_secondary_and_unknown_outcomes_fail() -> None:
    enrol = parse_table(
        raw(
            student_id=["A"],
            school_id=["S"],
            grade=["9"],
            start_date=["2024-09-02"],
            class_id=[None],
            end_date=[None],
        ),
        "enrolments",
    )
    assert enrol.failures.select("column", "reason").rows() == [("grade", "outside 1-7")]
    visit = parse_table(
        raw(student_id=["A"], date=["2024-09-03"], time=["9:5"], minutes=["3"], outcome=["home"]),
        "sick_bay_visits",
    )
    assert visit.failures.select("column", "reason").rows() == [("time", "not a time HH:MM")]


def test_a_value_checked_once_fails_on_every_row_that_has_it() -> None:
    periods: list[str | None] = ["AM", "evening", None, "3", "evening", "", None]
    n = len(periods)
    pupils = [f"L{i}" for i in range(n)]  # each row another pupil: none repeats another
    frame = raw(student_id=pupils, date=["2024-09-03"] * n, period=periods, code=["Z"] * n)
    parsed = parse_table(frame, "absences", keep_positions=["period"])
    assert parsed.failures.select(ROW, "value", "reason").rows() == [
        (3, "evening", "not AM, PM or a lesson number 1-12"),
        (4, None, "missing value"),
        (6, "evening", "not AM, PM or a lesson number 1-12"),
        (7, "", "missing value"),
        (8, None, "missing value"),
    ]
    assert parsed.rows["period"].to_list() == ["AM", "3"]


def test_kept_distinct_values_map_back_to_every_row() -> None:
    codes = ["B", " Z", "Z", "B", "ZZ", "Z"]
    rows = [absences(student_id=[f"L{i}"], code=[c]) for i, c in enumerate(codes)]
    parsed = parse_table(pl.concat(rows), "absences", keep_positions=["code"])
    gc.collect()  # the values must outlive the categorical they were read from
    distinct = parsed.distinct["code"]
    assert sorted(distinct.to_list()) == ["B", "Z", "Z", "ZZ"]  # " Z" is parsed as "Z"
    positions = parsed.rows[position_column("code")]
    assert distinct.gather(positions).to_list() == ["B", "Z", "Z", "B", "ZZ", "Z"]


def test_calendar_periods_are_half_days() -> None:
    calendar = raw(
        date=["2024-09-03", "2024-09-04"], school_day=["true", "true"], periods=["2", "7"]
    )
    parsed = parse_table(calendar, "calendar")
    assert parsed.rows["periods"].to_list() == [2]
    assert parsed.failures.rows() == [(3, "periods", "7", "outside 0-2 (registrable half-days)")]


def enrolments(**overrides: list[str | None]) -> pl.DataFrame:
    cols: dict[str, list[str | None]] = {
        "student_id": ["L1"],
        "school_id": ["S1"],
        "grade": ["1"],
        "start_date": ["2024-09-02"],
        "class_id": ["1A"],
        "end_date": [None],
    }
    return raw(**{**cols, **overrides})


LONG_ID = "S" * 65

SEPARATOR = "contains a path separator (/ or \\)"
CONTROL = "contains a control character (tab, line break, NUL, ...)"
DOTS = "is . or .. (not usable as a folder name)"
TOO_LONG = "longer than 64 characters"


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("school_id", "S/1", SEPARATOR),
        ("school_id", "..\\S1", SEPARATOR),
        ("school_id", "../../etc", SEPARATOR),
        ("school_id", "S\t1", CONTROL),
        ("school_id", "S\r1", CONTROL),
        ("school_id", "S\n1", CONTROL),
        ("school_id", "S\x001", CONTROL),
        ("school_id", "S\x7f1", CONTROL),
        ("school_id", ".", DOTS),
        ("school_id", " .. ", DOTS),  # blanks around a value do not count
        ("school_id", LONG_ID, TOO_LONG),
        ("student_id", "L\t1", CONTROL),
        ("student_id", "L\x001", CONTROL),
        ("student_id", "L" * 65, TOO_LONG),
        ("class_id", "1A\nlatin", CONTROL),
        ("class_id", "C" * 65, TOO_LONG),
    ],
)
def test_ids_unsafe_as_data_are_rejected_with_their_reason(
    column: str, value: str, reason: str
) -> None:
    parsed = parse_table(enrolments(**{column: [value]}), "enrolments")
    assert parsed.rows.is_empty()
    assert parsed.failures.select("column", "reason").rows() == [(column, reason)]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("school_id", "S" * 64),  # the longest taken
        ("school_id", "Sint-Jan (campus 2)"),
        ("school_id", "..S1"),  # dots inside a name are fine, only . and .. name a folder
        ("student_id", "2024/0001"),  # a pupil id never names a folder: a slash is data
        ("class_id", "1A.b"),
    ],
)
def test_ids_that_are_safe_pass(column: str, value: str) -> None:
    parsed = parse_table(enrolments(**{column: [value]}), "enrolments")
    assert parsed.failures.is_empty()
    assert parsed.rows[column].to_list() == [value]


def test_ids_of_pupils_in_every_table_and_schools_in_the_calendar_are_checked() -> None:
    parsed = parse_table(absences(student_id=["L\x001"]), "absences", ["student_id"])
    assert parsed.failures.select("column", "reason").rows() == [("student_id", CONTROL)]
    calendar = raw(
        date=["2024-09-02", "2024-09-03", "2024-09-04"],
        school_day=["true"] * 3,
        school_id=[None, "..", "S/2"],
    )
    parsed = parse_table(calendar, "calendar")
    assert parsed.rows[ROW].to_list() == [2]
    assert parsed.failures.select(ROW, "reason").rows() == [(3, DOTS), (4, SEPARATOR)]


YEARS = "outside the plausible years 1990-2100"


@pytest.mark.parametrize(
    ("table", "column", "value", "reason"),
    [
        ("enrolments", "start_date", "1900-09-01", YEARS),
        ("enrolments", "end_date", "2999-06-30", YEARS),
        ("enrolments", "start_date", "31/12/1989", YEARS),
        ("absences", "date", "2101-01-03", YEARS),
        ("absences", "minutes", "601", "more than 600 minutes (longer than a school day)"),
        (
            "late_arrivals",
            "minutes_late",
            "1000000000",
            "more than 600 minutes (longer than a school day)",
        ),
        ("late_arrivals", "minutes_late", "-5", "negative duration"),
        ("late_arrivals", "minutes_late", "10000000000", "too large a number"),
        (
            "sick_bay_visits",
            "minutes",
            "1000000000",
            "more than 600 minutes (longer than a school day)",
        ),
        ("care_cases", "onset_on", "1900-01-01", YEARS),
    ],
)
def test_absurd_values_are_rejected_with_their_reason(
    table: str, column: str, value: str, reason: str
) -> None:
    rows: dict[str, dict[str, list[str | None]]] = {
        "enrolments": {
            "student_id": ["L1"],
            "school_id": ["S1"],
            "grade": ["1"],
            "start_date": ["2024-09-02"],
            "class_id": [None],
            "end_date": [None],
        },
        "absences": {
            "student_id": ["L1"],
            "date": ["2024-09-03"],
            "period": ["AM"],
            "code": ["Z"],
            "minutes": [None],
        },
        "late_arrivals": {
            "student_id": ["L1"],
            "date": ["2024-09-03"],
            "time": [None],
            "minutes_late": [None],
        },
        "sick_bay_visits": {
            "student_id": ["L1"],
            "date": ["2024-09-03"],
            "time": [None],
            "minutes": [None],
            "outcome": [None],
        },
        "care_cases": {
            "student_id": ["L1"],
            "opened_on": ["2024-10-01"],
            "case_type": ["truancy"],
            "onset_on": [None],
        },
    }
    parsed = parse_table(raw(**{**rows[table], column: [value]}), table)
    assert parsed.rows.is_empty()
    assert parsed.failures.rows() == [(2, column, value, reason)]


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("enrolments", "start_date", "1990-01-01"),
        ("enrolments", "end_date", "2100-12-31"),
        ("late_arrivals", "minutes_late", "600"),
    ],
)
def test_values_at_the_plausible_bounds_pass(table: str, column: str, value: str) -> None:
    frame = (
        enrolments(**{column: [value]})
        if table == "enrolments"
        else raw(student_id=["L1"], date=["2024-09-03"], time=[None], minutes_late=[value])
    )
    parsed = parse_table(frame, table)
    assert parsed.failures.is_empty()


def test_every_id_column_of_the_contract_carries_the_id_checks() -> None:
    for table, model in contract.MODELS.items():
        for name, column in model.to_schema().columns.items():
            if not name.endswith("_id"):
                continue
            checks = {check.name for check in column.checks}
            assert {"str_length", contract.NO_CONTROL_CHARACTER} <= checks, (table, name)
            if name == "school_id":
                assert {"notin", contract.NO_PATH_SEPARATOR} <= checks, (table, name)
