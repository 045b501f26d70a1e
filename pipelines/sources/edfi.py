"""Ed-Fi XML interchanges -> an export in the schoolpoort input contract.

Reads every ``*.xml`` file of a folder with the standard library (``iterparse``, matching
elements on their local names, so the Ed-Fi 5.0.0 and 5.2.0 namespaces, and others, all work)
and writes ``absences``, ``late_arrivals``, ``enrolments``, ``calendar`` and ``students`` as
``;``-separated UTF-8 CSV with ISO dates, ready for ``schoolpoort ingest --codes edfi``.

What is mapped how, and what is derived because Ed-Fi does not carry it in these interchanges
(enrolments, grades, holidays), is in ``docs/edfi.md``. Nothing is dropped silently: events
the converter cannot place are still written, so that ingest quarantines them with a reason,
and every kind of record that is not written is counted in the summary passed to ``say``.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.workspace import write_atomic

Say = Callable[[str], None]

TABLES = ("absences", "late_arrivals", "enrolments", "calendar", "students")
"""The contract tables :func:`convert_edfi` writes, in this order."""

COLUMNS: dict[str, tuple[str, ...]] = {
    "absences": ("student_id", "date", "period", "code", "minutes"),
    "late_arrivals": ("student_id", "date", "time", "minutes_late"),
    "enrolments": ("student_id", "school_id", "grade", "start_date", "end_date"),
    "calendar": ("date", "school_day", "school_id", "periods", "holiday"),
    "students": ("student_id", "gender"),
}

# Attendance event categories (the part after '#', compared case-insensitively).
PRESENT_CATEGORIES = frozenset({"in attendance", "present"})
"""Not written: a day without an absence is a present day anyway."""
TARDY_CATEGORY = "tardy"
"""Written to ``late_arrivals`` with the arrival time, not to ``absences``."""
PARTIAL_CATEGORIES = frozenset({"partial", "early departure"})
"""Part of a day by definition: one half-day row even without an ``EventDuration``."""

# Calendar events (CalendarEventDescriptor) that make a day a school day or not.
SCHOOL_DAY_EVENTS = frozenset(
    {"instructional day", "make-up day", "student late arrival/early dismissal"}
)
NO_SCHOOL_EVENTS = frozenset(
    {
        "holiday",
        "teacher only day",
        "non-instructional day",
        "emergency day",
        "weather day",
        "strike",
    }
)
# Calendars that describe one pupil's days, not the school's: their dates are not used.
PUPIL_CALENDAR_TYPES = frozenset({"student specific", "iep"})

US_GRADES = {
    "preschool/prekindergarten": -1,
    "kindergarten": 0,
    "first grade": 1,
    "second grade": 2,
    "third grade": 3,
    "fourth grade": 4,
    "fifth grade": 5,
    "sixth grade": 6,
    "seventh grade": 7,
    "eighth grade": 8,
    "ninth grade": 9,
    "tenth grade": 10,
    "eleventh grade": 11,
    "twelfth grade": 12,
}
"""GradeLevelDescriptor code values -> US grade number (kindergarten 0)."""

GENDERS = {"female": "F", "male": "M", "notselected": "X"}
"""SexDescriptor code values (spaces removed, lower case) -> contract gender."""

_TIME = re.compile(r"^(\d{2}):(\d{2})(:\d{2}(\.\d+)?)?$")


class EdfiError(ValueError):
    """A folder that cannot be converted; the message is one line naming the file."""


@dataclass(frozen=True)
class _Event:
    """One StudentSchoolAttendanceEvent, as text, plus the parsed date when it parses."""

    student_id: str
    school_id: str
    date: str
    day: dt.date | None
    code: str
    duration: str
    arrival: str
    departure: str
    school_year: int | None

    @property
    def category(self) -> str:
        return descriptor_value(self.code).casefold()


@dataclass(frozen=True)
class _Session:
    school_id: str
    school_year: int
    begin: dt.date
    end: dt.date


@dataclass(frozen=True)
class _Student:
    birth_date: dt.date | None
    sex: str


@dataclass
class _Interchanges:
    """Everything read from the folder's XML files."""

    events: list[_Event]
    sessions: list[_Session]
    students: dict[str, _Student]
    school_grades: dict[str, list[int]]
    calendar_types: dict[tuple[str, str, str], str]  # (code, school, year) -> type
    calendar_dates: list[tuple[tuple[str, str, str], dt.date, list[str]]]
    counts: Counter[str]


