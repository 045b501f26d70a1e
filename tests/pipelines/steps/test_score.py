from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib.image import imread

from features.catalog import BY_NAME
from models.ranking import list_size
from models.reasons import Reason, shown
from pipelines.render.reports import TEXT, times
from pipelines.settings import IngestSettings, ScoreSettings
from pipelines.steps.features import FeatureStore
from pipelines.steps.ingest import run_ingest
from pipelines.steps.score import (
    SCORED_COLUMNS,
    Champion,
    backfill_warning,
    load_champion,
    previous_list,
    score_week,
)
from pipelines.steps.train import TrainReport
from pipelines.workspace import KEY_ENV, Workspace
from tests.conftest import BOARD_KEY, cut_export, score_dates
from tests.tools import pdf_info, required

AS_OF = dt.date(2025, 3, 10)  # a school week (3 March is the spring holiday)
SETTINGS = ScoreSettings()


def quiet(_: str) -> None:
    return None


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def scored(trained_board: tuple[Workspace, TrainReport]) -> tuple[Workspace, Path]:
    ws, _ = trained_board
    [path] = score_dates(ws, [AS_OF], SETTINGS)
    return ws, path


def test_every_enrolled_pupil_is_scored_and_each_school_lists_its_top(
    scored: tuple[Workspace, Path],
) -> None:
    ws, path = scored
    scores = pl.read_csv(path, separator=";")
    enrolments = pl.read_parquet(ws.canonical_table("enrolments"))
    enrolled = enrolments.filter(
        (pl.col("start_date") <= AS_OF)
        & (pl.col("end_date").is_null() | (pl.col("end_date") >= AS_OF))
    )["student_key"].n_unique()
    assert scores.height == enrolled
    assert scores["student_id"].str.starts_with("L").all()  # the school's own ids, only here
    known = scores.filter(pl.col("known_case"))
    assert known["rank"].null_count() == known.height and not known["listed"].any()
    for school, rows in scores.filter(~pl.col("known_case")).group_by("school_id"):
        ranked = rows.sort("rank")
        assert ranked["rank"].to_list() == list(range(1, rows.height + 1))
        assert ranked["risk"].is_sorted(descending=True)
        size = list_size(rows.height, SETTINGS.list_percent, SETTINGS.list_min)
        # The first list takes at most max_new new names; the rest above the cut wait.
        assert ranked["listed"].sum() == min(size, SETTINGS.max_new)
        assert (ranked["section"] == "waiting").sum() == size - min(size, SETTINGS.max_new)
        assert ranked.filter(pl.col("listed"))["rank"].to_list() == list(
            range(1, min(size, SETTINGS.max_new) + 1)
        )
        care_list = pl.read_csv(path.parent / str(school[0]) / "risk_list.csv", separator=";")
        assert care_list.height == min(size, SETTINGS.max_new)
        assert (
            care_list["Leerling"].to_list()
            == ranked.filter(pl.col("listed"))["student_id"].to_list()
        )
    listed = scores.filter(pl.col("listed"))
    assert listed["signal_1"].null_count() == 0  # every listed pupil has at least one reason
    assert set(listed["change"]) == {"new"}  # no earlier week in this workspace


def test_scoring_twice_gives_identical_files(scored: tuple[Workspace, Path]) -> None:
    ws, path = scored
    before = digests(path.parent)
    score_dates(ws, [AS_OF], SETTINGS)
    assert digests(path.parent) == before


