"""Fuzzing the readers and the whole ingest with damaged exports.

Whatever an export folder holds (random bytes, other encodings, separators and line ends,
stray and unclosed quotes, renamed columns, typed or broken Parquet and Excel files, links
in and out of the folder, odd file names), ingest either reconciles every table it read
(read = accepted + quarantined + duplicates) or stops with one line; it never shows a
traceback, never shows the content of a file it was not meant to read, never writes outside
the workspace, and leaves the workspace as it was when it stops.

Each example starts from a tiny valid export written here (the simulator is too slow for
hundreds of examples) and damages a few of its files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from features.canonical import contract
from features.canonical.codes import ProfileError
from features.canonical.tables import UnknownCodesError
from features.canonical.validate import ROW
from pipelines.settings import IngestSettings
from pipelines.sources.readers import ExportError, read_table
from pipelines.steps.ingest import run_ingest
from pipelines.workspace import KEY_ENV, Workspace
from tests.conftest import TINY, write_export

CANARY = "Qz9canary"
"""A value in one pupil's row: an error or a notice that shows it shows the file's content."""

SECRET = "5ec7e7" * 8
"""The content of a file outside the export folder that links in the export point at."""

BASE = {
    **TINY,
    "enrolments.csv": TINY["enrolments.csv"].replace(
        "L3;S1;1;2024-09-02;1A;", f"L3;S1;1;2024-09-02;{CANARY};"
    ),
}
TABLES = [name.removesuffix(".csv") for name in BASE]

# Pieces a damaged file may gain: quotes, separators, line breaks, a NUL, an encoding's mark,
# characters cp1252 has or lacks, a column name of the contract and the row-number column.
PIECES = [
    '"',
    '""',
    ";",
    ",",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\x00",
    "\x1a",
    "é",
    "€",
    "\u2028",
    "\ufeff",
    "ok",
    "2024-09-31",
    "AM",
    "_row",
    "student_id",
    " ",
    "",
]
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]

ONE_LINE_ERRORS = (ExportError, UnknownCodesError, ProfileError)


def deliberate(exc: BaseException) -> bool:
    """An error the project raises on purpose, in one line (what the CLI prints and exits 2
    on): its own error types, or a ValueError subclass of its own (a workspace error, say)."""
    if isinstance(exc, ONE_LINE_ERRORS):
        return True
    return isinstance(exc, ValueError) and type(exc).__module__.startswith(
        ("pipelines.", "features.")
    )


def _kind(exc: Exception) -> str:
    """What kind of stop, for hypothesis' statistics: the message without paths and numbers."""
    import re

    text = re.sub(r"\S*/\S*", "", str(exc))
    return type(exc).__name__ + ":" + re.sub(r"\d+", "N", text)[:60]


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert SECRET not in message


# --- damaging a table's text -----------------------------------------------------------------


def _insert(data: st.DataObject, text: str) -> str:
    at = data.draw(st.integers(0, len(text)))
    piece = data.draw(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)))
    return text[:at] + piece + text[at:]


def _delete(data: st.DataObject, text: str) -> str:
    at = data.draw(st.integers(0, len(text)))
    return text[:at] + text[at + data.draw(st.integers(1, 12)) :]


def _lines(data: st.DataObject, text: str) -> str:
    lines = text.split("\n")
    at = data.draw(st.integers(0, len(lines) - 1))
    how = data.draw(st.sampled_from(["drop", "repeat", "widen", "header-last"]))
    if how == "drop":  # the header too: a file without a header row
        del lines[at]
    elif how == "repeat":
        lines.insert(at, lines[at])
    elif how == "widen":  # a remark with a separator in it
        lines[at] += data.draw(st.sampled_from([";x", ";;", ";a;b;c", ";", ",x"]))
    else:
        lines.append(lines[0])
    return "\n".join(lines)


