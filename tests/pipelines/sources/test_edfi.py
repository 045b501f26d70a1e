"""The Ed-Fi import path: the real Grand Bend sample, converted and ingested for real."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from pipelines.settings import IngestSettings
from pipelines.sources.edfi import (
    EdfiError,
    contract_grade,
    convert_edfi,
    half_days,
    school_year_start,
    us_grade,
)
from pipelines.steps.ingest import IngestReport, run_ingest
from pipelines.workspace import KEY_ENV, Workspace

SAMPLE = Path("/work/shared/external/edfi-grand-bend")

# The sample's README: 1,917 events for 227 pupils in three schools.
EXCUSED, UNEXCUSED, PARTIAL, TARDY = 1_077, 773, 1, 66
PUPILS = 227


@dataclass(frozen=True)
class Ingested:
    export: Path
    files: dict[str, Path]
    ws: Workspace
    report: IngestReport

    def canonical(self, table: str) -> pl.DataFrame:
        return pl.read_parquet(self.ws.canonical_table(table))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    if not SAMPLE.is_dir():
        pytest.skip(f"Ed-Fi sample not found at {SAMPLE}")
    root = tmp_path_factory.mktemp("edfi")
    export = root / "export"
    files = convert_edfi(SAMPLE, export, say=lambda _: None)
    ws = Workspace(root / "ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(KEY_ENV, raising=False)  # a key file in the workspace, as in real use
        report = run_ingest(export, ws, IngestSettings(codes="edfi"), say=lambda _: None)
    yield Ingested(export, files, ws, report)


def test_converter_writes_the_five_contract_tables(sample: Ingested) -> None:
    assert sorted(sample.files) == [
        "absences",
        "calendar",
        "enrolments",
        "late_arrivals",
        "students",
    ]
    for name, path in sample.files.items():
        assert path == sample.export / f"{name}.csv"
    header = sample.files["absences"].read_text("utf-8").splitlines()[:2]
    assert header == [
        "student_id;date;period;code;minutes",
        "604822;2021-08-31;AM;uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence;",
    ]


def test_every_table_reconciles_and_only_the_sunday_tardies_are_quarantined(
    sample: Ingested,
) -> None:
    whole_days = EXCUSED + UNEXCUSED
    assert [r.line() for r in sample.report.reconciliation] == [
        f"enrolments: read {PUPILS} = accepted {PUPILS} + quarantined 0 + duplicates 0",
        "calendar: read 278 = accepted 278 + quarantined 0 + duplicates 0",
        # Each whole-day absence is an AM and a PM row; the one Partial event is one PM row.
        # It falls on a day its pupil is also absent all day (604822, 15 December 2021): two
        # codes for one period, so the more serious absence is kept and the partial day is
        # quarantined.
        f"absences: read {2 * whole_days + PARTIAL:,} = accepted {2 * whole_days:,} "
        f"+ quarantined {PARTIAL} + duplicates 0",
        # Three Tardy events are dated Sunday 15 May 2022 (pupils 604891, 604906, 604923 at
        # the elementary school): no school that day, so ingest quarantines them. That is the
        # data, not the calendar: the sample has no other weekend event.
        f"late_arrivals: read {TARDY} = accepted {TARDY - 3} + quarantined 3 + duplicates 0",
        f"students: read {PUPILS} = accepted {PUPILS} + quarantined 0 + duplicates 0",
    ]
    assert all(r.balanced for r in sample.report.reconciliation)
    assert sorted(p.name for p in sample.ws.quarantine.glob("*.csv")) == [
        "absences.csv",
        "late_arrivals.csv",
    ]
    partial = pl.read_csv(sample.ws.quarantine / "absences.csv", separator=";")
    assert partial.select("student_id", "date", "period", "column").rows() == [
        (604822, "2021-12-15", "PM", "code")
    ]
    assert partial["reason"][0].startswith("another code for this pupil's period is more serious")
    quarantined = pl.read_csv(sample.ws.quarantine / "late_arrivals.csv", separator=";")
    assert quarantined.select("student_id", "date", "column", "reason").rows() == [
        (604891, "2022-05-15", "date", "not a school day"),
        (604906, "2022-05-15", "date", "not a school day"),
        (604923, "2022-05-15", "date", "not a school day"),
    ]
    assert dt.date(2022, 5, 15).weekday() == 6


def test_canonical_absences_carry_the_edfi_categories(sample: Ingested) -> None:
    absences = sample.canonical("absences")
    counts = dict(absences.group_by("category").len().rows())
    # The sample's one partial day coincides with a whole-day absence: quarantined (above).
    assert counts == {"excused_other": 2 * EXCUSED, "unexcused": 2 * UNEXCUSED}
    assert set(absences["half"]) == {"AM", "PM"}
    late = sample.canonical("late_arrivals")
    assert late.height == TARDY - 3
    assert set(late["source"]) == {"late_arrivals"}  # Tardy is not written as an absence
    assert late["time"].null_count() == 0


def test_enrolments_calendar_and_students(sample: Ingested) -> None:
    enrolments = sample.canonical("enrolments")
    assert enrolments["student_key"].n_unique() == PUPILS
    assert set(enrolments["start_date"]) == {dt.date(2021, 8, 23)}
    assert set(enrolments["end_date"]) == {dt.date(2022, 5, 27)}
    grades = {
        school: sorted(set(g)) for school, g in enrolments.group_by("school_id").agg("grade").rows()
    }
    # Elementary (US 1-5) keeps its grade; middle (US 6-8) and high school (US 9-12) become
    # 1-3 and 4-7. The synthetic birth dates put no pupil in US grades 5, 8 or 12.
    assert grades == {"255901107": [1, 2, 3, 4], "255901044": [1, 2], "255901001": [4, 5, 6]}

    calendar = sample.canonical("calendar")
    assert calendar["school_id"].null_count() == calendar.height  # same sessions everywhere
    school_days = calendar.filter("school_day")
    # 85 weekdays in the fall session and 104 in the spring one (the sample itself counts 81
    # and 88 instructional days: its holidays are not listed).
    assert school_days.height == 85 + 104
    assert school_days["date"].dt.weekday().max() == 5  # Monday 1 .. Friday 5
    assert set(school_days["periods"]) == {2}
    between = calendar.filter(pl.col("date").is_between(dt.date(2021, 12, 18), dt.date(2022, 1, 3)))
    assert not between["school_day"].any()

    students = sample.canonical("students")
    assert students.height == PUPILS
    assert students["gender"].drop_nulls().to_list() == ["M"]  # one BirthSex among the pupils


# ---------------------------------------------------------------- the rules, on their own


@pytest.mark.parametrize(
    ("category", "duration", "arrival", "departure", "expected"),
    [
        ("Excused Absence", "1", "", "", ["AM", "PM"]),
        ("Unexcused Absence", "", "", "", ["AM", "PM"]),
        ("Excused Absence", "0.5", "", "", ["AM"]),
        ("Excused Absence", "0.5", "", "12:30:00", ["PM"]),
        ("Unexcused Absence", "0.33", "10:15:00", "", ["AM"]),
        ("Partial", "", "", "", ["PM"]),
        ("Early departure", "", "", "13:00:00", ["PM"]),
        ("Partial", "", "11:00:00", "", ["AM"]),
        ("Partial", "1", "", "", ["AM", "PM"]),
    ],
)
def test_half_days(
    category: str, duration: str, arrival: str, departure: str, expected: list[str]
) -> None:
    assert half_days(category, duration, arrival, departure) == expected


def test_bad_duration_is_an_error() -> None:
    with pytest.raises(EdfiError, match="not a number"):
        half_days("Excused Absence", "half")


def test_grades_and_school_years() -> None:
    assert us_grade(dt.date(2010, 3, 1), 2021) == 6  # 11 on 1 September 2021
    assert us_grade(dt.date(2010, 9, 2), 2021) == 5  # still 10 on 1 September
    assert [contract_grade(g) for g in range(-1, 13)] == [1, 1, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6, 7]
    assert school_year_start("2021-2022") == 2021
    assert school_year_start("2022") == 2021  # Ed-Fi SchoolYearType names the ending year
    assert school_year_start("", dt.date(2022, 3, 1)) == 2021


NS = "http://ed-fi.org/5.2.0"


def _event(student: str, date: str, category: str, extra: str = "") -> str:
    return f"""
  <StudentSchoolAttendanceEvent>
    <AttendanceEvent><EventDate>{date}</EventDate>
      <AttendanceEventCategory>uri://ed-fi.org/AttendanceEventCategoryDescriptor#{category}</AttendanceEventCategory>
      {extra}</AttendanceEvent>
    <StudentReference><StudentIdentity><StudentUniqueId>{student}</StudentUniqueId></StudentIdentity></StudentReference>
    <SchoolReference><SchoolIdentity><SchoolId>S1</SchoolId></SchoolIdentity></SchoolReference>
    <SessionReference><SessionIdentity><SchoolYear>2022</SchoolYear></SessionIdentity></SessionReference>
    {"<DepartureTime>12:15:00</DepartureTime>" if category == "Early departure" else ""}
  </StudentSchoolAttendanceEvent>"""


def test_small_interchange_in_another_namespace(tmp_path: Path) -> None:
    """Names and layout of the files do not matter; holidays from a school calendar are used."""
    src = tmp_path / "edfi"
    src.mkdir()
    events = "".join(
        [
            _event("A", "2021-09-07", "Excused Absence", "<EventDuration>0.5</EventDuration>"),
            _event("A", "2021-09-08", "Early departure"),
            _event("A", "2021-09-09", "In Attendance"),
            _event("A", "2021-09-10", "Tardy"),
            _event("B", "2021-11-25", "Unexcused Absence"),
        ]
    )
    (src / "attendance.xml").write_text(
        f'<InterchangeStudentAttendance xmlns="{NS}">{events}</InterchangeStudentAttendance>'
    )
    (src / "other.XML").write_text(
        f"""<Interchange xmlns="{NS}">
  <Student><StudentUniqueId>A</StudentUniqueId>
    <BirthData><BirthDate>2010-03-01</BirthDate><BirthSex>uri://ed-fi.org/SexDescriptor#Female</BirthSex></BirthData></Student>
  <School><SchoolId>S1</SchoolId>
    <GradeLevel>uri://ed-fi.org/GradeLevelDescriptor#Sixth grade</GradeLevel>
    <GradeLevel>uri://ed-fi.org/GradeLevelDescriptor#Eighth grade</GradeLevel></School>
  <Session><SchoolYear>2022</SchoolYear><BeginDate>2021-09-01</BeginDate><EndDate>2021-12-17</EndDate>
    <SchoolReference><SchoolIdentity><SchoolId>S1</SchoolId></SchoolIdentity></SchoolReference></Session>
  <Calendar><CalendarCode>C1</CalendarCode>
    <CalendarType>uri://ed-fi.org/CalendarTypeDescriptor#School</CalendarType>
    <SchoolReference><SchoolIdentity><SchoolId>S1</SchoolId></SchoolIdentity></SchoolReference>
    <SchoolYear>2022</SchoolYear></Calendar>
  <CalendarDate><Date>2021-11-25</Date>
    <CalendarEvent>uri://ed-fi.org/CalendarEventDescriptor#Holiday</CalendarEvent>
    <CalendarReference><CalendarIdentity><CalendarCode>C1</CalendarCode>
      <SchoolReference><SchoolIdentity><SchoolId>S1</SchoolId></SchoolIdentity></SchoolReference>
      <SchoolYear>2022</SchoolYear></CalendarIdentity></CalendarReference></CalendarDate>
