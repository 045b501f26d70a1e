from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.canonical import codes, validate
from features.canonical import tables as canonical
from features.canonical.codes import builtin_profile
from features.canonical.pseudonym import PER_SCHOOL_SEPARATOR, pseudonym
from features.canonical.tables import (
    CANONICAL_COLUMNS,
    Canonical,
    IngestOptions,
    MissingSchoolIdError,
    RawTable,
    UnknownCodesError,
    _sort_order,
    canonicalise,
    pupil_partitions,
)
from features.canonical.validate import ROW, first_of_duplicates
from schoolsim import SimulationSettings, simulate, write_export
from tests.conftest import TINY, TWO_NUMBERINGS, raw_tables

KEY = bytes(range(32))
OPTIONS = IngestOptions(profile=builtin_profile("flanders"), key=KEY)


def with_rows(base: dict[str, str], filename: str, *lines: str) -> dict[str, str]:
    return {**base, filename: base[filename] + "".join(line + "\n" for line in lines)}


def reasons(result, table: str) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    return result.quarantine[table].select("row", "column", "reason").rows()


def test_the_tiny_export_is_accepted_whole_and_keyed_by_pseudonym() -> None:
    result = canonicalise(raw_tables(TINY), OPTIONS)
    assert all(r.balanced and r.quarantined == 0 for r in result.reconciliation)
    for name, frame in result.tables.items():
        assert frame.columns == list(CANONICAL_COLUMNS[name])
        assert "student_id" not in frame.columns
    absences = result.tables["absences"]
    assert set(absences["student_key"]) == {pseudonym(KEY, s) for s in ("L1", "L2", "L3")}
    # Lessons 1-4 are the morning, 5 and later the afternoon.
    l3 = absences.filter(pl.col("student_key") == pseudonym(KEY, "L3"))
    assert l3.select("period", "half").rows() == [("1", "AM"), ("6", "PM")]
    assert absences["school_id"].unique().to_list() == ["S1"]
    cases = result.tables["care_cases"]
    assert cases["label_date"].to_list() == [dt.date(2024, 10, 1)]


def test_events_are_checked_against_enrolment_and_calendar() -> None:
    files = with_rows(
        TINY,
        "absences.csv",
        "L9;2024-09-03;AM;B;",  # row 7: nobody of that id is enrolled
        "L2;2025-01-07;AM;B;",  # row 8: after L2's enrolment ended
        "L1;2024-09-07;AM;B;",  # row 9: a Saturday
        "L1;2024-09-04;PM;Z;",  # row 10: Wednesday afternoon
        "L1;2024-11-01;AM;Z;",  # row 11: autumn holiday
    )
    result = canonicalise(raw_tables(files), OPTIONS)
    assert reasons(result, "absences") == [
        (7, "student_id", "unknown pupil (not in enrolments)"),
        (8, "date", "outside the pupil's enrolment"),
        (9, "date", "not a school day"),
        (10, "period", "no afternoon registration that day"),
        (11, "date", "not a school day"),
    ]


def test_exact_duplicates_are_counted_and_dropped() -> None:
    files = with_rows(TINY, "absences.csv", "L1;2024-09-03;AM;Z;", "L1;2024-09-03;AM;Z;")
    result = canonicalise(raw_tables(files), OPTIONS)
    rec = next(r for r in result.reconciliation if r.table == "absences")
    assert (rec.read, rec.accepted, rec.quarantined, rec.duplicates) == (7, 5, 0, 2)


def test_rows_with_the_same_values_written_differently_are_duplicates() -> None:
    files = with_rows(
        TINY,
        "late_arrivals.csv",
        "L1;10/09/2024;08:40;10",  # row 3: the row 2 arrival, another date format
        " L1 ;2024-09-10; 08:40 ;10 ",  # row 4: with blanks around its values
        "L1;2024-09-10;08:41;10",  # row 5: another minute, another arrival
    )
    result = canonicalise(raw_tables(files), OPTIONS)
    rec = next(r for r in result.reconciliation if r.table == "late_arrivals")
    assert (rec.read, rec.accepted, rec.quarantined, rec.duplicates) == (4, 2, 0, 2)
    late = result.tables["late_arrivals"].filter(pl.col("source") == "late_arrivals")
    assert late["minutes_late"].to_list() == [10, 10]


def test_unknown_codes_stop_ingest_with_a_list_unless_allowed() -> None:
    files = with_rows(
        TINY, "absences.csv", "L1;2024-09-05;AM;Q;", "L1;2024-09-06;AM;Q;", "L1;2024-09-06;PM;K;"
    )
    with pytest.raises(
        UnknownCodesError, match=r"2 unknown absence code\(s\).*'Q' \(2 rows\), 'K' \(1 rows\)"
    ):
        canonicalise(raw_tables(files), OPTIONS)
    allowed = IngestOptions(profile=OPTIONS.profile, key=KEY, allow_unknown_codes=True)
    result = canonicalise(raw_tables(files), allowed)
    assert [r[2] for r in reasons(result, "absences")] == ["unknown code for profile flanders"] * 3