def test_no_event_from_the_as_of_date_on_changes_a_score(
    scored: tuple[Workspace, Path],
    small_board: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws_full, path = scored
    monkeypatch.setenv(KEY_ENV, BOARD_KEY.hex())
    ws_cut = Workspace(tmp_path / "ws")
    run_ingest(
        cut_export(small_board, tmp_path / "cut", AS_OF), ws_cut, IngestSettings(), say=quiet
    )
    # The same registered champion: the store and its artifacts (a model file is only ever
    # loaded from the workspace's own artifacts).
    shutil.copy(ws_full.root / "mlflow.db", ws_cut.root / "mlflow.db")
    shutil.copytree(ws_full.root / "mlartifacts", ws_cut.root / "mlartifacts")
    shutil.copytree(ws_full.root / "monitoring", ws_cut.root / "monitoring")  # drift reference
    [cut_path] = score_dates(ws_cut, [AS_OF], SETTINGS)
    assert cut_path.read_bytes() == path.read_bytes()
    drift = "drift.csv"  # the week's features are the same, so is their drift
    assert (cut_path.parent / drift).read_bytes() == (path.parent / drift).read_bytes()


def _chromium() -> str:
    return required("chromium", "chromium", "chromium-browser")


def headless(browser: str, profile: Path, *args: str) -> str:
    """Run headless chromium on ``args``; returns what it prints (the DOM, for --dump-dom)."""
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


class CareList(HTMLParser):
    """What a browser made of the page: the title, the list's headings and each of its rows'
    cells as text (the signals cell as one line per signal); the tables after the list (the
    followed pupils, those who left) are not the list."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.headings: list[str] = []
        self.rows: list[list[str]] = []
        self._text: list[str] | None = None
        self._row: list[str] = []
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if tag in ("h1", "th", "td"):
            self._text = []
        elif tag == "tr":
            self._row = []
        elif tag == "div" and self._text is not None:
            self._text.append("\n")  # a signal's bar and text

    def handle_endtag(self, tag: str) -> None:
        if self._done:
            return
        if tag == "table":
            self._done = True
        if tag == "tr" and self._row:
            self.rows.append(self._row)
        if tag not in ("h1", "th", "td") or self._text is None:
            return
        text, self._text = "".join(self._text), None
        if tag == "h1":
            self.title = " ".join(text.split())
        elif tag == "th":
            self.headings.append(" ".join(text.split()))
        else:
            self._row.append(text)

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def week_scored(
    ws: Workspace,
) -> tuple[Champion, pl.DataFrame, tuple[pl.DataFrame, dict[str, list[Reason]]]]:
    """The champion, the feature table of ``AS_OF``, and :func:`score_week` of it."""
    champion = load_champion(ws, "schoolpoort-risk")
    table = pl.read_parquet(FeatureStore(ws).path(AS_OF))
    return champion, table, score_week(ws, champion, table, AS_OF, SETTINGS)


def test_every_reason_on_the_lists_is_a_signal_the_pupil_shows_in_the_catalogs_direction(
    scored: tuple[Workspace, Path],
) -> None:
    _, _, (_, by_key) = week_scored(scored[0])
    reasons = [r for rs in by_key.values() for r in rs]
    assert reasons
    for reason in reasons:
        spec, value, typical = BY_NAME[reason.feature], reason.value, reason.typical
        assert reason.contribution > 0, reason
        assert shown(reason.feature, value) != 0, reason  # never a zero count or rate
        if spec.unit == "yes/no":
            assert spec.direction == 1 and value >= 0.5, reason
        elif spec.direction == 1:  # above nothing and above the school's median
            assert shown(reason.feature, value) > max(0.0, shown(reason.feature, typical)), reason
        elif spec.direction == -1:
            assert shown(reason.feature, value) < shown(reason.feature, typical), reason
        # context (no risk direction: the class, the school, the time of year) says so
        assert reason.context == (spec.direction == 0), reason
        assert reason.text.startswith("Context: ") == reason.context, reason
    for rs in by_key.values():  # the pupil's own signals before any context
        assert [r.context for r in rs] == sorted(r.context for r in rs)


def test_a_scored_week_holds_what_the_lists_read_and_no_feature(
    scored: tuple[Workspace, Path],
) -> None:
    # On Dask every shard's scored rows cross to the coordinator: no feature column with them.
    champion, table, (frame, _) = week_scored(scored[0])
    assert frame.columns == list(SCORED_COLUMNS)
    assert not set(frame.columns) & set(champion.features)
    assert frame["student_key"].to_list() == table["student_key"].to_list()


def listed_rows(path: Path, school: str) -> pl.DataFrame:
    """The school's listed pupils in ``scores.csv``, best first."""
    scores = pl.read_csv(path, separator=";", infer_schema=False)
    return scores.filter((pl.col("school_id") == school) & (pl.col("listed") == "true")).sort(
        pl.col("rank").cast(pl.Int32)
    )


def signals_of(row: dict[str, str | None]) -> list[str]:
    return [s for i in (1, 2, 3) if (s := row[f"signal_{i}"]) is not None]


def test_the_html_list_renders_in_headless_chromium(
    scored: tuple[Workspace, Path], tmp_path: Path
) -> None:
    browser = _chromium()
    _, path = scored
    page = next(path.parent.glob("*/risk_list.html"))
    school = page.parent.name  # the board's school ids are plain: their own folder names
    text = TEXT[SETTINGS.language]

    # What the care team reads: the browser's DOM against the board's scores table
    dom = CareList()
    dom.feed(headless(browser, tmp_path / "dom", "--dump-dom", page.as_uri()))
    assert dom.title == f"{text['title']} — {school}"
    assert dom.headings == [*text["columns"][:8], text["picture"], text["columns"][8]]
    expected = listed_rows(path, school)
    assert len(dom.rows) == expected.height > 0
    for cells, row in zip(dom.rows, expected.iter_rows(named=True), strict=True):
        rank, pupil, klass, risk, usual, change, weeks, profile, picture, signals = cells
        assert usual == times(float(row["times_usual"]))
        assert weeks.strip() == row["weeks_on_list"]
        assert picture.strip()  # the picture's title says it in words
        assert (rank.strip(), pupil, klass) == (
            row["rank"],
            row["student_id"],
            row["class_key"] or "",
        )
        assert risk.endswith("%")
        assert abs(float(risk.removesuffix("%")) - 100 * float(row["risk"])) <= 0.05 + 1e-9
        assert change == text["change"][row["change"]]
        assert profile == text["profile"][row["profile"]]
        assert [line.strip() for line in signals.splitlines() if line.strip()] == signals_of(row)
    assert any(signals_of(row) for row in expected.iter_rows(named=True))

    # and it is drawn: text, the header band and the bars, not a blank page
    shot = tmp_path / "list.png"
    headless(
        browser, tmp_path / "shot", "--window-size=1280,900", f"--screenshot={shot}", page.as_uri()
    )
    pixels = imread(shot)
    assert pixels.shape[0] == 900 and pixels.shape[1] == 1280
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]).round(2), axis=0)
    assert len(colours) > 50
    dark = (pixels[..., :3].mean(axis=-1) < 0.3).mean()
    assert 0.01 < dark < 0.5