</Interchange>"""
    )
    said: list[str] = []
    files = convert_edfi(src, tmp_path / "export", say=said.append)
    assert files["absences"].read_text().splitlines()[1:] == [
        "A;2021-09-07;AM;uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence;",
        "A;2021-09-08;PM;uri://ed-fi.org/AttendanceEventCategoryDescriptor#Early departure;",
        "B;2021-11-25;AM;uri://ed-fi.org/AttendanceEventCategoryDescriptor#Unexcused Absence;",
        "B;2021-11-25;PM;uri://ed-fi.org/AttendanceEventCategoryDescriptor#Unexcused Absence;",
    ]
    assert files["late_arrivals"].read_text().splitlines()[1:] == ["A;2021-09-10;;"]
    # A: 11 on 1 September 2021, US grade 6 -> 1. B: no Student record, the school's lowest.
    assert files["enrolments"].read_text().splitlines()[1:] == [
        "A;S1;1;2021-09-01;2021-12-17",
        "B;S1;1;2021-09-01;2021-12-17",
    ]
    assert "2021-11-25;false;;0;Holiday" in files["calendar"].read_text().splitlines()
    assert files["students"].read_text().splitlines()[1:] == ["A;F", "B;"]
    assert any("1 present events" in line for line in said)

    ws = Workspace(tmp_path / "ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(KEY_ENV, raising=False)
        # 2 of the 4 absences are quarantined, over the 5% gate: accepted to see them.
        settings = IngestSettings(codes="edfi", accept_quarantine=True)
        report = run_ingest(tmp_path / "export", ws, settings, say=lambda _: None)
    lines = {r.table: r.line() for r in report.reconciliation}
    # B's absence falls on the holiday the school calendar lists: quarantined, both halves.
    assert lines["absences"] == "absences: read 4 = accepted 2 + quarantined 2 + duplicates 0"


def test_folder_without_attendance_events(tmp_path: Path) -> None:
    (tmp_path / "Student.xml").write_text(f'<InterchangeStudent xmlns="{NS}"/>')
    with pytest.raises(EdfiError, match="no StudentSchoolAttendanceEvent"):
        convert_edfi(tmp_path, tmp_path / "out", say=lambda _: None)
    (tmp_path / "broken.xml").write_text("<a>")
    with pytest.raises(EdfiError, match="not well-formed"):
        convert_edfi(tmp_path, tmp_path / "out", say=lambda _: None)