def test_a_long_unknown_code_is_cut_short_in_the_message() -> None:
    pasted = "Z" * 39 + "Q" * 500
    files = with_rows(TINY, "absences.csv", f"L1;2024-09-05;AM;{pasted};")
    with pytest.raises(UnknownCodesError) as info:
        canonicalise(raw_tables(files), OPTIONS)
    assert f"'{'Z' * 39}Q…' (1 rows)" in str(info.value)
    assert "QQ" not in str(info.value)


def test_a_second_enrolment_from_the_same_day_is_quarantined() -> None:
    files = with_rows(TINY, "enrolments.csv", "L1;S2;1;2024-09-02;1B;")
    result = canonicalise(raw_tables(files), OPTIONS)
    assert reasons(result, "enrolments") == [
        (5, "start_date", "another enrolment of this pupil starts the same day")
    ]
    assert set(result.tables["absences"]["school_id"]) == {"S1"}  # L1's events stay at S1


def test_late_codes_in_absences_become_late_arrivals() -> None:
    files = with_rows(TINY, "absences.csv", "L1;2024-09-05;AM;L;12")
    result = canonicalise(raw_tables(files), OPTIONS)
    late = result.tables["late_arrivals"]
    assert late.select("date", "minutes_late", "source").rows() == [
        (dt.date(2024, 9, 5), 12, "absences"),
        (dt.date(2024, 9, 10), 10, "late_arrivals"),
    ]
    assert "L" not in result.tables["absences"]["code"].to_list()
    rec = next(r for r in result.reconciliation if r.table == "absences")
    assert rec.balanced and "1 late-arrival codes read as late arrivals" in rec.line()


def test_an_export_calendar_replaces_the_built_in_one_per_school() -> None:
    files = {
        **TINY,
        # S1 closes on Tuesday 3 September for a study day; other days: built from the rows given.
        "calendar.csv": "date;school_day;school_id\n2024-09-03;false;S1\n2024-09-03;true;\n"
        + "".join(f"2024-09-{d:02d};true;\n" for d in (2, 4, 5, 6, 9, 10, 11, 12)),
    }
    result = canonicalise(raw_tables(files), OPTIONS)
    assert [r[1:] for r in reasons(result, "absences")] == [("date", "not a school day")] * 2


def test_an_event_on_a_date_the_export_calendar_lacks_is_quarantined_once() -> None:
    calendar = "date;school_day\n" + "".join(
        f"2024-09-{d:02d};true\n"
        for d in (2, 4, 5, 6, 9, 10, 11, 12)  # no 3 September
    )
    result = canonicalise(raw_tables({**TINY, "calendar.csv": calendar}), OPTIONS)
    assert [r[1:] for r in reasons(result, "absences")] == [
        ("date", "no calendar for this date")
    ] * 2
    assert all(r.balanced for r in result.reconciliation)


def test_cases_with_onset_after_opening_and_unknown_pupils_are_quarantined() -> None:
    files = with_rows(
        TINY, "care_cases.csv", "L2;2024-10-01;truancy;2024-10-09", "L7;2024-10-01;truancy;"
    )
    result = canonicalise(raw_tables(files), OPTIONS)
    assert reasons(result, "care_cases") == [
        (3, "onset_on", "onset after the case was opened"),
        (4, "student_id", "unknown pupil (not in enrolments)"),
    ]