def test_the_sheet_has_each_listed_pupils_school_year_week_by_week(
    scored: tuple[Workspace, Path],
) -> None:
    import openpyxl

    _, path = scored
    school = next(path.parent.glob("*/risk_list.xlsx")).parent.name
    book = openpyxl.load_workbook(path.parent / school / "risk_list.xlsx")
    year = book.worksheets[1]
    rows = list(year.iter_rows(values_only=True))
    header = next(r for r in rows if r[0] == "#")
    weeks = header[2:]
    assert weeks[0] == "02/09" and all(re.fullmatch(r"\d\d/\d\d", str(w)) for w in weeks)
    pupils = rows[rows.index(header) + 1 :]
    expected = listed_rows(path, school)
    assert [r[1] for r in pupils] == expected["student_id"].to_list()
    # the autumn holiday (28 October) has no school: blank, not 0; a school week is a count
    autumn = weeks.index("28/10") + 2
    assert all(r[autumn] is None for r in pupils)
    assert all(isinstance(r[2], int) for r in pupils)


def test_the_printed_list_holds_the_headings_pupils_and_reasons(
    scored: tuple[Workspace, Path], tmp_path: Path
) -> None:
    browser = _chromium()
    pdftotext = required("poppler-utils", "pdftotext")
    _, path = scored
    page = next(path.parent.glob("*/risk_list.html"))
    pdf = tmp_path / "list.pdf"
    headless(
        browser,
        tmp_path / "print",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        page.as_uri(),
    )
    printed = subprocess.run(
        [pdftotext, str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    words = " ".join(printed.split())  # a cell's text wraps onto several lines on paper
    text = TEXT[SETTINGS.language]
    for heading in text["columns"]:
        assert " ".join(heading.split()) in words
    expected = listed_rows(path, page.parent.name)
    for row in expected.iter_rows(named=True):
        assert row["student_id"] in words
        for signal in signals_of(row):
            assert signal in words, signal
    ids = [row["student_id"] for row in expected.iter_rows(named=True)]
    assert [words.index(i) for i in ids] == sorted(words.index(i) for i in ids)  # in rank order

    # on A4 landscape, with no column cut off at the page's edge
    info = pdf_info(pdf)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts \(A4\)", info)
    assert size is not None, info
    width, height = float(size[1]), float(size[2])
    assert width > height
    boxes = subprocess.run(
        [pdftotext, "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    right = [
        float(x) for x in re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"', boxes)
    ]
    assert right and max(right) <= width - 20  # inside the right margin (1 cm is 28 pt)


def test_scoring_before_the_training_cut_off_warns_that_it_is_a_backfill(
    scored: tuple[Workspace, Path],
) -> None:
    ws, _ = scored
    champion = load_champion(ws, SETTINGS.model_name)
    assert backfill_warning(champion, [AS_OF]) is None  # 10 March: after 1 March
    early = dt.date(2025, 2, 3)
    warning = backfill_warning(champion, [early, AS_OF])
    assert warning is not None
    assert "1 of the dates (2025-02-03..2025-02-03)" in warning and "cut-off 2025-03-01" in warning


def test_change_is_against_the_last_list_made_across_a_holiday(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    for day in ("2024-12-16", "2025-01-06"):
        (ws.outputs / day).mkdir(parents=True)
        (ws.outputs / day / "scores.csv").write_text("school_id;student_id\n")
    (ws.outputs / "notes").mkdir()  # not a date's folder
    (ws.outputs / "2025-01-13").mkdir()  # a folder without scores: no list was made
    assert previous_list(ws, dt.date(2025, 1, 20)) == dt.date(2025, 1, 6)
    assert previous_list(ws, dt.date(2025, 1, 6)) == dt.date(2024, 12, 16)  # over Christmas
    assert previous_list(ws, dt.date(2024, 12, 16)) is None


def test_an_earlier_list_is_checked_against_what_happened_once_its_window_closed(
    tmp_path: Path,
) -> None:
    from pipelines.steps.score import calibration_summary, calibration_table

    ws = Workspace(tmp_path)
    day = dt.date(2024, 11, 4)
    (ws.outputs / day.isoformat()).mkdir(parents=True)
    (ws.outputs / day.isoformat() / "scores.csv").write_text(
        "school_id;student_id;risk;known_case\n"
        "S1;A;0.5;false\nS1;B;0.1;false\nS1;C;0.3;false\nS1;D;0.9;true\n"
    )
    ws.secrets.mkdir()
    pl.DataFrame(
        {"student_id": ["A", "B", "C", "D"], "student_key": ["ka", "kb", "kc", "kd"]}
    ).write_parquet(ws.secrets / "identity_map.parquet")
    ws.canonical.mkdir()
    pl.DataFrame(
        {
            "student_key": ["ka", "kc", "kd"],
            "case_type": ["school_refusal", "school_refusal", "school_refusal"],
            "opened_on": [dt.date(2024, 12, 2), dt.date(2025, 3, 3), dt.date(2024, 10, 1)],
            "label_date": [dt.date(2024, 11, 20), dt.date(2025, 2, 1), dt.date(2024, 9, 15)],
        }
    ).write_parquet(ws.canonical_table("care_cases"))
    # 8 weeks after 4 November is 30 December: not closed on 30 December, closed on 6 January.
    assert calibration_table(ws, dt.date(2024, 12, 30), 8).is_empty()
    table = calibration_table(ws, dt.date(2025, 1, 6), 8)
    # A (0.5) had a case in the window; B (0.1) and C (0.3, a case after the window) did not;
    # D was a known case then and is left out. One pupil per bin: (0.1 + 0.3 + 0.5) / 3.
    assert table.rows() == [(day, 3, pytest.approx(0.3), pytest.approx(1 / 3), pytest.approx(0.3))]
    assert calibration_summary(table) == (
        "the list of 2024-11-04 (its window has closed): mean risk 30.00%, observed 33.33% of 3 "
        "pupils ranked, calibration error 0.3000"
    )