def _quote(data: st.DataObject, text: str) -> str:
    lines = text.split("\n")
    at = data.draw(st.integers(0, len(lines) - 1))
    fields = lines[at].split(";")
    which = data.draw(st.integers(0, len(fields) - 1))
    inner = data.draw(st.sampled_from(["", ";", "\n", '""', "\r\n", '"']))
    opening, closing = data.draw(st.sampled_from([('"', '"'), ('"', ""), ("", '"'), ('"', '"x')]))
    fields[which] = opening + fields[which] + inner + closing
    lines[at] = ";".join(fields)
    return "\n".join(lines)


def _rename(data: st.DataObject, text: str) -> str:
    header, _, rest = text.partition("\n")
    names = header.split(";")
    which = data.draw(st.integers(0, len(names) - 1))
    names[which] = data.draw(
        st.sampled_from(
            [
                names[which].upper(),
                f" {names[which]} ",
                names[which] + "x",
                "",
                ROW,
                names[0],
                CANARY,
            ]
        )
    )
    return ";".join(names) + "\n" + rest


VALUES = [
    *["", " ", "2024-09-31", "31/12/2024", "2024-9-3", "02/09/24", "2025-07-15", "2024-09-07"],
    *["L9", "L1", " L2 ", "am", "13", "0", "-3", "3.0", "1e3", "Z", "Q", "true", "ja", "2"],
    *["08:61", "8:40", "V", "sent_home", "other", "school_refusal", CANARY],
]


def _field(data: st.DataObject, text: str) -> str:
    """A value of one row replaced: a bad date, an unknown pupil, a duplicate of another row's
    value, a negative duration; these are quarantined or counted, not stopped on."""
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    at = data.draw(st.integers(1, len(lines) - 1))
    fields = lines[at].split(";")
    fields[data.draw(st.integers(0, len(fields) - 1))] = data.draw(st.sampled_from(VALUES))
    lines[at] = ";".join(fields)
    return "\n".join(lines)


# Row damage twice as likely: most of it reaches validation and the reconciliation.
TEXT_DAMAGE = [_insert, _delete, _lines, _quote, _rename, _field, _field]


def damaged_text(data: st.DataObject, text: str) -> str:
    for damage in data.draw(st.lists(st.sampled_from(TEXT_DAMAGE), max_size=3)):
        text = damage(data, text)
    return text


def _somewhere(data: st.DataObject, size: int) -> int:
    """A place in ``size`` bytes, drawn as a share of them: an Excel or Parquet file's size
    varies from run to run (a time stamp inside), and hypothesis needs the same draws."""
    return data.draw(st.integers(0, 1000)) * size // 1000


def damaged_bytes(data: st.DataObject, raw: bytes) -> bytes:
    how = data.draw(st.sampled_from(["keep"] * 6 + ["cut", "splice", "random"]))
    if how == "cut":
        return raw[: _somewhere(data, len(raw))]
    if how == "splice":
        at = _somewhere(data, len(raw))
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    if how == "random":
        return data.draw(st.binary(max_size=300))
    return raw


# --- writing one table file ------------------------------------------------------------------


def csv_bytes(data: st.DataObject, text: str) -> bytes:
    text = damaged_text(data, text)
    text = text.replace(";", data.draw(st.sampled_from([";", ",", "\t"])))
    text = text.replace("\n", data.draw(st.sampled_from(["\n", "\r\n", "\r"])))
    encoding = data.draw(st.sampled_from(ENCODINGS))
    return damaged_bytes(data, text.encode(encoding, errors="replace"))