# --------------------------------------------------------------------------- small helpers


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(elem: ET.Element, *path: str) -> str:
    """Text of the first element reached by ``path`` (local names, child by child), or ''."""
    nodes = [elem]
    for name in path:
        nodes = [child for node in nodes for child in node if _local(child.tag) == name]
        if not nodes:
            return ""
    return (nodes[0].text or "").strip()


def _deep(elem: ET.Element, name: str) -> str:
    """Text of the first descendant with local name ``name``, or ''."""
    for node in elem.iter():
        if node is not elem and _local(node.tag) == name:
            return (node.text or "").strip()
    return ""


def _all(elem: ET.Element, name: str) -> list[str]:
    return [(n.text or "").strip() for n in elem.iter() if _local(n.tag) == name]


def descriptor_value(text: str) -> str:
    """The code value of an Ed-Fi descriptor: what follows '#' in a URI, else the text."""
    return text.rsplit("#", 1)[-1].strip()


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def school_year_start(text: str, fallback: dt.date | None = None) -> int | None:
    """The first calendar year of an Ed-Fi school year: '2021-2022' -> 2021, '2022' -> 2021.

    A single year is Ed-Fi's SchoolYearType, which names the year a school year ends in.
    Without a readable year, the school year of ``fallback`` (1 July starts a new one).
    """
    if match := re.fullmatch(r"(\d{4})\s*[-/]\s*\d{2,4}", text):
        return int(match[1])
    if re.fullmatch(r"\d{4}", text):
        return int(text) - 1
    if fallback is not None:
        return fallback.year if fallback.month >= 7 else fallback.year - 1
    return None


def _hhmm(text: str) -> str:
    """'09:35:00' -> '09:35'; anything else unchanged, for ingest to quarantine."""
    match = _TIME.match(text)
    return f"{match[1]}:{match[2]}" if match else text


def half_days(category: str, duration: str, arrival: str = "", departure: str = "") -> list[str]:
    """The half-days an absence event becomes: ``["AM", "PM"]`` or one of them.

    Parameters
    ----------
    category
        The event's category code value (after '#'), any case.
    duration
        ``EventDuration`` as text: the share of the day (1 = whole day, 0.5 = half a day).
    arrival, departure
        ``ArrivalTime`` / ``DepartureTime`` as text, '' when absent.

    A whole day (duration 1 or more, or no duration for a category that is not partial by
    definition) is both half-days. Anything less is one half-day: the morning when the pupil
    arrived late (only an arrival time), the afternoon when the pupil left early (a departure
    time, or the categories Partial / Early departure), else the morning.

    Raises
    ------
    EdfiError
        When ``duration`` is not a number.
    """
    cat = category.casefold()
    if duration:
        try:
            share = float(duration)
        except ValueError as exc:
            raise EdfiError("EventDuration is not a number") from exc
        whole = share >= 1
    else:
        whole = cat not in PARTIAL_CATEGORIES
    if whole:
        return ["AM", "PM"]
    if departure:
        return ["PM"]
    if arrival:
        return ["AM"]
    return ["PM"] if cat in PARTIAL_CATEGORIES else ["AM"]


def us_grade(birth_date: dt.date, school_year: int) -> int:
    """The US grade by age: age on 1 September of the school year's first year, minus 5."""
    sept = dt.date(school_year, 9, 1)
    age = (
        sept.year - birth_date.year - ((sept.month, sept.day) < (birth_date.month, birth_date.day))
    )
    return age - 5


def contract_grade(grade: int) -> int:
    """US grade -> contract grade (1-7): elementary 1-5 stay 1-5, grades 6-12 become 1-7.

    Grade 6 is the first year of a US middle school, so it becomes 1, the first year of
    secondary school (the transition the contract's grade 1 stands for); kindergarten and
    below become 1.
    """
    if grade <= 5:
        return max(grade, 1)
    return min(grade - 5, 7)


