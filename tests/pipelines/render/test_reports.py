from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import openpyxl
import polars as pl
from openpyxl.worksheet.worksheet import Worksheet

from features.catalog import CATALOG
from models.reasons import Reason, sentence
from pipelines.render.reports import TEXT, About, CareList, render_html, write_care_list
from tests.tools import pdf_info, required

LISTED = pl.DataFrame(
    {
        "rank": [1],
        "student_id": ["L1"],
        "student_key": ["k1"],
        "class_key": ["1A"],
        "risk": [0.123],
        "times_usual": [4.1],
        "change": ["new"],
        "weeks_on_list": [1],
        "profile": ["unclear"],
    }
)


def care(listed: pl.DataFrame, reasons: dict[str, list[Reason]] | None = None) -> CareList:
    return CareList(listed, reasons or {})


def test_times_the_usual_is_whole_from_ten_on() -> None:
    from pipelines.render.reports import times

    assert [times(v) for v in (None, 0.46, 4.55, 9.94, 10.0, 807.9)] == [
        "",
        "0.5×",
        "4.5×",  # 4.55 is 4.5499... as a binary float
        "9.9×",
        "10×",
        "808×",
    ]


def test_the_page_names_the_models_horizon_and_the_pupils_reasons() -> None:
    reasons = {"k1": [Reason("late_minutes_4w", 52.0, 0.0, 0.8, "Minuten te laat: 52")]}
    page = render_html(
        "S1", dt.date(2025, 3, 3), care(LISTED, reasons), "nl", About(horizon_weeks=6)
    )
    assert "binnen 6 weken" in page and "8 weken" not in page
    assert "Minuten te laat: 52" in page and "12.3%" in page
    english = render_html(
        "S1", dt.date(2025, 3, 3), care(LISTED, reasons), "en", About(horizon_weeks=12)
    )
    assert "within 12 weeks" in english


def test_the_page_names_the_model_and_the_weeks_failed_data_gates_above_the_list() -> None:
    about = About(
        model="schoolpoort-risk v3 (scorecard)",
        until=dt.date(2025, 3, 1),
        notices=("S1: no sick-bay visits in the last 3 school weeks <check>",),
    )
    page = render_html("S1", dt.date(2025, 3, 10), care(LISTED), "nl", about)
    notice = page.index("Let op, de gegevens van deze week:")
    assert notice < page.index("<table>")  # above the list
    assert "no sick-bay visits in the last 3 school weeks &lt;check&gt;" in page  # as text
    assert (
        "Gemaakt door schoolpoort-risk v3 (scorecard), getraind op gegevens tot 2025-03-01" in page
    )
    rule = render_html(
        "S1",
        dt.date(2025, 3, 10),
        care(LISTED.with_columns(risk=None, times_usual=None)),
        "en",
        About(rule="rule_mzl", model="schoolpoort-risk v1 (rule_mzl)", until=dt.date(2025, 3, 1)),
    )
    assert (
        "This list follows the rule rule_mzl" in rule
        and "Made by schoolpoort-risk v1 (rule_mzl)." in rule
    )
    assert "trained on data" not in rule and "Let op" not in rule


# --- The list as files: a sheet and a CSV that a care team opens in Excel or LibreOffice ---


def a_list(n: int) -> pl.DataFrame:
    """A school's list of ``n`` pupils with three reasons each, as the scores table has it;
    the reasons are the catalog's own sentences, long ones and short ones."""
    sentences = [sentence(f.name, 0.4, 0.05, "nl") for f in CATALOG if f.unit != "yes/no"]
    return pl.DataFrame(
        {
            "rank": list(range(1, n + 1)),
            "student_id": [f"L{1000 + i}" for i in range(n)],
            "student_key": [f"k{i}" for i in range(n)],
            "class_key": [f"{1 + i % 6}{'ABC'[i % 3]}" for i in range(n)],
            "risk": [round(0.62 - 0.02 * i, 6) for i in range(n)],
            "times_usual": [round(31.0 - i, 2) for i in range(n)],
            "change": [("new", "rising", "falling", "steady")[i % 4] for i in range(n)],
            "weeks_on_list": [1 + i % 5 for i in range(n)],
            "profile": [("refusal-like", "unclear", "illness-like")[i % 3] for i in range(n)],
            **{
                f"signal_{j}": [sentences[(3 * i + j) % len(sentences)] for i in range(n)]
                for j in (1, 2, 3)
            },
        },
        schema={
            "rank": pl.UInt32,
            **dict.fromkeys(["student_id", "student_key", "class_key"], pl.String),
            "risk": pl.Float64,
            "times_usual": pl.Float64,
            "change": pl.String,
            "weeks_on_list": pl.Int32,
            **dict.fromkeys(["profile", "signal_1", "signal_2", "signal_3"], pl.String),
        },
    )