def _rows(text: str) -> list[list[str]]:
    """The cells of a (damaged) CSV text, at least a header row."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    except csv.Error:  # Python's reader refuses some damage; split it the simple way
        rows = [line.split(";") for line in text.split("\n")]
    return rows or [[""]]


def _typed(data: st.DataObject, frame: pl.DataFrame) -> pl.DataFrame:
    """Some columns as the types a Parquet writer keeps (cells that do not parse become null)."""
    casts = {
        "date": pl.col("date").str.to_date("%Y-%m-%d", strict=False),
        "start_date": pl.col("start_date").str.to_date("%Y-%m-%d", strict=False),
        "opened_on": pl.col("opened_on").str.to_datetime("%Y-%m-%d", strict=False),
        "time": pl.col("time").str.to_time("%H:%M", strict=False),
        "grade": pl.col("grade").cast(pl.Int8, strict=False),
        "minutes": pl.col("minutes").cast(pl.Float64, strict=False),
        "minutes_late": pl.col("minutes_late").cast(pl.Int64, strict=False),
        "ses_low": pl.col("ses_low").replace_strict({"true": True, "false": False}, default=None),
        "student_id": pl.col("student_id").cast(pl.Categorical),
    }
    chosen = [c for c in frame.columns if c in casts and data.draw(st.booleans())]
    frame = frame.with_columns(casts[c] for c in chosen)
    if data.draw(st.booleans()):  # a column of lists, in or outside the contract
        frame = frame.with_columns(
            pl.lit([1, 2]).alias(data.draw(st.sampled_from([*frame.columns[-1:], "remarks"])))
        )
    return frame


def parquet_bytes(data: st.DataObject, text: str, folder: Path) -> bytes:
    rows = _rows(damaged_text(data, text) if data.draw(st.booleans()) else text)
    header, body = rows[0], [r for r in rows[1:] if r]
    names = [n if n else f"blank{i}" for i, n in enumerate(header)]
    names = [n if names.index(n) == i else f"{n}{i}" for i, n in enumerate(names)]
    width = len(names)
    cells = [(r + [""] * width)[:width] for r in body]
    frame = pl.DataFrame(cells, schema=dict.fromkeys(names, pl.String), orient="row")
    frame = _typed(data, frame)
    path = folder / ".scratch.parquet"
    frame.write_parquet(path)
    raw = path.read_bytes()
    path.unlink()
    return damaged_bytes(data, raw)


def xlsx_bytes(data: st.DataObject, text: str, folder: Path) -> bytes:
    from xlsxwriter import Workbook

    rows = _rows(damaged_text(data, text) if data.draw(st.booleans()) else text)
    path = folder / ".scratch.xlsx"
    with Workbook(str(path)) as book:
        sheet = book.add_worksheet()
        skip = data.draw(st.integers(0, 2))  # blank rows above the header
        for number, row in enumerate(rows):
            for column, value in enumerate(row):
                if value.isdigit() and data.draw(st.booleans()):
                    sheet.write_number(number + skip, column, int(value))
                else:
                    sheet.write_string(number + skip, column, value[:1000])
        if data.draw(st.integers(0, 5)) == 0:  # a second sheet with data
            book.add_worksheet("more").write_row(0, 0, rows[0])
    raw = path.read_bytes()
    path.unlink()
    return damaged_bytes(data, raw)


def table_file(data: st.DataObject, folder: Path, name: str, text: str | None = None) -> Path:
    """One table's file in ``folder``, damaged or not, as CSV, Parquet or XLSX, from ``text``
    (the table's text in the tiny export when not given)."""
    text = BASE[f"{name}.csv"] if text is None else text
    fmt = data.draw(st.sampled_from(["csv", "csv", "csv", "parquet", "xlsx"]))
    if fmt == "csv":
        raw = csv_bytes(data, text)
    elif fmt == "parquet":
        raw = parquet_bytes(data, text, folder)
    else:
        raw = xlsx_bytes(data, text, folder)
    path = folder / f"{name}.{fmt}"
    path.write_bytes(raw)
    return path


# --- links and odd names ---------------------------------------------------------------------

LINKS = ["outside", "environ", "inside", "folder", "broken", "loop", "out-through-inside"]


def make_link(data: st.DataObject, path: Path, outside: Path) -> str:
    """Turn the table file ``path`` into a link of a drawn kind; the kind."""
    kind = data.draw(st.sampled_from(LINKS))
    folder = path.parent
    if kind == "inside":  # the data kept under another name, the table's name a link to it
        path.rename(folder / f"{path.name}.data")
        path.symlink_to(f"{path.name}.data")
        return kind
    path.unlink()
    if kind == "outside":
        path.symlink_to(outside)
    elif kind == "environ":
        path.symlink_to("/proc/self/environ")
    elif kind == "folder":
        (folder / "sub").mkdir(exist_ok=True)
        path.symlink_to("sub")
    elif kind == "broken":
        path.symlink_to("nowhere.csv")
    elif kind == "loop":
        path.symlink_to(path.name)
    else:
        (folder / "sub").mkdir(exist_ok=True)
        hop = folder / "sub" / f"hop-{path.name}"
        hop.symlink_to(outside)
        path.symlink_to(Path("sub") / hop.name)
    return kind


ODD_NAMES = [
    "abs\nences.csv",
    "notes é €.txt",
    " absences.csv",
    "absences.csv.bak",
    ".absences.csv",
    "ABSENCES.CSV",
    "absences.CSV",  # a second file for absences
    "calendar.xlsx",  # as a folder
    "-rf.csv",
    "x" * 200 + ".csv",
]


def odd_names(data: st.DataObject, folder: Path) -> None:
    for name in data.draw(st.lists(st.sampled_from(ODD_NAMES), max_size=2, unique=True)):
        if name == "calendar.xlsx":
            (folder / name).mkdir()
        else:
            (folder / name).write_text(BASE["absences.csv"])


# --- snapshots -------------------------------------------------------------------------------


def snapshot(root: Path, leave_out: Path | None = None) -> dict[str, str]:
    """Every file, folder and link under ``root`` (links not followed), with its content hash
    or target and mode; ``leave_out`` is skipped, and so are names starting with a dot under
    a workspace (its lock file records the last run's process, whatever the run did)."""
    seen: dict[str, str] = {}
    for top, folders, files in os.walk(root):
        here = Path(top)
        if leave_out is not None and here == leave_out.parent:
            folders[:] = [f for f in folders if here / f != leave_out]
        for name in folders + files:
            path = here / name
            relative = str(path.relative_to(root))
            if leave_out is None and any(part.startswith(".") for part in Path(relative).parts):
                continue
            mode = oct(path.lstat().st_mode)
            if path.is_symlink():
                seen[relative] = f"link {os.readlink(path)} {mode}"
            elif path.is_file():
                seen[relative] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {mode}"
            else:
                seen[relative] = f"folder {mode}"
    return seen


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _key_from_the_workspace() -> Iterator[None]:
    """Each workspace's own key file, whatever the caller's environment holds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(KEY_ENV, raising=False)
        yield


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace that has ingested the tiny export once: each example starts from a copy."""
    root = tmp_path_factory.mktemp("template")
    export = write_export(root / "export", BASE)
    run_ingest(
        export, Workspace(root / "ws"), IngestSettings(accept_quarantine=True), say=lambda _: None
    )
    return root / "ws"


def fuzz(examples: int) -> settings:
    """Examples enough to meet each kind of damage many times; the module takes about 25 s.

    On CI (``CI`` set) the draws are the same every run, so whether a change lands never
    hangs on a new draw; run by hand, every run draws anew and keeps hunting.
    """
    return settings(
        max_examples=examples,
        derandomize=bool(os.environ.get("CI")),
        deadline=None,  # a first Parquet or Excel write is slow, later ones are not
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the readers -----------------------------------------------------------------------------


@fuzz(800)
@given(data=st.data(), name=st.sampled_from(TABLES))
def test_every_reader_reads_a_table_or_stops_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, name: str
) -> None:
    base = tmp_path_factory.mktemp("read")
    outside = base / "secret.key"
    outside.write_text(SECRET)
    folder = base / "export"
    folder.mkdir()
    # the first pupil's id is the canary: the readers do not check ids, so it is read as any id
    path = table_file(data, folder, name, BASE[f"{name}.csv"].replace("\nL1;", f"\n{CANARY};", 1))
    link = make_link(data, path, outside) if data.draw(st.integers(0, 5)) == 0 else None
    try:
        result = read_table(name, path)
    except Exception as exc:
        if not isinstance(exc, ExportError):
            raise
        event(f"read: stopped ({_kind(exc)})")
        assert_one_line(str(exc))
        assert CANARY not in str(exc)
        if link in ("outside", "environ", "out-through-inside"):
            assert "outside the export folder" in str(exc)
        return
    assert link not in ("outside", "environ", "out-through-inside"), "a link out was read"
    event("read: a table")
    frame, rejected = result.table.frame, result.table.rejected
    assert frame.columns == [ROW, *contract.columns(name)]
    assert frame.schema[ROW] == pl.Int64
    assert all(dtype == pl.String for column, dtype in frame.schema.items() if column != ROW)
    rows = [*frame[ROW].to_list(), *rejected[ROW].to_list()]
    assert len(set(rows)) == len(rows), "two rows share a line number"
    assert frame[ROW].is_sorted()
    for notice in result.notices:
        assert_one_line(notice)
        # names of a real header may show (every required column found); nothing else may
        assert CANARY not in notice or "ignoring columns not in the contract" in notice


# --- the whole ingest ------------------------------------------------------------------------


@fuzz(300)
@given(data=st.data())
def test_ingest_reconciles_or_stops_in_one_line_and_writes_only_its_workspace(
    tmp_path_factory: pytest.TempPathFactory, ingested: Path, data: st.DataObject
) -> None:
    base = tmp_path_factory.mktemp("ingest")
    outside = base / "outside" / "pseudonym.key"
    outside.parent.mkdir()
    outside.write_text(SECRET)
    export = write_export(base / "export", {})
    damaged = data.draw(st.lists(st.sampled_from(TABLES), min_size=1, max_size=2, unique=True))
    for name in TABLES:
        if name in damaged:
            table_file(data, export, name)
        elif data.draw(st.integers(0, 9)) or name in contract.REQUIRED_TABLES:
            write_export(export, {f"{name}.csv": BASE[f"{name}.csv"]})
    if data.draw(st.integers(0, 3)) == 0:
        table = data.draw(st.sampled_from(sorted(p for p in export.iterdir() if p.is_file())))
        make_link(data, table, outside)
    odd_names(data, export)
    ws = base / "ws"
    shutil.copytree(ingested, ws, symlinks=True)
    around, before = snapshot(base, leave_out=ws), snapshot(ws)

    said: list[str] = []
    try:
        report = run_ingest(
            export, Workspace(ws), IngestSettings(accept_quarantine=True), say=said.append
        )
    except Exception as exc:
        if not deliberate(exc):
            raise
        message = str(exc)
        event(f"ingest: stopped ({_kind(exc)})")
        assert_one_line(message)
        assert not message.startswith("reconciliation does not balance"), message
        if not isinstance(exc, UnknownCodesError):  # it lists the codes, by design
            assert CANARY not in message
        assert snapshot(ws) == before, "a stopped ingest changed the workspace"
    else:
        assert report.reconciliation, "nothing was read"
        quarantined = any(r.quarantined for r in report.reconciliation)
        event(f"ingest: reconciled, {'some' if quarantined else 'no'} rows quarantined")
        for rec in report.reconciliation:
            assert rec.balanced, rec.line()
        for line in [*report.notices, *report.quarantine_examples]:
            assert_one_line(line)
            assert CANARY not in line or "ignoring columns not in the contract" in line
        for quarantined in ws.joinpath("quarantine").glob("*.csv"):
            assert SECRET not in quarantined.read_text("utf-8", errors="replace")
    for line in said:
        assert_one_line(line)
    assert snapshot(base, leave_out=ws) == around, "ingest wrote outside its workspace"