def _days(begin: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = begin
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


# --------------------------------------------------------------------------- reading


def _records(path: Path) -> Iterator[ET.Element]:
    """The top-level records (children of the interchange root) of one XML file."""
    depth = 0
    root: ET.Element | None = None
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            if event == "start":
                depth += 1
                if depth == 1:
                    root = elem
                continue
            depth -= 1
            if depth == 1:
                yield elem
                elem.clear()
                if root is not None:
                    root.clear()  # keep memory flat on large interchanges
    except ET.ParseError as exc:
        raise EdfiError(f"{path}: not well-formed XML ({exc})") from exc


def _read(folder: Path) -> _Interchanges:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
    data = _Interchanges([], [], {}, {}, {}, [], Counter())
    for path in files:
        for rec in _records(path):
            kind = _local(rec.tag)
            data.counts[kind] += 1
            if kind == "StudentSchoolAttendanceEvent":
                data.events.append(_event(rec))
            elif kind == "Student":
                sid = _text(rec, "StudentUniqueId")
                sex = _text(rec, "Sex") or _deep(rec, "BirthSex")
                data.students[sid] = _Student(_date(_deep(rec, "BirthDate")), sex)
            elif kind == "School":
                grades = [
                    US_GRADES.get(descriptor_value(g).casefold()) for g in _all(rec, "GradeLevel")
                ]
                data.school_grades[_text(rec, "SchoolId")] = [g for g in grades if g is not None]
            elif kind == "Session":
                begin, end = _date(_text(rec, "BeginDate")), _date(_text(rec, "EndDate"))
                if begin is None or end is None:
                    data.counts["Session without dates (not used)"] += 1
                    continue
                year = school_year_start(_text(rec, "SchoolYear"), begin)
                school = _deep(rec, "SchoolId")
                data.sessions.append(_Session(school, year or begin.year, begin, end))
            elif kind == "Calendar":
                key = (_text(rec, "CalendarCode"), _deep(rec, "SchoolId"), _text(rec, "SchoolYear"))
                data.calendar_types[key] = descriptor_value(_text(rec, "CalendarType")).casefold()
            elif kind == "CalendarDate":
                day = _date(_text(rec, "Date"))
                key = (_deep(rec, "CalendarCode"), _deep(rec, "SchoolId"), _deep(rec, "SchoolYear"))
                events = [descriptor_value(e) for e in _all(rec, "CalendarEvent")]
                if day is None:
                    data.counts["CalendarDate without a date (not used)"] += 1
                else:
                    data.calendar_dates.append((key, day, events))
    if not data.events:
        raise EdfiError(
            f"{folder}: no StudentSchoolAttendanceEvent in any .xml file "
            f"({len(files)} XML file(s) read)"
        )
    return data


def _event(rec: ET.Element) -> _Event:
    date = _deep(rec, "EventDate")
    day = _date(date)
    school_year = _text(rec, "SessionReference", "SessionIdentity", "SchoolYear")
    return _Event(
        student_id=_deep(rec, "StudentUniqueId"),
        school_id=_text(rec, "SchoolReference", "SchoolIdentity", "SchoolId")
        or _deep(rec, "SchoolId"),
        date=day.isoformat() if day else date,
        day=day,
        code=_deep(rec, "AttendanceEventCategory"),
        duration=_deep(rec, "EventDuration"),
        arrival=_text(rec, "ArrivalTime"),
        departure=_text(rec, "DepartureTime"),
        school_year=school_year_start(school_year, day),
    )


# --------------------------------------------------------------------------- tables


def _absence_rows(data: _Interchanges, say: Say) -> tuple[list[list[str]], list[list[str]]]:
    absences: list[list[str]] = []
    late: list[list[str]] = []
    whole = partial = present = 0
    for number, ev in enumerate(data.events, start=1):
        if ev.category in PRESENT_CATEGORIES:
            present += 1
        elif ev.category == TARDY_CATEGORY:
            late.append([ev.student_id, ev.date, _hhmm(ev.arrival), ""])
        else:
            try:
                halves = half_days(ev.category, ev.duration, ev.arrival, ev.departure)
            except EdfiError as exc:
                raise EdfiError(  # the event's place, never the pupil's id
                    f"attendance event {number} (StudentSchoolAttendanceEvent) on {ev.date}: {exc}"
                ) from exc
            if len(halves) == 2:
                whole += 1
            else:
                partial += 1
            absences.extend([ev.student_id, ev.date, half, ev.code, ""] for half in halves)
    by_category = Counter(descriptor_value(ev.code) for ev in data.events)
    say(
        f"read {len(data.events):,} school attendance events: "
        + ", ".join(f"{c or '(no category)'} {n:,}" for c, n in sorted(by_category.items()))
    )
    say(
        f"absences: {len(absences):,} half-day rows ({whole:,} whole days as AM + PM, "
        f"{partial:,} part day(s) as one half-day)"
    )
    say(f"late_arrivals: {len(late):,} rows from Tardy events")
    if present:
        say(f"not written: {present:,} present events (a day without an absence is present)")
    if n := data.counts["StudentSectionAttendanceEvent"]:
        say(
            f"not written: {n:,} section attendance events (per class period; the school-level "
            "events are used, see docs/edfi.md)"
        )
    return sorted(absences), sorted(late)


def _school_sessions(data: _Interchanges) -> dict[tuple[str, int], tuple[dt.date, dt.date]]:
    """(school, school year) -> (first session day, last session day)."""
    bounds: dict[tuple[str, int], tuple[dt.date, dt.date]] = {}
    for s in data.sessions:
        key = (s.school_id, s.school_year)
        lo, hi = bounds.get(key, (s.begin, s.end))
        bounds[key] = (min(lo, s.begin), max(hi, s.end))
    return bounds


def _event_years(data: _Interchanges) -> dict[tuple[str, int], tuple[dt.date, dt.date]]:
    """(school, school year) -> first and last event date there, over all pupils."""
    spans: dict[tuple[str, int], tuple[dt.date, dt.date]] = {}
    for ev in data.events:
        if ev.day is None or not ev.school_id or ev.school_year is None:
            continue
        key = (ev.school_id, ev.school_year)
        lo, hi = spans.get(key, (ev.day, ev.day))
        spans[key] = (min(lo, ev.day), max(hi, ev.day))
    return spans


def _enrolment_rows(data: _Interchanges, say: Say) -> list[list[str]]:
    sessions = _school_sessions(data)
    spans = _event_years(data)
    # (pupil, school year) -> school -> the pupil's first event date there
    seen: dict[tuple[str, int], dict[str, dt.date]] = defaultdict(dict)
    for ev in data.events:
        if not ev.student_id or not ev.school_id or ev.day is None or ev.school_year is None:
            continue
        schools = seen[(ev.student_id, ev.school_year)]
        schools[ev.school_id] = min(schools.get(ev.school_id, ev.day), ev.day)

    rows: list[list[str]] = []
    clipped = no_birth = from_events = 0
    for (sid, year), schools in sorted(seen.items()):
        # Several schools in one year: each enrolment runs from the pupil's first event at
        # that school (the first from the session start) to the day before the next one.
        order = sorted(schools, key=lambda school: (schools[school], school))
        for i, school in enumerate(order):
            if (school, year) in sessions:
                start, end = sessions[(school, year)]
            else:
                start, end = spans[(school, year)]
                from_events += 1
            if i > 0:
                start = schools[school]
            if i + 1 < len(order):
                end = min(end, schools[order[i + 1]] - dt.timedelta(days=1))
            offered = data.school_grades.get(school) or list(range(1, 13))
            student = data.students.get(sid)
            if student is None or student.birth_date is None:
                grade = min(offered)
                no_birth += 1
            else:
                by_age = us_grade(student.birth_date, year)
                grade = min(max(by_age, min(offered)), max(offered))
                clipped += grade != by_age
            rows.append(
                [sid, school, str(contract_grade(grade)), start.isoformat(), end.isoformat()]
            )
    say(
        f"enrolments: {len(rows):,} derived from the attendance events (one per pupil, school "
        f"and school year); grade by age on 1 September, {clipped:,} outside the school's "
        f"grade levels and clipped to them"
        + (
            f", {no_birth:,} without a birth date set to the school's lowest grade"
            if no_birth
            else ""
        )
        + (
            f"; {from_events:,} without a session, bounded by the school's events"
            if from_events
            else ""
        )
    )
    return rows


def _calendar_rows(data: _Interchanges, say: Say) -> list[list[str]]:
    schools = sorted({ev.school_id for ev in data.events if ev.school_id})
    spans = _event_years(data)
    intervals: dict[str, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for s in data.sessions:
        if s.school_id in schools:
            intervals[s.school_id].append((s.begin, s.end))
    for (school, _), span in spans.items():
        if school not in intervals:
            intervals[school].append(span)
    school_years = {s.school_year for s in data.sessions}

    # Calendar dates of the schools' own calendars override the weekday rule.
    overrides: dict[str, dict[dt.date, tuple[bool, str]]] = defaultdict(dict)
    ignored = 0
    for key, day, events in data.calendar_dates:
        ctype = data.calendar_types.get(key, "")
        school = key[1]
        if ctype in PUPIL_CALENDAR_TYPES or school not in schools:
            ignored += 1
            continue
        if closed := [e for e in events if e.casefold() in NO_SCHOOL_EVENTS]:
            overrides[school][day] = (False, closed[0])
        elif any(e.casefold() in SCHOOL_DAY_EVENTS for e in events):
            overrides[school][day] = (True, "")

    all_days = [d for ivs in intervals.values() for iv in ivs for d in iv]
    all_days += [ev.day for ev in data.events if ev.day is not None]
    if not schools or not all_days:
        say("calendar: no school or no readable date in the events, no calendar written")
        return []
    first, last = min(all_days), max(all_days)
    per_school: dict[str, list[tuple[dt.date, bool, str]]] = {}
    for school in schools:
        days = []
        for day in _days(first, last):
            open_ = day.weekday() < 5 and any(b <= day <= e for b, e in intervals[school])
            open_, holiday = overrides[school].get(day, (open_, ""))
            days.append((day, open_, holiday))
        per_school[school] = days

    same = len({tuple(days) for days in per_school.values()}) <= 1
    targets = [""] if same else schools
    rows = [
        [day.isoformat(), "true" if open_ else "false", target, "2" if open_ else "0", holiday]
        for target in targets
        for day, open_, holiday in per_school[schools[0] if same else target]
    ]
    n_open = sum(open_ for _, open_, _ in per_school[schools[0]])
    say(
        f"calendar: {first} to {last}, "
        + (
            f"the same for all {len(schools)} schools, {n_open:,} school days"
            if same
            else f"per school ({len(schools)} schools)"
        )
        + f" (weekdays in the sessions of school year(s) {', '.join(map(str, sorted(school_years))) or '-'})"
        + (f"; {ignored:,} calendar dates of pupil calendars not used" if ignored else "")
    )
    return rows


def _student_rows(data: _Interchanges, enrolled: list[str], say: Say) -> list[list[str]]:
    rows = []
    unknown = 0
    for sid in enrolled:
        student = data.students.get(sid)
        if student is None:
            unknown += 1
        sex = descriptor_value(student.sex).replace(" ", "").casefold() if student else ""
        rows.append([sid, GENDERS.get(sex, "")])
    known = sum(1 for row in rows if row[1])
    say(
        f"students: {len(rows):,} enrolled pupils, gender known for {known:,}; "
        f"{len(data.students) - len(rows) + unknown:,} Student records without attendance "
        "events not written"
        + (f"; {unknown:,} pupils with events but no Student record" if unknown else "")
    )
    return rows


def _write(path: Path, columns: tuple[str, ...], rows: list[list[str]]) -> Path:
    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            out = csv.writer(handle, delimiter=";", lineterminator="\n")
            out.writerow(columns)
            out.writerows(rows)

    return write_atomic(path, write)


def convert_edfi(folder: Path, out: Path, say: Say = print) -> dict[str, Path]:
    """Convert the Ed-Fi XML interchanges in ``folder`` into a schoolpoort export in ``out``.

    Parameters
    ----------
    folder
        A folder of Ed-Fi XML interchange files (any names; records are recognised by their
        element names): StudentSchoolAttendanceEvent is required, Student, Session,
        Calendar/CalendarDate and School are used when present.
    out
        The export folder to write (created if needed); existing files of the same names
        are replaced, other files are left alone.
    say
        Receives one line per table on what was written, derived or left out.

    Returns
    -------
    dict[str, Path]
        Contract table name -> the CSV file written, for every table in :data:`TABLES`.

    Raises
    ------
    EdfiError
        When ``folder`` is missing, an XML file is not well-formed, no attendance event is
        found, or an EventDuration is not a number.
    """
    if not folder.is_dir():
        raise EdfiError(f"{folder}: no such folder")
    data = _read(folder)
    for what, n in sorted(data.counts.items()):
        if what.endswith("(not used)"):
            say(f"{n:,} {what}")
    absences, late = _absence_rows(data, say)
    enrolments = sorted(_enrolment_rows(data, say))
    enrolled = sorted({row[0] for row in enrolments})
    tables = {
        "absences": absences,
        "late_arrivals": late,
        "enrolments": enrolments,
        "calendar": _calendar_rows(data, say),
        "students": _student_rows(data, enrolled, say),
    }
    out.mkdir(parents=True, exist_ok=True)
    return {name: _write(out / f"{name}.csv", COLUMNS[name], tables[name]) for name in TABLES}
