from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.canonical import contract
from features.canonical.validate import ROW
from pipelines.sources.readers import (
    ExportError,
    NotInBlocks,
    find_tables,
    read_blocks,
    read_table,
)
from tests.conftest import TINY, write_export

ENROL = TINY["enrolments.csv"]


def read(path: Path, name: str = "enrolments") -> pl.DataFrame:
    return read_table(name, path).table.frame


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (ENROL, "utf-8"),
        (ENROL.replace(";", ","), "utf-8"),
        (ENROL.replace(";", "\t"), "utf-8"),
        ("\ufeff" + ENROL, "utf-8"),
        (ENROL.replace("1A", "1Aé"), "cp1252"),
    ],
    ids=["semicolon", "comma", "tab", "bom", "cp1252"],
)
def test_csv_dialects_read_the_same(tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_bytes(text.encode(encoding))
    frame = read(path)
    assert frame.columns == [
        "_row",
        "student_id",
        "school_id",
        "grade",
        "start_date",
        "class_id",
        "end_date",
    ]
    assert frame["_row"].to_list() == [2, 3, 4]  # CSV line numbers: line 1 is the header
    assert frame["student_id"].to_list() == ["L1", "L2", "L3"]
    if encoding == "cp1252":
        assert frame["class_id"][0] == "1Aé"


def test_parquet_and_xlsx_with_typed_cells_read_as_text(tmp_path: Path) -> None:
    typed = pl.DataFrame(
        {
            "student_id": ["L1", "L2"],
            "school_id": ["S1", "S1"],
            "grade": [1, 2],
            "start_date": [dt.date(2024, 9, 2), dt.date(2024, 9, 2)],
            "end_date": [None, dt.date(2024, 12, 20)],
        }
    )
    typed.write_parquet(tmp_path / "enrolments.parquet")
    typed.write_excel(tmp_path / "enrolments.xlsx")
    from_parquet = read(tmp_path / "enrolments.parquet")
    from_excel = read(tmp_path / "enrolments.xlsx")
    assert from_parquet["_row"].to_list() == [1, 2]
    assert from_excel["_row"].to_list() == [2, 3]  # Excel row numbers
    for frame in (from_parquet, from_excel):
        assert frame["start_date"].to_list() == ["2024-09-02", "2024-09-02"]
        assert frame["end_date"].to_list() == [None, "2024-12-20"]
        assert frame["grade"].str.replace(r"\.0$", "").to_list() == ["1", "2"]
        assert frame["class_id"].to_list() == [None, None]  # optional, absent: added as blanks


def test_extra_columns_are_ignored_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text(ENROL.replace("end_date\n", "end_date;remark\n", 1))
    result = read_table("enrolments", path)
    assert "remark" not in result.table.frame.columns
    assert result.notices == ("enrolments.csv: ignoring columns not in the contract: remark",)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"student_id;school_id;start_date\nL1;S1;2024-09-02\n",
            r"missing required column 'grade' \(not in the header on line 1\)",
        ),
        (b"", "empty file"),
        (b"\x00\x01\x02\x03binary", "not a text file"),
    ],
    ids=["missing-column", "empty", "binary"],
)
def test_unreadable_tables_give_one_line_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_bytes(content)
    with pytest.raises(ExportError, match=message) as info:
        read_table("enrolments", path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_a_corrupt_xlsx_is_not_a_readable_table(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ExportError, match=r"enrolments\.xlsx: not a readable table"):
        read_table("enrolments", path)


def test_find_tables_needs_the_required_ones_and_refuses_two_files_for_one(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", {"enrolments.csv": ENROL, "readme.txt": "hi"})
    with pytest.raises(ExportError, match="required table 'absences' is missing"):
        find_tables(folder)
    write_export(folder, {"absences.csv": TINY["absences.csv"]})
    found, notices = find_tables(folder)
    assert sorted(found) == ["absences", "enrolments"]
    assert notices == ["readme.txt: not a table of the input contract, ignored"]
    (folder / "absences.parquet").write_bytes(b"")
    with pytest.raises(ExportError, match="two files for table absences"):
        find_tables(folder)
    with pytest.raises(ExportError, match="no such export folder"):
        find_tables(tmp_path / "nowhere")


def test_xlsx_cells_are_read_as_text_even_after_many_numbers(tmp_path: Path) -> None:
    from xlsxwriter import Workbook

    path = tmp_path / "late_arrivals.xlsx"
    with Workbook(str(path)) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["student_id", "date", "time"])
        time_format = book.add_format({"num_format": "hh:mm"})
        for i in range(1, 121):  # numeric ids first, as some school software exports them
            sheet.write_number(i, 0, 1000 + i)
            sheet.write_string(i, 1, "2024-09-03")
            sheet.write_datetime(i, 2, dt.datetime(1899, 12, 31, 8, 30), time_format)
        sheet.write_string(121, 0, "A12")
        sheet.write_string(121, 1, "2024-09-03")
    frame = read(path, "late_arrivals")
    assert frame["student_id"][-1] == "A12"
    assert frame["student_id"][0].removesuffix(".0") == "1001"
    assert frame["time"][0] == "08:30"


def test_rows_after_a_quoted_line_break_keep_their_line_numbers(tmp_path: Path) -> None:
    # L1's class spans lines 2-3, so L2 stands on line 4 and L3 on line 5 of the file.
    text = ENROL.replace("1;2024-09-02;1A;\nL2", '1;2024-09-02;"1A\nlatin";\nL2', 1)
    path = tmp_path / "enrolments.csv"
    path.write_text(text, encoding="utf-8")
    frame = read(path)
    assert frame["class_id"][0] == "1A\nlatin"
    lines = text.splitlines()
    assert lines[3].startswith("L2;") and lines[4].startswith("L3;")
    assert frame.select("_row", "student_id").rows() == [(2, "L1"), (4, "L2"), (5, "L3")]


@pytest.mark.parametrize("separator", [";", ","])
def test_a_quoted_line_break_in_the_header_moves_every_row_down(
    tmp_path: Path, separator: str
) -> None:
    # A first, extra column whose name spans lines 1-2, and L1's class spanning lines 3-4:
    # L1 stands on line 3, L2 on line 5.
    text = ENROL.replace("1;2024-09-02;1A;\nL2", '1;2024-09-02;"1A\nlatin";\nL2', 1)
    text = '"note\nfrom the office";' + text.replace("\n", "\n;").removesuffix(";")
    text = text.replace(";", separator)
    path = tmp_path / "enrolments.csv"
    path.write_text(text, encoding="utf-8")
    result = read_table("enrolments", path)
    lines = text.splitlines()
    assert lines[2].startswith(f"{separator}L1{separator}")
    assert lines[4].startswith(f"{separator}L2{separator}")
    assert result.table.frame.select("_row", "student_id").rows()[:2] == [(3, "L1"), (5, "L2")]
    assert result.notices == (
        "enrolments.csv: ignoring columns not in the contract: note\\nfrom the office",
    )


def test_a_missing_column_error_is_one_line_and_names_only_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text('"student\r\nid";school_id\nL1;S1\n', encoding="utf-8")
    with pytest.raises(ExportError) as error:
        read_table("enrolments", path)
    assert "\n" not in str(error.value) and "\r" not in str(error.value)
    assert str(error.value).endswith(
        "missing required columns 'student_id', 'grade', 'start_date' (not in the header on line 1)"
    )
    assert "student\\r\\nid" not in str(error.value)  # not evidently a header: not named


def test_old_mac_line_ends_read_like_any_other(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_bytes(ENROL.replace("\n", "\r").encode())
    frame = read(path)
    assert frame["student_id"].to_list() == ["L1", "L2", "L3"]
    assert frame["_row"].to_list() == [2, 3, 4]


def test_stray_cp1252_bytes_in_a_utf8_file_leave_the_utf8_text_alone(tmp_path: Path) -> None:
    # One name pasted from a cp1252 program into an otherwise UTF-8 (BOM) file.
    text = "\ufeff" + ENROL.replace("L1;", "L1ë;").replace("2B", "2B§")
    data = text.encode("utf-8").replace("§".encode(), "é".encode("cp1252"))
    path = tmp_path / "enrolments.csv"
    path.write_bytes(data)
    frame = read(path)
    assert frame["student_id"].to_list() == ["L1ë", "L2", "L3"]
    assert frame["class_id"][1] == "2Bé"


@pytest.mark.parametrize(
    "header",
    [
        "student_id;school_id;grade;start_date;class_id;class_id",
        "student_id;school_id;grade;start_date;class_id; class_id ",
    ],
    ids=["exact", "after-trimming"],
)
def test_a_column_given_twice_stops_with_one_line(tmp_path: Path, header: str) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text(header + "\n" + ENROL.split("\n", 1)[1])
    with pytest.raises(ExportError, match="column 'class_id' appears twice") as info:
        read_table("enrolments", path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_parquet_column_given_twice_after_trimming_stops(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.parquet"
    pl.DataFrame(
        {
            "student_id": ["L1"],
            "school_id": ["S1"],
            "grade": [1],
            "start_date": ["2024-09-02"],
            " school_id": ["S2"],
        }
    ).write_parquet(path)
    with pytest.raises(ExportError, match="column 'school_id' appears twice"):
        read_table("enrolments", path)


def test_a_column_named_as_the_line_number_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text(ENROL.replace("end_date", f"end_date;{ROW}"))
    with pytest.raises(ExportError, match=f"a column is named '{ROW}'"):
        read_table("enrolments", path)


def test_a_stray_quote_polars_cannot_read_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    bad = 'L4;S1;1;2024-09-02;1"A;\n'
    path.write_text(ENROL + bad + "".join(f"L{i};S1;1;2024-09-02;1A;\n" for i in range(5, 400)))
    with pytest.raises(ExportError, match="malformed CSV: check its quotes and separators"):
        read_table("enrolments", path)


def test_an_unclosed_quote_stops_the_file_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text(ENROL + 'L4;S1;1;2024-09-02;"1A;;extra\nL5;S1;1;2024-09-02;1A;\n')
    with pytest.raises(
        ExportError, match="line 5: a quote opens a value that is never closed"
    ) as info:
        read_table("enrolments", path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_line_with_too_many_fields_is_set_aside_with_its_text(
    tmp_path: Path, line_end: str
) -> None:
    lines = [
        "student_id;school_id;grade;start_date;class_id;end_date",  # line 1
        'L1;S1;1;2024-09-02;"1',  # lines 2-3: a line break inside a quoted class
        'A";',
        "L4;S1;1;2024-09-02;1A;;extra",  # line 4: a seventh field
        "L5;S1;1;2024-09-02;1A",  # line 5: no end_date field at all
        "",  # line 6
        'L6;S1;1;2024-09-02;1A;;x;"y',  # lines 7-8: eight fields, one with a line break
        'z"',
        "L7;S1;1;2024-09-02;1A;",  # line 9
    ]
    path = tmp_path / "enrolments.csv"
    path.write_bytes((line_end.join(lines) + line_end).encode())
    result = read_table("enrolments", path)
    frame = result.table.frame
    assert frame[ROW].to_list() == [2, 5, 6, 9]  # a blank line is a row, as polars reads it
    assert frame["class_id"].to_list() == [f"1{line_end}A", "1A", None, "1A"]
    assert frame["end_date"].to_list() == [None, None, None, None]
    assert result.table.rejected.rows() == [
        (4, "(whole line)", "L4;S1;1;2024-09-02;1A;;extra", "7 fields where the header has 6"),
        (
            7,
            "(whole line)",
            f'L6;S1;1;2024-09-02;1A;;x;"y{line_end}z"',
            "8 fields where the header has 6",
        ),
    ]
    assert result.notices == (
        "enrolments.csv: 2 row(s) with more fields than the header go to quarantine "
        "(first: line 4, 7 fields where the header has 6)",
    )


def test_a_bom_tab_separated_file_with_a_quoted_first_name_finds_its_long_row(
    tmp_path: Path,
) -> None:
    header = '"student_id";date;time;minutes_late'.replace(";", "\t")
    lines = [header, "L1\t2024-09-10\t08:40\t10", "L1\t2024-09-11\t08:40\t10\tlate bus"]
    path = tmp_path / "late_arrivals.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([*lines, "L1\t2024-09-12\t08:41\t5"]).encode())
    table = read_table("late_arrivals", path).table
    assert table.frame.select(ROW, "date").rows() == [(2, "2024-09-10"), (4, "2024-09-12")]
    assert table.rejected.select(ROW, "value").rows() == [(3, lines[2])]


def test_empty_fields_beyond_the_header_lose_nothing_and_are_read(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text(ENROL + "L4;S1;1;2024-09-02;1A;;;\nL5;S1;1;2024-09-02;1A;; ; \n")
    result = read_table("enrolments", path)
    assert result.table.frame[ROW].to_list() == [2, 3, 4, 5, 6]
    assert result.table.rejected.is_empty() and result.notices == ()


def test_a_file_most_of_whose_rows_are_too_long_stops(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    long = "".join(f"L{i};S1;1;2024-09-02;1A;;x\n" for i in range(4, 8))
    path.write_text(ENROL + long)
    with pytest.raises(ExportError, match=r"4 of 7 rows have more fields than the header"):
        read_table("enrolments", path)


def test_a_long_row_is_not_copied_when_the_file_has_columns_outside_the_contract(
    tmp_path: Path,
) -> None:
    path = tmp_path / "late_arrivals.csv"
    path.write_text(
        "student_id;name;date;time;minutes_late\n"
        "L1;An;2024-09-10;08:40;10\nL2;Els Jans;2024-09-10;08:40;2;ill; mother called\n"
        "L3;Bo;2024-09-10;08:45;5\n"
    )
    rejected = read_table("late_arrivals", path).table.rejected
    assert rejected.rows() == [
        (
            3,
            "(whole line)",
            None,
            "7 fields where the header has 5; not copied: the file has other columns",
        )
    ]


def test_a_parquet_column_named_as_the_line_number_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.parquet"
    pl.DataFrame(
        {"student_id": ["L1"], "school_id": ["S1"], "grade": [1], "start_date": ["x"], ROW: [1]}
    ).write_parquet(path)
    with pytest.raises(ExportError, match=f"a column is named '{ROW}'"):
        read_table("enrolments", path)


PLAIN = ["a", "b c", "1", "é", ""]
QUOTED = ['"q;uoted"', '"two\nlines"']


@settings(max_examples=80, deadline=None)
@given(data=st.data(), line_end=st.sampled_from(["\n", "\r\n"]))
def test_rows_with_too_many_fields_leave_every_other_row_as_csv_reads_it(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, line_end: str
) -> None:
    fields = st.sampled_from(PLAIN + (QUOTED if data.draw(st.booleans()) else []))
    rows = data.draw(st.lists(st.lists(fields, min_size=1, max_size=6), min_size=1, max_size=12))
    rows = [*rows, ["x", "y", "z", "too", "many"]]  # at least one row too long
    text = line_end.join(["student_id;date;time;minutes_late", *(";".join(r) for r in rows)])
    path = tmp_path_factory.mktemp("csv") / "late_arrivals.csv"
    path.write_bytes((text + line_end).encode())

    expected_rows, expected_long, line = [], [], 1
    for number, row in enumerate(
        csv.reader(io.StringIO(text + line_end, newline=""), delimiter=";")
    ):
        if number:  # the header is row 0, on line 1
            if any(v.strip() for v in row[4:]):
                expected_long.append(line)
            else:  # empty fields beyond the header's are cut; "" is read as missing
                values = [v or None for v in row[:4]]
                # The contract's other (optional) columns are absent from the file: null.
                width = len(contract.columns("late_arrivals"))
                expected_rows.append((line, *values, *[None] * (width - len(values))))
        line += 1 + sum(v.count("\n") for v in row)
    if 2 * len(expected_long) > sum(1 for r in rows if any(r)):  # rows with a value
        with pytest.raises(ExportError, match="rows have more fields than the header"):
            read_table("late_arrivals", path)
        return
    result = read_table("late_arrivals", path).table
    assert result.frame.rows() == expected_rows
    assert result.rejected[ROW].to_list() == expected_long


def test_a_blank_column_name_is_named_in_the_notice(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text(ENROL.replace("\n", ";\n"))
    assert read_table("enrolments", path).notices == (
        "enrolments.csv: ignoring columns not in the contract: (blank)",
    )


def test_a_folder_by_a_tables_name_is_not_skipped_silently(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", {"enrolments.csv": ENROL, **TINY})
    (folder / "late_arrivals.csv").unlink(missing_ok=True)
    (folder / "late_arrivals.csv").mkdir()
    found, notices = find_tables(folder)
    assert "late_arrivals" not in found
    assert notices == [
        "late_arrivals.csv: not a readable file (a folder or a broken link), ignored"
    ]


def _workbook(path: Path, sheets: dict[str, list[list[str] | None]]) -> None:
    from xlsxwriter import Workbook

    with Workbook(str(path)) as book:
        for name, rows in sheets.items():
            sheet = book.add_worksheet(name)
            for number, row in enumerate(rows):
                if row:
                    sheet.write_row(number, 0, row)


def test_xlsx_rows_keep_their_excel_numbers_around_blank_rows(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.xlsx"
    header = ["student_id", "school_id", "grade", "start_date"]
    # Rows 1-2 blank, the header on row 3, L1 on row 4, row 5 blank, L2 on row 6.
    rows = [None, None, header, ["L1", "S1", "1", "2024-09-02"], None]
    _workbook(path, {"pupils": [*rows, ["L2", "S1", "2", "2024-09-02"]], "empty": []})
    frame = read(path)
    assert frame.select("_row", "student_id").rows() == [(4, "L1"), (6, "L2")]


def test_xlsx_with_data_on_two_sheets_stops(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.xlsx"
    header = ["student_id", "school_id", "grade", "start_date"]
    _workbook(
        path,
        {
            "sep-dec": [header, ["L1", "S1", "1", "2024-09-02"]],
            "jan-jun": [header, ["L2", "S1", "2", "2025-01-06"]],
        },
    )
    with pytest.raises(ExportError, match=r"2 sheets hold data \(sheets 1, 2 of 2\)") as info:
        read_table("enrolments", path)
    assert "sep-dec" not in str(info.value)  # a sheet's name is the file's content too


# --- Links, header rows, encodings, quotes and typed Parquet -------------------------------

ABSENCES = TINY["absences.csv"]
SECRET = "c0ffee" * 10  # stands for a workspace's pseudonymisation key


def _export_with_link(tmp_path: Path, name: str, target: Path) -> Path:
    folder = write_export(tmp_path / "export", TINY)
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(target)
    return folder


def test_a_required_table_linked_to_a_file_outside_the_export_is_not_read(
    tmp_path: Path,
) -> None:
    key = tmp_path / "ws" / "secrets" / "pseudonym.key"
    key.parent.mkdir(parents=True)
    key.write_text(SECRET)
    folder = _export_with_link(tmp_path, "absences.csv", key)
    with pytest.raises(ExportError, match="required table 'absences' is missing") as info:
        find_tables(folder)
    assert "outside the export folder" in str(info.value)
    assert SECRET not in str(info.value) and "\n" not in str(info.value)
    # read directly, the reader refuses the link too (it does not know what find_tables knew)
    with pytest.raises(ExportError, match="outside the export folder") as info:
        read_table("absences", folder / "absences.csv")
    assert SECRET not in str(info.value)


def test_an_optional_table_linked_out_of_the_export_is_left_out_with_a_notice(
    tmp_path: Path,
) -> None:
    folder = _export_with_link(tmp_path, "late_arrivals.csv", Path("/proc/self/environ"))
    found, notices = find_tables(folder)
    assert "late_arrivals" not in found
    assert notices == ["late_arrivals.csv: a link to a file outside the export folder, not read"]


def test_a_link_that_leaves_the_export_through_another_link_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(TINY["late_arrivals.csv"])
    folder = write_export(tmp_path / "export", TINY)
    (folder / "late_arrivals.csv").unlink()
    (folder / "sub").mkdir()
    (folder / "sub" / "hop.csv").symlink_to(outside)
    (folder / "late_arrivals.csv").symlink_to(Path("sub") / "hop.csv")
    found, notices = find_tables(folder)
    assert "late_arrivals" not in found
    assert notices == ["late_arrivals.csv: a link to a file outside the export folder, not read"]


def test_a_link_that_stays_inside_the_export_is_read_like_its_target(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export", TINY)
    (folder / "absences.csv").rename(folder / "absences-2024-09-30.txt")
    (folder / "absences.csv").symlink_to("absences-2024-09-30.txt")
    found, _ = find_tables(folder)
    frame = read(found["absences"], "absences")
    assert frame["student_id"].to_list() == ["L1", "L1", "L2", "L3", "L3"]


@pytest.mark.parametrize(
    "first_line",
    ["L1;2024-09-03;AM;Z;", "L1;L1;AM;Z;", "L1;_row;AM;Z;", "Jan Peeters;2024-09-03;AM;Z;"],
    ids=["data-row", "a-value-twice", "row-column-name", "a-name"],
)
def test_a_csv_without_a_header_row_says_what_was_expected_never_the_row(
    tmp_path: Path, first_line: str
) -> None:
    path = tmp_path / "absences.csv"
    path.write_text(first_line + "\nL2;2024-09-05;AM;B;\n")
    with pytest.raises(ExportError) as info:
        read_table("absences", path)
    assert str(info.value) == (
        f"{path} line 1: no header with the required columns student_id, date, period, code"
    )


def test_a_header_missing_one_column_names_the_missing_one_not_the_others(
    tmp_path: Path,
) -> None:
    path = tmp_path / "absences.csv"
    path.write_text("student_id;datum;period;code;naam\nL1;2024-09-03;AM;Z;An\n")
    with pytest.raises(ExportError) as info:
        read_table("absences", path)
    # a header: the missing column is named, the others are not (they may be anything)
    assert (
        str(info.value) == f"{path}: missing required column 'date' (not in the header on line 1)"
    )


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 4, b"\x81\x8d\x8f\x90\x9d" * 20, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"],
    ids=["all-bytes", "undefined-in-cp1252", "png"],
)
def test_a_binary_file_is_not_a_text_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "absences.csv"
    path.write_bytes(content)
    with pytest.raises(ExportError) as info:
        read_table("absences", path)
    assert str(info.value) == f"{path}: not a text file"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le"])
def test_utf16_files_read_like_utf8(tmp_path: Path, encoding: str) -> None:
    text = ABSENCES.replace("L2", "Lé")
    if encoding.endswith("-bom"):
        data = ("\ufeff" + text).encode(encoding.removesuffix("-bom"))
    else:
        data = text.encode(encoding)
    path = tmp_path / "absences.csv"
    path.write_bytes(data)
    frame = read(path, "absences")
    assert frame["student_id"].to_list() == ["L1", "L1", "Lé", "L3", "L3"]
    assert frame[ROW].to_list() == [2, 3, 4, 5, 6]


def test_an_unclosed_quote_is_named_on_the_line_where_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    # L4's row starts on line 5; its class closes on line 6, where its end date opens a quote
    path.write_text(ENROL + 'L4;S1;1;2024-09-02;"1A\nB";"2025\nL5;S1;1;2024-09-02;1A;;x\n')
    with pytest.raises(ExportError) as info:
        read_table("enrolments", path)
    assert str(info.value) == f"{path} line 6: a quote opens a value that is never closed"


def test_an_unclosed_quote_in_the_header_never_shows_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text('"' + ENROL)
    with pytest.raises(ExportError) as info:
        read_table("enrolments", path)
    assert str(info.value) == f"{path} line 1: a quote opens a value that is never closed"


TYPED_LATE = {
    "student_id": ["L1", "L2", "L3"],
    "date": [dt.date(2024, 9, 10), dt.date(2024, 9, 11), None],
    "time": [dt.time(8, 39), dt.time(8, 40, 30), None],
    "minutes_late": [10, None, 3],
}


@pytest.mark.parametrize("writer", ["polars", "pyarrow"])
def test_typed_parquet_times_dates_and_numbers_read_as_the_contract_text(
    tmp_path: Path, writer: str
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "late_arrivals.parquet"
    if writer == "polars":
        pl.DataFrame(TYPED_LATE).write_parquet(path)
    else:  # the types pandas and pyarrow writers use: time64, timestamp at midnight, float
        pq.write_table(
            pa.table(
                {
                    "student_id": pa.array(TYPED_LATE["student_id"]),
                    "date": pa.array(
                        [dt.datetime(2024, 9, 10), dt.datetime(2024, 9, 11), None],
                        pa.timestamp("ms"),
                    ),
                    "time": pa.array(TYPED_LATE["time"], pa.time64("us")),
                    "minutes_late": pa.array([10.0, float("nan"), 3.0], pa.float64()),
                }
            ),
            path,
        )
    frame = read(path, "late_arrivals")
    assert frame["date"].to_list() == ["2024-09-10", "2024-09-11", None]
    # seconds are kept when there are any: such a time fails HH:MM as it would in a CSV
    assert frame["time"].to_list() == ["08:39", "08:40:30", None]
    late = frame["minutes_late"].to_list()
    assert late[0] == "10" and late[2] == "3"


def test_typed_parquet_booleans_and_float_ids_read_as_a_csv_would_write_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "students.parquet"
    pl.DataFrame(
        {"student_id": [1001.0, 1002.0], "ses_low": [True, None], "sen": [False, True]}
    ).write_parquet(path)
    frame = read(path, "students")
    assert frame.select("student_id", "ses_low", "sen").rows() == [
        ("1001", "true", "false"),
        ("1002", None, "true"),
    ]


def _typed_tiny(day: type[dt.date] = dt.date) -> dict[str, pl.DataFrame]:
    """The tiny export as typed frames: dates, times, whole numbers and booleans."""
    d = day

    def on(month: int, dom: int, year: int = 2024) -> dt.date:
        return d(year, month, dom)

    return {
        "enrolments": pl.DataFrame(
            {
                "student_id": ["L1", "L2", "L3"],
                "school_id": ["S1", "S1", "S1"],
                "grade": pl.Series([1, 2, 1], dtype=pl.Int8),
                "start_date": [on(9, 2)] * 3,
                "class_id": ["1A", "2B", "1A"],
                "end_date": [None, on(12, 20), None],
            }
        ),
        "absences": pl.DataFrame(
            {
                "student_id": ["L1", "L1", "L2", "L3", "L3"],
                "date": [on(9, 3), on(9, 3), on(9, 5), on(9, 9), on(9, 9)],
                "period": ["AM", "PM", "AM", "1", "6"],
                "code": ["Z", "Z", "B", "D", "D"],
                "minutes": [None, None, None, 50, 50],
            }
        ),
        "late_arrivals": pl.DataFrame(
            {
                "student_id": ["L1"],
                "date": [on(9, 10)],
                "time": [dt.time(8, 40)],
                "minutes_late": [10],
            }
        ),
        "sick_bay_visits": pl.DataFrame(
            {
                "student_id": ["L1"],
                "date": [on(9, 12)],
                "time": [dt.time(10, 15)],
                "minutes": [30],
                "outcome": ["sent_home"],
            }
        ),
        "students": pl.DataFrame(
            {
                "student_id": ["L1", "L2", "L3"],
                "gender": ["F", "M", "V"],
                "ses_low": [False, True, False],
                "sen": [True, False, False],
            }
        ),
        "care_cases": pl.DataFrame(
            {
                "student_id": ["L1"],
                "opened_on": [on(11, 4)],
                "case_type": ["school_refusal"],
                "onset_on": [on(10, 1)],
            }
        ),
    }


@pytest.mark.parametrize("writer", ["polars", "pyarrow"])
def test_a_typed_parquet_export_ingests_like_the_same_export_as_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    import pyarrow.parquet as pq

    from pipelines.settings import IngestSettings
    from pipelines.steps.ingest import run_ingest
    from pipelines.workspace import KEY_ENV, Workspace

    monkeypatch.setenv(KEY_ENV, bytes(range(32)).hex())
    typed = tmp_path / "typed"
    typed.mkdir()
    for name, frame in _typed_tiny(dt.datetime if writer == "pyarrow" else dt.date).items():
        path = typed / f"{name}.parquet"
        if writer == "polars":
            frame.write_parquet(path)
        else:  # timestamps for dates and floats for numbers with gaps, as pandas leaves them
            table = frame.with_columns(pl.col(pl.Int64).cast(pl.Float64)).to_arrow()
            pq.write_table(table, path)
    as_csv = write_export(tmp_path / "csv", TINY)
    reports = {}
    for export in (as_csv, typed):
        ws = Workspace(tmp_path / f"ws-{export.name}")
        reports[export.name] = run_ingest(export, ws, IngestSettings(), say=lambda _: None)
    assert [r.line() for r in reports["typed"].reconciliation] == [
        r.line() for r in reports["csv"].reconciliation
    ]
    for path in sorted((tmp_path / "ws-csv" / "canonical").glob("*.parquet")):
        from_typed = pl.read_parquet(tmp_path / "ws-typed" / "canonical" / path.name)
        assert from_typed.equals(pl.read_parquet(path)), path.name


def test_a_stray_quote_is_named_on_its_line_counted_as_in_the_file(tmp_path: Path) -> None:
    # L2's row is too long and spans lines 3-4 (set aside); the stray quote is on line 6
    long_row = 'L2;S1;2;02/09/2024;"2\nB";2024-12-20;x;y'
    text = ENROL.replace("L2;S1;2;02/09/2024;2B;2024-12-20", long_row) + 'L4;S1;1;2024-09-02;1"A;\n'
    path = tmp_path / "enrolments.csv"
    path.write_text(text)
    with pytest.raises(ExportError) as info:
        read_table("enrolments", path)
    assert str(info.value) == (
        f"{path} line 6: a quote inside a value that is not quoted (malformed CSV: check its "
        "quotes and separators)"
    )


def test_a_cp1252_byte_cp1252_leaves_undefined_is_read_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_bytes(ENROL.replace("2B", "2B\x81").encode("latin-1"))
    assert read(path)["class_id"][1] == "2B\x81"


def test_utf32_with_its_mark_reads_like_utf8(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_bytes(ENROL.encode("utf-32"))
    assert read(path)["student_id"].to_list() == ["L1", "L2", "L3"]


def test_utf16_cut_in_the_middle_of_a_character_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_bytes(ENROL.encode("utf-16")[:-1])
    with pytest.raises(ExportError) as info:
        read_table("enrolments", path)
    assert str(info.value) == f"{path} line 4: not valid UTF-16 text"


def test_many_long_column_names_are_named_on_one_shortened_line(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.csv"
    extra = [f"remark {i} " + "x" * 60 for i in range(12)]
    path.write_text(ENROL.replace("end_date\n", "end_date;" + ";".join(extra) + "\n", 1))
    (notice,) = read_table("enrolments", path).notices
    shown = "remark 0 " + "x" * 28 + "..."
    assert notice.startswith(f"enrolments.csv: ignoring columns not in the contract: {shown}, ")
    assert notice.endswith(" and 4 more") and len(notice) < 450


@pytest.mark.parametrize("kind", ["loop", "folder", "fifo"])
def test_a_table_name_that_is_no_regular_file_is_not_read(tmp_path: Path, kind: str) -> None:
    import os

    folder = write_export(tmp_path / "x", TINY)
    path = folder / "late_arrivals.csv"
    path.unlink()
    if kind == "loop":
        path.symlink_to("late_arrivals.csv")
    elif kind == "folder":
        (folder / "sub").mkdir()
        path.symlink_to("sub")
    else:  # reading a pipe would wait for a writer forever
        os.mkfifo(path)
    found, notices = find_tables(folder)
    assert "late_arrivals" not in found
    assert notices == [
        "late_arrivals.csv: not a readable file (a folder or a broken link), ignored"
    ]
    with pytest.raises(ExportError, match=r"late_arrivals\.csv: not a readable file$"):
        read_table("late_arrivals", path)


def test_a_file_that_is_no_table_format_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.txt"
    path.write_text(ENROL)
    with pytest.raises(ExportError, match=r"not a table file \(expected .csv, .parquet or .xlsx\)"):
        read_table("enrolments", path)


def test_a_parquet_library_error_is_named_by_its_kind_never_its_words(tmp_path: Path) -> None:
    path = tmp_path / "enrolments.parquet"
    pl.DataFrame({"student_id": ["Jan Peeters"] * 50}).write_parquet(path)
    path.write_bytes(path.read_bytes()[:-30])  # its footer cut off
    with pytest.raises(ExportError) as info:
        read_table("enrolments", path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a readable table (not a valid Parquet file: ")
    assert "Jan" not in message and "\n" not in message


def test_a_parquet_column_of_lists_in_the_contract_is_named(tmp_path: Path) -> None:
    path = tmp_path / "late_arrivals.parquet"
    frame = pl.DataFrame({"student_id": ["L1"], "date": ["2024-09-10"], "time": [["08:40"]]})
    frame.with_columns(remarks=pl.lit([1, 2])).write_parquet(path)
    with pytest.raises(ExportError) as info:
        read_table("late_arrivals", path)
    assert str(info.value) == f"{path}: column 'time' holds lists or records, not one value per row"


def test_a_carriage_return_inside_a_column_name_names_line_1(tmp_path: Path) -> None:
    # found by the fuzzer: Python's csv module refused the header and the message said "Error"
    path = tmp_path / "enrolments.csv"
    path.write_bytes(ENROL.replace("\n", "\r\n").replace("grade", "gr\rade").encode())
    with pytest.raises(ExportError) as info:
        read_table("enrolments", path)
    assert str(info.value) == f"{path} line 1: a line break inside a field that is not quoted"


def test_an_export_folder_reached_through_a_link_reads_its_inside_links(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "real", TINY)
    (folder / "absences.csv").rename(folder / "absences-week-40.csv")
    (folder / "absences.csv").symlink_to(folder / "absences-week-40.csv")  # absolute, inside
    (tmp_path / "export").symlink_to(folder)
    found, notices = find_tables(tmp_path / "export")
    assert notices == [] and "absences" in found
    assert read(found["absences"], "absences").height == 5


def test_a_damaged_parquet_file_that_crashes_the_reader_stops_in_one_line(
    tmp_path: Path,
) -> None:
    # found by the fuzzer: a zero byte spliced into the first data pages made polars panic, a
    # PanicException that is no Exception and escaped as a traceback
    frame = pl.read_csv(io.StringIO(ABSENCES), separator=";", infer_schema=False)
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    raw = buffer.getvalue()
    path = tmp_path / "absences.parquet"
    for at in range(40, 200):
        path.write_bytes(raw[:at] + b"\x00" + raw[at:])
        try:
            read_table("absences", path)
        except ExportError as exc:
            assert "\n" not in str(exc)


def test_a_file_the_system_refuses_says_so_in_its_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "enrolments.csv"
    path.write_text(ENROL)

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)  # as root, chmod 000 would not refuse
    with pytest.raises(ExportError) as info:
        read_table("enrolments", path)
    assert str(info.value) == f"{path}: cannot be read (Permission denied)"


def test_a_typed_parquet_column_named_with_blanks_around_reads_as_its_contract_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "late_arrivals.parquet"
    pl.DataFrame(
        {
            "student_id": ["L1"],
            " date": [dt.datetime(2024, 9, 10, 8, 41)],
            "time ": [dt.datetime(2024, 9, 10, 8, 41)],
        }
    ).write_parquet(path)
    assert read(path, "late_arrivals").select("date", "time").row(0) == ("2024-09-10", "08:41")


HEADER = "student_id;date;period;code;minutes;remark"  # a column not in the contract


def _absences_lines(rows: int) -> list[str]:
    """Absence lines of every kind a quote-free export holds (under :data:`HEADER`): padded
    ids, short rows, blank lines, remarks, a cp1252 letter."""
    lines = []
    for i in range(rows):
        line = f"P{i % 97};2024-09-{2 + i % 20:02d};{('AM', 'PM', ' 3 ')[i % 3]};Z;{i % 7}"
        if i % 41 == 0:
            line = f"  P{i % 97} ;2024-09-02"  # a short row: the other fields are missing
        elif i % 53 == 0:
            line = ""
        elif i % 59 == 0:
            line += ";"
        elif i % 61 == 0:
            line = line.replace("Z", "Zé")
        lines.append(line)
    return lines


@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-8-sig"])
def test_a_large_csv_read_in_blocks_gives_the_rows_a_whole_read_gives(
    tmp_path: Path, end: str, encoding: str
) -> None:
    text = end.join([HEADER, *_absences_lines(3000)]) + end
    path = tmp_path / "absences.csv"
    path.write_bytes(text.encode(encoding))
    whole = read_table("absences", path)
    blocks = list(read_blocks("absences", path, block_bytes=9_000))
    assert len(blocks) > 5
    frame = pl.concat([b.table.frame for b in blocks])
    assert frame.equals(whole.table.frame)
    assert frame[ROW].is_sorted() and frame.height > 2800
    assert blocks[0].notices == whole.notices  # the notices come with the first block only
    assert whole.notices and not any(b.notices for b in blocks[1:])
    assert all(b.table.rejected.is_empty() for b in blocks)


@pytest.mark.parametrize(
    "late_line",
    ['P1;2024-09-03;AM;"Z";1', "P1;2024-09-03;AM;Z;1;x;y"],
    ids=["quote", "too-many-fields"],
)
def test_a_csv_that_cannot_be_read_in_blocks_says_so_after_its_first_blocks(
    tmp_path: Path, late_line: str
) -> None:
    lines = [HEADER, *_absences_lines(3000)]
    lines[2500] = late_line  # in a later block: the blocks before it are read already
    path = tmp_path / "absences.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = []
    with pytest.raises(NotInBlocks):
        for block in read_blocks("absences", path, block_bytes=9_000):
            read.append(block)
    assert read  # the caller drops them and reads the file whole


def test_a_file_small_enough_or_not_csv_comes_whole_as_one_block(tmp_path: Path) -> None:
    path = tmp_path / "absences.csv"
    path.write_text(
        HEADER + "\n" + "\n".join(_absences_lines(50)) + "\n",
        encoding="utf-8",
    )
    (block,) = read_blocks("absences", path, block_bytes=1 << 20)
    assert block.table.frame.equals(read_table("absences", path).table.frame)
    parquet = tmp_path / "late_arrivals.parquet"
    pl.DataFrame({"student_id": ["P1", "P2"], "date": ["2024-09-02"] * 2}).write_parquet(parquet)
    (block,) = read_blocks("late_arrivals", parquet, block_bytes=10)
    assert block.table.frame.height == 2
