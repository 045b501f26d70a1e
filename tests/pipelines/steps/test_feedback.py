"""The care team's feedback round trip: Status in the XLSX list, read back, placed next week."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines import flows
from pipelines.settings import Settings
from pipelines.steps.feedback import FeedbackError
from pipelines.steps.train import TrainReport
from pipelines.workspace import KEY_ENV, Workspace
from tests.conftest import BOARD_KEY, score_dates

WEEK1, WEEK2 = dt.date(2025, 3, 10), dt.date(2025, 3, 17)


def mark(xlsx: Path, statuses: dict[int, str], out: Path) -> Path:
    """The list with ``statuses`` (by row of the list, 0 the first pupil) in its Status column,
    saved as a care team would."""
    book = openpyxl.load_workbook(xlsx)
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows())
    top = next(i for i, row in enumerate(rows) if any(c.value == "Status" for c in row))
    column = next(c.column for c in rows[top] if c.value == "Status")
    for offset, status in statuses.items():
        sheet.cell(row=top + 2 + offset, column=column, value=status)
    book.save(out)
    return out


@pytest.fixture(scope="module")
def first_week(
    trained_board: tuple[Workspace, TrainReport], tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    """The trained board with the lists of its first week, made once for these tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, BOARD_KEY.hex())
        ws = Workspace(tmp_path_factory.mktemp("feedback") / "ws")
        shutil.copytree(trained_board[0].root, ws.root)
        score_dates(ws, [WEEK1])
    return ws


@pytest.fixture
def workspace(first_week: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A copy of :func:`first_week` of one's own."""
    monkeypatch.setenv(KEY_ENV, BOARD_KEY.hex())
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(first_week.root, ws.root)
    return ws


def scores_of(ws: Workspace, day: dt.date) -> Path:
    return ws.outputs / day.isoformat() / "scores.csv"


def test_a_pupil_in_follow_up_leaves_the_new_names_and_no_concern_now_rests(
    workspace: Workspace, tmp_path: Path
) -> None:
    first = scores_of(workspace, WEEK1)
    scores = pl.read_csv(first, separator=";", infer_schema=False)
    school = scores["school_id"][0]
    listed = scores.filter((pl.col("school_id") == school) & (pl.col("listed") == "true"))
    assert listed.height >= 3
    followed, resting, discussed = listed["student_id"].head(3).to_list()
    xlsx = first.parent / school / "risk_list.xlsx"
    filled = mark(
        xlsx, {0: "in opvolging", 1: " Geen zorg nu", 2: "besproken"}, tmp_path / "a.xlsx"
    )

    settings = Settings(workspace=workspace.root)
    [report] = flows.feedback_flow([filled], settings)
    assert (report.school_id, report.list_date) == (school, WEEK1)
    assert report.counts == {"besproken": 1, "geen zorg nu": 1, "in opvolging": 1}
    flows.feedback_flow([filled], settings)  # read twice: the marks replace, not add
    marks = pl.read_parquet(workspace.feedback)
    assert marks.height == 3 and "student_id" not in marks.columns  # pseudonymised

    [second] = score_dates(workspace, [WEEK2])
    week = pl.read_csv(second, separator=";", infer_schema=False).filter(
        pl.col("school_id") == school
    )
    by_id = {r["student_id"]: r for r in week.iter_rows(named=True)}
    assert (by_id[followed]["section"], by_id[followed]["listed"]) == ("followed", "false")
    assert by_id[followed]["status"] == "in opvolging"
    assert by_id[resting]["listed"] == "false" and by_id[resting]["status"] == "geen zorg nu"
    assert by_id[resting]["section"] in ("resting", None)  # resting while above the cut
    assert by_id[discussed]["status"] == "besproken"
    new = week.filter(pl.col("change") == "new")
    assert new.height <= Settings().score.max_new
    assert not {followed, resting} & set(new["student_id"])
    page = (second.parent / school / "risk_list.html").read_text("utf-8")
    assert followed in page.split("<h2>")[1]  # in the followed section, not the list


def test_a_status_the_list_does_not_offer_is_refused_in_one_line(
    workspace: Workspace, tmp_path: Path
) -> None:
    first = scores_of(workspace, WEEK1)
    school = pl.read_csv(first, separator=";", infer_schema=False)["school_id"][0]
    xlsx = first.parent / school / "risk_list.xlsx"
    settings = Settings(workspace=workspace.root)
    bad = mark(xlsx, {0: "misschien morgen"}, tmp_path / "b.xlsx")
    with pytest.raises(FeedbackError) as refused:
        flows.feedback_flow([bad], settings)
    message = str(refused.value)
    assert message.startswith("b.xlsx row ") and "column Status: not one of besproken" in message
    assert "misschien" not in message  # the cell's text is not echoed
    assert not workspace.feedback.exists()
    # A formula typed into the Status column is not run: only a saved value is read (none).
    formula = mark(xlsx, {0: "=cmd|' /C calc'!A0"}, tmp_path / "c.xlsx")
    [report] = flows.feedback_flow([formula], settings)
    assert report.counts == {}