ABOUT = About(horizon_weeks=8, model="schoolpoort-risk v3 (scorecard)", until=dt.date(2025, 3, 1))


def written(tmp_path: Path, listed: pl.DataFrame, school: str = "SCH01") -> Path:
    write_care_list(tmp_path, school, AS_OF, care(listed), "nl", ABOUT)
    return tmp_path


def column_widths(sheet: Worksheet) -> list[float]:
    """The width of columns A to M: the list's 11 and the care team's Status and date
    (openpyxl keeps a run of equal widths under its first letter)."""
    widths: dict[int, float] = {}
    for dim in sheet.column_dimensions.values():
        for i in range(dim.min or 1, (dim.max or dim.min or 1) + 1):
            widths[i] = dim.width
    return [widths[i] for i in range(1, 14)]


def header_row(sheet: Worksheet) -> int:
    """The row (1-based) of the table's column names, below the title block."""
    return next(r[0].row for r in sheet.iter_rows() if r[0].value == TEXT["nl"]["columns"][0])


AS_OF = dt.date(2025, 3, 10)


def test_the_sheet_opens_readable_with_a_title_and_kans_as_a_percentage(tmp_path: Path) -> None:
    listed = a_list(25)
    book = openpyxl.load_workbook(written(tmp_path, listed) / "risk_list.xlsx")
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    top = header_row(sheet)
    assert sheet["A1"].value == "Signalenlijst schoolweigering — SCH01"
    title = [sheet.cell(r, 1).value for r in range(1, top)]
    assert "Week van 2025-03-10" in title
    assert any(
        str(line).startswith(
            "Kans = geschatte kans dat binnen 8 weken een zorgdossier schoolweigering start. "
            "× gewoon: de kans tegenover de gemiddelde kans"
        )
        for line in title
    )
    assert any(
        str(line).startswith("Gemaakt door schoolpoort-risk v3 (scorecard)") for line in title
    )

    headers = [str(c.value) for c in sheet[top]]
    assert headers[3] == "Kans"
    widths = column_widths(sheet)  # in characters, as Excel counts them
    for name, width in zip(headers, widths, strict=True):
        # a name wraps at its spaces; its longest word and the filter's arrow fit
        assert max(map(len, name.split())) + 2 <= width <= 70, (name, width)
    assert widths[1] >= max(map(len, listed["student_id"])) and widths[3] >= len("62.0%")
    assert all(w >= 40 for w in widths[8:11])  # a reason reads in two or three lines, not ten
    assert all(sheet.cell(top + 1, i).alignment.wrap_text for i in (9, 10, 11))
    assert headers[11:] == ["Status", "Datum status"]
    heights = [sheet.row_dimensions[r].height for r in range(top + 1, top + 1 + listed.height)]
    assert all(h is not None and 12 <= h <= 4 * 13 for h in heights)  # set, not left to luck

    kans = [sheet.cell(r, 4) for r in range(top + 1, top + 1 + listed.height)]
    assert [c.value for c in kans] == listed["risk"].to_list()  # the fraction itself
    assert {c.number_format for c in kans} == {"0.0%"}

    assert sheet.freeze_panes == f"A{top + 1}"
    assert sheet.auto_filter.ref == f"A{top}:M{top + listed.height}"
    # The Status column offers the care team's words, and the file says which list it is.
    [status] = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert status.formula1 == '"besproken,in opvolging,geen zorg nu,dossier geopend,niet bereikt"'
    assert str(status.sqref) == f"L{top + 1}:L{top + listed.height}"
    props = {p.name: p.value for p in book.custom_doc_props.props}
    assert props == {"schoolpoort_school": "SCH01", "schoolpoort_list_date": "2025-03-10"}
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.paperSize == 9  # A4
    assert sheet.sheet_properties.pageSetUpPr is not None
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    # one page wide (1 is the file format's default, so the file leaves it out), any long
    assert (sheet.page_setup.fitToWidth or 1, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.print_title_rows == f"${top}:${top}"  # the header row on every page


def test_the_sheet_comes_out_the_same_bytes_every_time(tmp_path: Path) -> None:
    sheets = [written(tmp_path / str(i), a_list(5)) / "risk_list.xlsx" for i in range(3)]
    assert len({sheet.read_bytes() for sheet in sheets}) == 1


def test_an_empty_list_still_opens_and_says_so(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(written(tmp_path, a_list(0)) / "risk_list.xlsx").active
    assert isinstance(sheet, Worksheet)
    assert TEXT["nl"]["empty"] in [sheet.cell(r, 1).value for r in range(1, header_row(sheet))]
    assert all(w >= 4 for w in column_widths(sheet))


def test_hostile_text_stays_text_in_the_sheet(tmp_path: Path) -> None:
    hyperlink = '=HYPERLINK("http://evil.example/?x","klik")'
    listed = a_list(3).with_columns(
        student_id=pl.lit(hyperlink),
        class_key=pl.lit("+1A"),
        signal_1=pl.lit("=1+1"),
        signal_2=pl.lit("@SUM(A1:A9)"),
        signal_3=pl.lit("-3"),
    )
    sheet = openpyxl.load_workbook(
        written(tmp_path, listed, "=cmd|' /C calc'!A0") / "risk_list.xlsx"
    ).active
    assert isinstance(sheet, Worksheet)
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert sheet["A1"].value == "Signalenlijst schoolweigering — =cmd|' /C calc'!A0"
    top = header_row(sheet)
    rows = list(sheet.iter_rows(min_row=top + 1))
    assert [r[1].value for r in rows] == [hyperlink] * 3
    assert {(r[2].value, r[8].value, r[9].value, r[10].value) for r in rows} == {
        ("+1A", "=1+1", "@SUM(A1:A9)", "-3")
    }
    assert all(r[i].data_type == "s" for r in rows for i in (1, 2, 8, 9, 10))


def test_the_csv_has_decimal_commas_and_reads_back_the_same_numbers(tmp_path: Path) -> None:
    listed = a_list(5).with_columns(
        risk=pl.Series([0.189, 0.05, 0.1234, None, 0.0], dtype=pl.Float64)
    )
    path = written(tmp_path, listed) / "risk_list.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only after this mark
    assert "18,9" in raw.decode("utf-8-sig").splitlines()[1].split(";")
    back = pl.read_csv(path, separator=";", decimal_comma=True)
    assert back.columns[0] == "#"  # the mark is no part of the first column's name
    assert back["Kans (%)"].dtype == pl.Float64
    assert back["Kans (%)"].to_list() == [18.9, 5.0, 12.3, None, 0.0]
    assert back["Signalen 1"].to_list() == listed["signal_1"].to_list()  # accents too


def printed(path: Path, out: Path) -> tuple[int, str]:
    """``path`` printed by LibreOffice to PDF: its page count and its text on one line, in
    the order it is drawn (a wrapped cell's lines together)."""
    subprocess.run(
        [
            required("libreoffice-calc-nogui", "soffice", "libreoffice"),
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(out / 'profile').as_uri()}",  # never a shared profile
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = out / path.with_suffix(".pdf").name
    info = pdf_info(pdf)
    [pages] = [int(line.split()[-1]) for line in info.splitlines() if line.startswith("Pages:")]
    text = subprocess.run(
        [required("poppler-utils", "pdftotext"), "-raw", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return pages, " ".join(text.split())


def test_a_list_of_25_pupils_prints_on_one_page_in_libreoffice(tmp_path: Path) -> None:
    listed = a_list(25)
    pages, text = printed(written(tmp_path / "list", listed) / "risk_list.xlsx", tmp_path)
    assert pages == 1
    assert "Signalenlijst schoolweigering — SCH01" in text
    assert "Kans = geschatte kans dat binnen 8 weken" in text
    first, last = listed.row(0, named=True), listed.row(-1, named=True)
    for pupil in (first, last):
        assert pupil["student_id"] in text
        for j in (1, 2, 3):
            assert pupil[f"signal_{j}"] in text, (pupil["rank"], j)
    assert "62.0%" in text or "62,0%" in text  # the fraction, shown as a percentage