CORRUPTIONS = st.sampled_from(
    ["", " ", "x", "-1", "31/02/2024", "2024-09-07", "PM", "Q", "L9", "99"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_ingest_never_loses_a_row_under_random_corruption(data: st.DataObject) -> None:
    tables = raw_tables(TINY)
    corrupted = {}
    for name, table in tables.items():
        frame = table.frame
        columns = [c for c in frame.columns if c != ROW]
        values = {c: frame[c].to_list() for c in columns}
        for _ in range(data.draw(st.integers(0, 4))):
            column = data.draw(st.sampled_from(columns))
            row = data.draw(st.integers(0, frame.height - 1))
            values[column][row] = data.draw(CORRUPTIONS)
        new = pl.DataFrame({ROW: frame[ROW], **values}, schema=frame.schema)
        if data.draw(st.booleans()):  # an exact duplicate of a (possibly corrupted) line
            new = new.vstack(
                new.head(1).with_columns(pl.lit(frame.height + 2, dtype=pl.Int64).alias(ROW))
            )
        corrupted[name] = RawTable(name, table.source, new)
    options = IngestOptions(profile=OPTIONS.profile, key=KEY, allow_unknown_codes=True)
    result = canonicalise(corrupted, options)
    for rec in result.reconciliation:
        assert rec.balanced, rec.line()
        assert rec.read == corrupted[rec.table].frame.height
        quarantined = result.quarantine[rec.table]
        assert quarantined["row"].n_unique() == quarantined.height  # one reason per row
        assert rec.accepted == _canonical_rows(result.tables, rec.table)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_row_given_again_in_another_form_changes_nothing_but_the_duplicates(
    data: st.DataObject,
) -> None:
    tables = raw_tables(TINY)
    name = data.draw(st.sampled_from(sorted(tables)))
    frame = tables[name].frame
    row = frame.row(data.draw(st.integers(0, frame.height - 1)), named=True)
    again = {  # blanks around each value, the other date form, another case of AM/PM
        column: None if value is None else data.draw(st.sampled_from(_forms(column, value)))
        for column, value in row.items()
        if column != ROW
    }
    again[ROW] = frame.height + 2
    extended = frame.vstack(pl.DataFrame([again], schema=frame.schema))
    before = canonicalise(tables, OPTIONS)
    after = canonicalise({**tables, name: RawTable(name, tables[name].source, extended)}, OPTIONS)
    for table in before.tables:
        assert after.tables[table].equals(before.tables[table]), table
    was = {r.table: r for r in before.reconciliation}
    for rec in after.reconciliation:
        extra = int(rec.table == name)
        assert rec.read == was[rec.table].read + extra
        assert rec.duplicates == was[rec.table].duplicates + extra, rec.line()


def _forms(column: str, value: str) -> list[str]:
    forms = [value, f" {value} ", f"{value}  "]
    if column == "period":
        forms.append(value.lower())
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        year, month, day = value.split("-")
        forms += [f"{day}/{month}/{year}", f"{int(day)}/{int(month)}/{year}"]
    return forms


def _canonical_rows(tables: dict[str, pl.DataFrame], name: str) -> int:
    late = tables["late_arrivals"]["source"]
    if name == "absences":
        return tables["absences"].height + int((late == "absences").sum())
    if name == "late_arrivals":
        return int((late == "late_arrivals").sum())
    return tables[name].height


def test_a_date_listed_twice_in_the_calendar_is_quarantined_not_multiplied() -> None:
    calendar = "date;school_day\n2024-09-03;true\n2024-09-03;false\n" + "".join(
        f"2024-09-{d:02d};true\n" for d in (2, 4, 5, 6, 9, 10, 11, 12)
    )
    result = canonicalise(raw_tables({**TINY, "calendar.csv": calendar}), OPTIONS)
    assert reasons(result, "calendar") == [
        (3, "date", "date listed twice for the same school in the calendar")
    ]
    assert all(r.balanced for r in result.reconciliation)
    assert result.tables["absences"].height == 5


SORTABLE = {
    "text": (pl.String, st.sampled_from(["", "a", "B", "b", "ab", "é", "zz", None])),
    "number": (pl.Int32, st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))),
    "small": (pl.Int8, st.one_of(st.none(), st.integers(-3, 3))),
    "day": (pl.Date, st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1)))),
    "flag": (pl.Boolean, st.one_of(st.none(), st.booleans())),
    "category": (
        pl.Enum(["unexcused", "late", "present"]),
        st.one_of(st.none(), st.sampled_from(["unexcused", "late", "present"])),
    ),
}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_sort_order_is_that_of_a_sort_by_every_column(data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(list(SORTABLE)), min_size=1, max_size=6))
    height = data.draw(st.integers(0, 30))
    frame = pl.DataFrame(
        [
            pl.Series(
                f"{name}{i}",
                data.draw(st.lists(SORTABLE[name][1], min_size=height, max_size=height)),
                dtype=SORTABLE[name][0],
            )
            for i, name in enumerate(names)
        ]
    )
    expected = frame.sort(frame.columns, nulls_last=True)
    assert frame[_sort_order(frame)].equals(expected)


def test_columns_too_wide_for_one_key_are_sorted_column_by_column() -> None:
    # Each full-range Int32 (plus null) takes 33 bits: two do not fit one 64-bit key.
    frame = pl.DataFrame(
        {"a": [2**31 - 1, -(2**31), None, 0, 0], "b": [0, None, 5, -(2**31), 2**31 - 1]},
        schema={"a": pl.Int32, "b": pl.Int32},
    )
    assert frame[_sort_order(frame)].equals(frame.sort(["a", "b"], nulls_last=True))


DUPLICATES = pl.DataFrame(
    {
        "a": ["x", "x", "y", None, None, "x", "y", ""],
        "b": ["1", "1", "1", None, None, "2", "1", None],
    }
)


def test_exact_duplicates_are_found_by_hash_then_by_value() -> None:
    expected = [True, False, True, True, False, True, False, True]
    assert first_of_duplicates(DUPLICATES, ["a", "b"]).to_list() == expected


def test_rows_that_share_a_hash_but_differ_are_not_duplicates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def every_row_collides(columns: list[str]) -> pl.Expr:
        return (pl.struct(columns).hash() * 0).alias("_hash")

    monkeypatch.setattr(validate, "_row_hash", every_row_collides)
    expected = [True, False, True, True, False, True, False, True]
    assert first_of_duplicates(DUPLICATES, ["a", "b"]).to_list() == expected


