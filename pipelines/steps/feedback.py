"""``schoolpoort feedback``: what a care team wrote in its list's ``Status`` column, read back.

The XLSX list (:mod:`pipelines.render.reports`) has a ``Status`` column with a drop-down of
:data:`models.carelist.STATUSES` and a date column, and says in its document properties
which school and which list it is (:data:`LIST_PROPERTIES`: they survive a save in Excel or
LibreOffice). Each pupil with a status is pseudonymised on the way in and kept in
``WS/lists/feedback.parquet``; reading the same file again replaces its marks, so nothing is
counted twice. The next weeks' lists place pupils by it (:mod:`models.carelist`); the
features never read it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from features.canonical.pseudonym import per_school_id
from models.carelist import FEEDBACK_SCHEMA, STATUSES
from pipelines.render.reports import FEEDBACK_HEADERS, LIST_PROPERTIES
from pipelines.steps.ingest import id_scope
from pipelines.workspace import Workspace, locked, staged, write_parquet

Say = Callable[[str], None]


class FeedbackError(ValueError):
    """A file that is not a care team's list, or a status that cannot be read; one line."""


@dataclass(frozen=True)
class FeedbackReport:
    """What one list's feedback said, for the console (no pupil id)."""

    school_id: str
    list_date: dt.date
    counts: dict[str, int]
    unknown_rows: list[int]
    """Rows whose pupil the workspace does not know (left out)."""

    def line(self, file: str) -> str:
        said = ", ".join(f"{n} {status}" for status, n in self.counts.items()) or "no status"
        return f"{file}: list of {self.list_date} for school {self.school_id}: {said}"


def run_feedback(path: Path, workspace: Workspace, say: Say = print) -> FeedbackReport:
    """Read one list's ``Status`` column into the workspace's feedback (see the module)."""
    with locked(workspace, "feedback", say):
        marks, report = read_list(path, workspace)
        held = (
            pl.read_parquet(workspace.feedback)
            if workspace.feedback.exists()
            else pl.DataFrame(schema=FEEDBACK_SCHEMA)
        )
        same_list = (pl.col("school_id") == report.school_id) & (
            pl.col("list_date") == report.list_date
        )
        kept = pl.concat([held.filter(~same_list), marks]).sort(
            "school_id", "list_date", "student_key"
        )
        with staged(workspace) as stage:
            write_parquet(kept, stage.path(workspace.feedback), mode=0o600)
        return report


def read_list(path: Path, workspace: Workspace) -> tuple[pl.DataFrame, FeedbackReport]:
    """The marks of one XLSX list, pseudonymised (:data:`~models.carelist.FEEDBACK_SCHEMA`)."""
    school, day, rows = _cells(path)
    statuses = {s.casefold(): s for s in STATUSES}
    found = []
    for number, pupil, status, when in rows:
        if status is None or str(status).strip() == "":
            continue
        said = statuses.get(str(status).strip().casefold())
        if said is None:
            raise FeedbackError(
                f"{path.name} row {number} column Status: not one of {', '.join(STATUSES)}"
            )
        found.append((number, str(pupil).strip(), said, _date(when, day, path, number)))
    frame = pl.DataFrame(
        found,
        schema={
            "row": pl.Int64,
            "student_id": pl.String,
            "status": pl.String,
            "status_date": pl.Date,
        },
        orient="row",
    ).with_columns(school_id=pl.lit(school), list_date=pl.lit(day))
    if id_scope(workspace, None) == "per-school":
        frame = frame.with_columns(per_school_id())
    identities = pl.read_parquet(workspace.secrets / "identity_map.parquet")
    keyed = frame.join(identities, on="student_id", how="left")
    unknown = keyed.filter(pl.col("student_key").is_null())["row"].to_list()
    marks = keyed.filter(pl.col("student_key").is_not_null()).select(
        pl.col(name).cast(dtype) for name, dtype in FEEDBACK_SCHEMA.items()
    )
    counts = dict(marks.group_by("status").len().sort("status").iter_rows())
    return marks, FeedbackReport(school, day, counts, unknown)


def _cells(path: Path) -> tuple[str, dt.date, list[tuple[int, Any, Any, Any]]]:
    """The list's school and date, and per pupil row: its row number, pupil, status, date."""
    import openpyxl

    if path.suffix.lower() != ".xlsx" or not path.is_file():
        raise FeedbackError(f"{path.name}: not an .xlsx file (give the list's risk_list.xlsx)")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a damaged or other file: its bytes are not shown
        raise FeedbackError(f"{path.name}: not a readable workbook ({type(exc).__name__})") from exc
    try:
        props = {p.name: p.value for p in book.custom_doc_props.props}
        school, day = props.get(LIST_PROPERTIES[0]), props.get(LIST_PROPERTIES[1])
        if not isinstance(school, str) or not isinstance(day, str):
            raise FeedbackError(
                f"{path.name}: not a schoolpoort list (its properties name no school and date)"
            )
        try:
            list_date = dt.date.fromisoformat(day)
        except ValueError as exc:
            raise FeedbackError(f"{path.name}: its list date is not a date") from exc
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    return school, list_date, _status_rows(rows, path)


def _status_rows(rows: list[tuple[Any, ...]], path: Path) -> list[tuple[int, Any, Any, Any]]:
    """The rows under the list's header: (row number, pupil, status, status date)."""
    for top, cells in enumerate(rows, start=1):
        names = [str(c).strip() if c is not None else "" for c in cells]
        for headers in FEEDBACK_HEADERS.values():
            if all(h in names for h in headers):
                pupil, status, when = (names.index(h) for h in headers)
                return [
                    (number, row[pupil], row[status], row[when])
                    for number, row in enumerate(rows[top:], start=top + 1)
                    if len(row) > max(pupil, status, when) and row[pupil] not in (None, "")
                ]
    raise FeedbackError(f"{path.name}: no header with the columns of a list and its Status")


def _date(value: Any, default: dt.date, path: Path, row: int) -> dt.date:
    """A status date as Excel or a person wrote it; blank: the list's date."""
    if value is None or value == "":
        return default
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for form in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(text, form).date()
        except ValueError:
            continue
    raise FeedbackError(f"{path.name} row {row}, the status date: not a date (DD/MM/YYYY)")