def test_each_event_takes_the_school_of_the_enrolment_covering_its_date() -> None:
    files = {
        **TINY,
        # L2 leaves S1 on 20 December and starts at S2 on 7 January; L1 has no enrolment before
        # 2 September; L3's only enrolment starts on 2 September too.
        "enrolments.csv": TINY["enrolments.csv"] + "L2;S2;2;2025-01-07;2A;\n",
        "absences.csv": TINY["absences.csv"]
        + "L2;2024-12-20;AM;B;\n"  # row 7: the last day at S1
        + "L2;2025-01-06;AM;B;\n"  # row 8: between the two enrolments (a school day)
        + "L2;2025-01-07;AM;B;\n"  # row 9: the first day at S2
        + "L1;2024-08-30;AM;B;\n",  # row 10: before L1's enrolment
    }
    result = canonicalise(raw_tables(files), OPTIONS)
    assert reasons(result, "absences") == [
        (8, "date", "outside the pupil's enrolment"),
        (10, "date", "outside the pupil's enrolment"),
    ]
    l2 = result.tables["absences"].filter(pl.col("student_key") == pseudonym(KEY, "L2"))
    assert l2.select("date", "school_id").rows() == [
        (dt.date(2024, 9, 5), "S1"),
        (dt.date(2024, 12, 20), "S1"),
        (dt.date(2025, 1, 7), "S2"),
    ]


def test_events_read_the_calendar_grid_as_they_would_read_the_calendar() -> None:
    schools = pl.Series(["A", "B", "C"])
    days = pl.DataFrame(
        {
            "school_id": [None, None, None, "B", "C"],
            "date": [dt.date(2024, 9, d) for d in (2, 3, 5, 3, 4)],
            "school_day": [True, True, True, False, True],
            "periods": [2, 1, 2, 0, 2],
        },
        schema_overrides={"school_id": pl.String, "periods": pl.Int8},
    )
    dates = [dt.date(2024, 9, d) for d in (1, 2, 3, 4, 5, 6)]
    events = pl.DataFrame(
        {
            "school_id": [s for s in schools for _ in dates] * 2,
            "date": dates * 6,
            canonical.SCHOOL_ORDER: [o for o in (1, 2, 3) for _ in dates] * 2,
        },
        schema_overrides={canonical.SCHOOL_ORDER: pl.UInt32},
    )
    expected = canonical._calendar_flags(events, days)
    assert expected["_in_calendar"].sum() == 2 * (3 * 3 + 1)
    # 36 events, 3 schools x 6 days: the grid is read (and with one event the events are).
    assert canonical._event_calendar_flags(events, days, schools).equals(expected)
    assert canonical._event_calendar_flags(events[5:6], days, schools).equals(expected[5:6])


def test_an_export_calendar_names_school_years_by_its_own_summers() -> None:
    """A calendar whose years start in late August (Ed-Fi, say): each school's own summer
    decides, not the Flemish 1 September."""

    def weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
        n = (end - start).days + 1
        days = (start + dt.timedelta(days=i) for i in range(n))
        return [d for d in days if d.weekday() < 5]

    closed = (dt.date(2024, 3, 16), dt.date(2024, 4, 30))  # a spring closure is not a summer
    us = [
        d
        for d in weekdays(dt.date(2023, 8, 23), dt.date(2024, 5, 31))
        + weekdays(dt.date(2024, 8, 21), dt.date(2024, 12, 20))
        if not closed[0] <= d <= closed[1]
    ]
    summer = [dt.date(2024, 7, 1)]
    flemish_days = weekdays(dt.date(2024, 9, 2), dt.date(2024, 12, 20))
    rows = pl.DataFrame(
        {
            "school_id": ["US"] * (len(us) + 1) + [None] * len(flemish_days),
            "date": us + summer + flemish_days,
            "school_day": [True] * len(us) + [False] + [True] * len(flemish_days),
            "periods": pl.Series([None] * (len(us) + 1 + len(flemish_days)), dtype=pl.Int8),
            "holiday": pl.Series([None] * (len(us) + 1 + len(flemish_days)), dtype=pl.String),
        },
        schema_overrides={"school_id": pl.String},
    )
    table = canonical._export_calendar(rows)
    year = {(s, d): y for s, d, y in table.select("school_id", "date", "school_year").rows()}
    assert year[("US", dt.date(2023, 8, 23))] == 2023  # the Flemish rule said 2022
    assert year[("US", dt.date(2024, 5, 2))] == 2023  # after the closure: the same year
    assert year[("US", dt.date(2024, 7, 1))] == 2023  # summer belongs to the year that ended
    assert year[("US", dt.date(2024, 8, 21))] == 2024
    assert year[(None, dt.date(2024, 9, 2))] == 2024  # no summer in it: the Flemish rule


@pytest.mark.parametrize("table", ["enrolments", "absences"])
def test_a_required_table_with_a_header_and_no_rows_stops(table: str) -> None:
    header = TINY[f"{table}.csv"].splitlines()[0] + "\n"
    with pytest.raises(ValueError, match=f"^{table}: .* has a header but no rows") as info:
        canonicalise(raw_tables({**TINY, f"{table}.csv": header}), OPTIONS)
    assert isinstance(info.value, canonical.EmptyTableError)
    assert "\n" not in str(info.value)


def test_an_optional_table_with_a_header_and_no_rows_is_an_empty_table() -> None:
    header = TINY["late_arrivals.csv"].splitlines()[0] + "\n"
    result = canonicalise(raw_tables({**TINY, "late_arrivals.csv": header}), OPTIONS)
    rec = next(r for r in result.reconciliation if r.table == "late_arrivals")
    assert (rec.read, rec.accepted) == (0, 0)


def test_an_enrolment_overlapping_an_open_one_at_another_school_is_quarantined() -> None:
    files = with_rows(
        TINY,
        "enrolments.csv",
        "L1;S2;1;2024-11-04;1X;",  # row 5: L1 is still enrolled at S1 (no end)
        "L2;S2;2;2024-12-02;2X;",  # row 6: L2's enrolment at S1 runs to 20 December
        "L3;S1;1;2024-11-04;1B;",  # row 7: L3 changes class at the same school: taken
    )
    files = with_rows(files, "absences.csv", "L1;2024-11-05;AM;B;", "L3;2024-11-05;AM;B;")
    result = canonicalise(raw_tables(files), OPTIONS)
    reason = "starts while this pupil is still enrolled at another school"
    assert reasons(result, "enrolments") == [(5, "start_date", reason), (6, "start_date", reason)]
    absences = result.tables["absences"]
    assert set(absences["school_id"]) == {"S1"}  # L1 stays at S1
    l3 = absences.filter(
        pl.col("student_key") == pseudonym(KEY, "L3"), pl.col("date") == dt.date(2024, 11, 5)
    )
    assert l3["school_id"].to_list() == ["S1"]
    enrolled = result.tables["enrolments"].filter(pl.col("student_key") == pseudonym(KEY, "L3"))
    assert enrolled["class_id"].to_list() == ["1A", "1B"]
    assert all(r.balanced for r in result.reconciliation)
    # Ids at two schools at once may be numbers unique per school only: ingest says so.
    assert canonical.SHARED_IDS.format(n=2) in result.notices


def test_pupil_numbers_that_repeat_across_schools_are_named_in_a_notice() -> None:
    # Each school numbers its pupils from L1: the same ids, the same first day, other pupils.
    files = with_rows(TINY, "enrolments.csv", "L1;S2;3;2024-09-02;3X;", "L3;S2;2;2024-09-02;2Y;")
    result = canonicalise(raw_tables(files), OPTIONS)
    assert result.notices[0].startswith(
        "2 pupil id(s) are enrolled at two schools at once (the later enrolments are quarantined)"
    )
    moved = with_rows(TINY, "enrolments.csv", "L2;S2;2;2024-12-20;2X;")  # a move, not a clash
    assert not any(
        "two schools at once" in n for n in canonicalise(raw_tables(moved), OPTIONS).notices
    )


PER_SCHOOL = IngestOptions(profile=builtin_profile("flanders"), key=KEY, ids="per-school")


def per_school(school: str, pupil: str) -> str:
    return pseudonym(KEY, f"{school}{PER_SCHOOL_SEPARATOR}{pupil}")


def test_pupils_keyed_per_school_are_as_many_pupils_as_schools_number_them() -> None:
    files = with_rows(
        TWO_NUMBERINGS,
        "absences.csv",
        "L1;;2024-09-05;AM;Z;",  # row 5: whose L1?
        "L9;S1;2024-09-05;AM;Z;",  # row 6: nobody L9 at S1
        "L2;S3;2024-09-05;AM;Z;",  # row 7: no school S3
    )
    files = with_rows(files, "students.csv", "L2;S2;F")  # pupil L2 of S2 twice, differently
    result = canonicalise(raw_tables(files), PER_SCHOOL)
    assert all(r.balanced for r in result.reconciliation)
    assert not any("two schools at once" in n for n in result.notices)
    enrolled = result.tables["enrolments"].select("school_id", "student_key").rows()
    assert sorted(enrolled) == sorted(
        (s, per_school(s, p)) for s in ("S1", "S2") for p in ("L1", "L2")
    )
    absences = result.tables["absences"]
    assert sorted(absences.select("student_key", "school_id", "code").rows()) == sorted(
        [(per_school("S1", "L1"), "S1", "Z"), *[(per_school("S2", "L1"), "S2", "B")] * 2]
    )
    # The quarantine shows each pupil's id as the school wrote it, never with its school.
    assert result.quarantine["absences"].select("row", "column", "value", "reason").rows() == [
        (5, "school_id", None, "missing value (pupils are keyed per school)"),
        (6, "student_id", "L9", "unknown pupil (not in enrolments)"),
        (7, "student_id", "L2", "unknown pupil (not in enrolments)"),
    ]
    # Pupil L2 of S2 is listed twice, differently: both rows are quarantined. L1 is two pupils.
    assert reasons(result, "students") == [
        (4, "student_id", "duplicate value"),
        (5, "student_id", "duplicate value"),
    ]
    assert result.tables["care_cases"]["student_key"].to_list() == [per_school("S2", "L1")]
    assert sorted(result.identities["student_id"]) == sorted(
        f"{s}{PER_SCHOOL_SEPARATOR}{p}" for s in ("S1", "S2") for p in ("L1", "L2")
    )


def test_pupils_keyed_per_school_need_the_school_in_every_table() -> None:
    files = {**TINY, "enrolments.csv": TWO_NUMBERINGS["enrolments.csv"]}  # events without
    with pytest.raises(MissingSchoolIdError, match=r"^absences: the file absences.csv has no "):
        canonicalise(raw_tables(files), PER_SCHOOL)


def test_keyed_on_the_board_an_event_s_school_is_its_enrolment_s() -> None:
    absences = "student_id;school_id;date;period;code;minutes\nL1;S9;2024-09-03;AM;Z;\n"
    result = canonicalise(raw_tables({**TINY, "absences.csv": absences}), OPTIONS)
    assert result.tables["absences"].select("school_id").rows() == [("S1",)]
    assert any(n.startswith("absences: column school_id left out") for n in result.notices)
    assert all(r.quarantined == 0 for r in result.reconciliation)


def test_a_transfer_on_or_after_the_end_of_the_first_enrolment_is_taken() -> None:
    files = with_rows(
        TINY,
        "enrolments.csv",
        "L2;S2;2;2024-12-20;2X;",  # L2's enrolment at S1 ends that day: a move that day
    )
    result = canonicalise(raw_tables(files), OPTIONS)
    assert result.quarantine["enrolments"].is_empty()


def test_an_overlap_is_judged_against_every_earlier_enrolment_of_the_pupil() -> None:
    # L1 is at S1 from 2 September with no end; a class change at S2 does not end that.
    files = with_rows(
        TINY, "enrolments.csv", "L1;S2;1;2024-10-01;1X;2024-10-31", "L1;S2;1;2025-01-06;1Y;"
    )
    result = canonicalise(raw_tables(files), OPTIONS)
    assert [r[:2] for r in reasons(result, "enrolments")] == [(5, "start_date"), (6, "start_date")]


def test_two_codes_for_one_period_keep_the_more_serious() -> None:
    files = with_rows(
        TINY,
        "absences.csv",
        "L1;2024-09-03;AM;B;",  # row 7: unexcused beside row 2's Z (a parent's note)
        "L2;2024-09-05;AM;Z;",  # row 8: a parent's note beside row 4's B
        "L3;2024-09-09;1;P;",  # row 9: beside row 5's D (a certificate), lesson 1
        "L3;2024-09-09;AM;P;",  # row 10: the half-day is another period than lesson 1
        "L1;2024-09-05;AM;Z;",  # rows 11-12: the same category under two codes of one
        "L1;2024-09-05;AM;z;20",  # period (and other minutes): the first is kept
    )
    result = canonicalise(raw_tables(files), OPTIONS)
    assert reasons(result, "absences") == [
        (2, "code", "another code for this pupil's period is more serious and was kept: unexcused"),
        (8, "code", "another code for this pupil's period is more serious and was kept: unexcused"),
        (
            9,
            "code",
            "another code for this pupil's period is more serious and was kept: illness_certified",
        ),
        (
            12,
            "code",
            "another row for this pupil's period, of the same category, was kept: illness_parent_note",
        ),
    ]
    rec = next(r for r in result.reconciliation if r.table == "absences")
    assert (rec.read, rec.accepted, rec.quarantined, rec.duplicates) == (11, 7, 4, 0)
    l1 = result.tables["absences"].filter(pl.col("student_key") == pseudonym(KEY, "L1"))
    assert l1.select("date", "period", "category").rows() == [
        (dt.date(2024, 9, 3), "AM", "unexcused"),
        (dt.date(2024, 9, 3), "PM", "illness_parent_note"),
        (dt.date(2024, 9, 5), "AM", "illness_parent_note"),
    ]


def test_the_severity_order_names_every_category_once() -> None:
    assert sorted(canonical.SEVERITY) == sorted(codes.CATEGORIES)
    assert canonical.SEVERITY[0] == "unexcused"


def test_periods_shared_are_found_alike_packed_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = pl.DataFrame(
        {
            canonical.PUPIL: [0, 0, 1, 0, 0, 1],
            "date": [dt.date(2024, 9, d) for d in (3, 3, 3, 4, 3, 3)],
            canonical.PERIOD_ORDER: [1, 2, 1, 1, 1, 1],
        },
        schema_overrides={canonical.PUPIL: pl.UInt32, canonical.PERIOD_ORDER: pl.UInt32},
    )
    expected = [True, False, True, False, True, True]
    assert canonical._same_period(rows).to_list() == expected
    assert canonical._same_period(rows.head(1)).to_list() == [False]
    # Positions and ranks so high that pupil, day and period do not fit one integer: the rows
    # are compared as they are, not packed.
    wide = rows.with_columns(pl.col(canonical.PUPIL, canonical.PERIOD_ORDER) * (1 << 31))

    def unpacked(values: pl.Series) -> pl.Series:
        raise AssertionError("packed a key that does not fit")

    monkeypatch.setattr(canonical, "repeated_values", unpacked)
    assert canonical._same_period(wide).to_list() == expected


def test_an_export_straight_from_a_school_system_needs_only_a_profile() -> None:
    # Half-days as VM/NM, times without a leading zero, Dutch sick-bay outcomes and case
    # types: all mapped by a profile that extends the Flemish one; nothing goes to quarantine.
    profile = codes.CodeProfile.from_toml(
        "ours.toml",
        'extends = "flanders"\n'
        '[values.period]\nVM = "AM"\nNM = "PM"\n'
        '[values.outcome]\n"naar huis" = "sent_home"\n'
        '[values.case_type]\nschoolweigering = "school_refusal"\n',
    )
    files = {
        **TINY,
        "absences.csv": "student_id;date;period;code;minutes\n"
        "L1;2024-09-03;VM;Z;\nL1;2024-09-03;nm;Z;\nL2;2024-09-05;VM;B;\n",
        "late_arrivals.csv": "student_id;date;time;minutes_late\nL1;2024-09-10;8:40;10\n",
        "sick_bay_visits.csv": "student_id;date;time;minutes;outcome\n"
        "L1;2024-09-12;9:15;30;Naar huis\n",
        "care_cases.csv": "student_id;opened_on;case_type;onset_on\n"
        "L1;2024-11-04;schoolweigering;2024-10-01\n",
    }
    result = canonicalise(raw_tables(files), IngestOptions(profile=profile, key=KEY))
    assert [r.quarantined for r in result.reconciliation] == [0] * len(result.reconciliation)
    assert result.tables["absences"]["half"].to_list() == ["AM", "PM", "AM"]
    assert result.tables["late_arrivals"]["time"].to_list() == ["08:40"]
    assert result.tables["sick_bay_visits"]["outcome"].to_list() == ["sent_home"]
    assert result.tables["care_cases"]["case_type"].to_list() == ["school_refusal"]
    # Without the profile's values, the same export loses those rows to quarantine.
    plain = canonicalise(raw_tables(files), OPTIONS)
    lost = {r.table: r.quarantined for r in plain.reconciliation if r.quarantined}
    assert lost == {"absences": 3, "sick_bay_visits": 1, "care_cases": 1}


# --- the events checked in parts by pupil ---------------------------------------------------


def in_parts(options: IngestOptions, rows: int = 1) -> IngestOptions:
    """``options`` with the events checked ``rows`` at a time (1: as many parts as rows)."""
    return replace(options, partition_rows=rows)


def assert_same_result(whole: Canonical, parts: Canonical) -> None:
    """Every table, quarantined row and reason, count, notice and pseudonym alike."""
    assert list(parts.tables) == list(whole.tables)
    for name, frame in whole.tables.items():
        assert_frame_equal(parts.tables[name], frame)
    assert list(parts.quarantine) == list(whole.quarantine)
    for name, frame in whole.quarantine.items():
        assert_frame_equal(parts.quarantine[name], frame)
    assert parts.reconciliation == whole.reconciliation
    assert_frame_equal(parts.identities, whole.identities)
    assert parts.notices == whole.notices
    assert parts.shared_ids == whole.shared_ids


@pytest.mark.parametrize("rows", [1, 2, 5])
def test_events_checked_in_parts_give_the_whole_s_tables_and_quarantine(rows: int) -> None:
    files = with_rows(
        TINY,
        "absences.csv",
        "L9;2024-09-03;AM;B;",  # nobody of that id is enrolled
        "L2;2025-01-07;AM;B;",  # after L2's enrolment ended
        "L1;2024-09-07;AM;B;",  # a Saturday
        "L1;2024-09-04;PM;B;",  # Wednesday afternoon
        " L1 ;2024-09-02;AM;Z;",  # a second code for a period, the id in blanks
        "L1;02/09/2024;am;B;",  # the same period again, written otherwise
        "L3;x;AM;B;",  # not a date
        "L3;2024-09-05;1;L;",  # a late code: a late arrival
    )
    raw = raw_tables(files)
    assert_same_result(canonicalise(raw, OPTIONS), canonicalise(raw, in_parts(OPTIONS, rows)))


def test_an_export_calendar_is_read_alike_whole_or_in_parts() -> None:
    files = {
        **TINY,
        "calendar.csv": "date;school_day;school_id\n2024-09-03;false;S1\n2024-09-03;true;\n"
        + "".join(f"2024-09-{d:02d};true;\n" for d in (2, 4, 5, 6, 9, 10, 11, 12)),
    }
    raw = raw_tables(files)
    assert_same_result(canonicalise(raw, OPTIONS), canonicalise(raw, in_parts(OPTIONS)))


def test_pupils_keyed_per_school_are_checked_alike_in_parts() -> None:
    files = with_rows(
        TWO_NUMBERINGS, "absences.csv", "L1;;2024-09-05;AM;Z;", "L2;S3;2024-09-05;AM;Z;"
    )
    options = replace(OPTIONS, ids="per-school")
    raw = raw_tables(files)
    assert_same_result(canonicalise(raw, options), canonicalise(raw, in_parts(options)))


def test_unknown_codes_in_several_parts_are_listed_with_their_counts_over_the_whole() -> None:
    files = with_rows(
        TINY,
        "absences.csv",
        "L1;2024-09-05;AM;Q;",
        "L2;2024-09-06;AM;Q;",
        "L3;2024-09-06;PM;K;",
        "L3;2024-09-05;PM;Q;",
    )
    message = r"2 unknown absence code\(s\).*'Q' \(3 rows\), 'K' \(1 rows\)"
    for options in (OPTIONS, in_parts(OPTIONS)):
        with pytest.raises(UnknownCodesError, match=message):
            canonicalise(raw_tables(files), options)
    allowed = replace(OPTIONS, allow_unknown_codes=True)
    raw = raw_tables(files)
    assert_same_result(canonicalise(raw, allowed), canonicalise(raw, in_parts(allowed)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_events_in_parts_give_the_whole_s_result_under_random_corruption(
    data: st.DataObject,
) -> None:
    tables = raw_tables(TINY)
    corrupted = {}
    for name, table in tables.items():
        frame = table.frame
        columns = [c for c in frame.columns if c != ROW]
        values = {c: frame[c].to_list() for c in columns}
        for _ in range(data.draw(st.integers(0, 4))):
            column = data.draw(st.sampled_from(columns))
            row = data.draw(st.integers(0, frame.height - 1))
            values[column][row] = data.draw(CORRUPTIONS)
        corrupted[name] = RawTable(name, table.source, pl.DataFrame({ROW: frame[ROW], **values}))
    options = replace(OPTIONS, allow_unknown_codes=True)
    rows = data.draw(st.integers(1, 8))
    assert_same_result(
        canonicalise(corrupted, options), canonicalise(corrupted, in_parts(options, rows))
    )


def test_a_pupil_s_rows_fall_in_one_part_whatever_the_blanks_around_the_id() -> None:
    frame = pl.DataFrame({"student_id": ["L1", " L1", "L1 ", "L2", None, ""]})
    parts = pupil_partitions(frame, 7).to_list()
    assert parts[0] == parts[1] == parts[2]
    assert parts[4] == parts[5]  # no id, blank or missing: one part
    assert all(0 <= p < 7 for p in parts)


def test_a_simulated_board_is_the_same_whole_or_in_parts() -> None:
    sim = simulate(SimulationSettings(students=300, years=1, seed=3))
    with tempfile.TemporaryDirectory() as folder:
        paths = write_export(sim, Path(folder))
        raw = raw_tables({path.name: path.read_text("utf-8") for path in paths.values()})
    whole = canonicalise(raw, OPTIONS)
    events = sum(raw[n].frame.height for n in ("absences", "late_arrivals", "sick_bay_visits"))
    assert events > 5_000
    assert_same_result(whole, canonicalise(raw, in_parts(OPTIONS, 1_000)))


def test_a_pupil_s_position_is_the_one_an_enum_of_the_enrolled_ids_gives() -> None:
    pupils = pl.Series(["A7", "B1", "L1", "L10", "L2", "é3"])
    values = pl.Series(["L2", "L3", None, "", "A7", "é3", "zz", "L10"])
    expected = values.cast(pl.Enum(pupils), strict=False).to_physical()
    assert canonical._positions_among(values, pupils).equals(expected)
    nobody = canonical._positions_among(values, pl.Series([], dtype=pl.String))
    assert nobody.null_count() == values.len()


def test_a_line_the_reader_set_aside_is_quarantined_once_whatever_the_parts() -> None:
    raw = raw_tables(TINY)
    absences = raw["absences"]
    too_wide = pl.DataFrame(
        {
            ROW: [absences.frame.height + 2],
            "column": ["(whole line)"],
            "value": ["L1;2024-09-05;AM;B;;extra"],
            "reason": ["more fields than the header"],
        },
        schema=validate.FAILURE_SCHEMA,
    )
    raw["absences"] = RawTable("absences", absences.source, absences.frame, too_wide)
    whole = canonicalise(raw, OPTIONS)
    assert whole.quarantine["absences"]["column"].to_list() == ["(whole line)"]
    assert_same_result(whole, canonicalise(raw, in_parts(OPTIONS)))
