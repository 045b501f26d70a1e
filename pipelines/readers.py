"""Read one export folder: find each contract table's file and read it as text columns.

Formats: CSV (comma, semicolon or tab; UTF-8 with or without BOM, any bytes that are not
UTF-8 read as cp1252; line ends LF, CRLF or CR), Parquet and XLSX (one sheet). Everything is
read as text so that validation can quarantine a bad value with the value itself; typing
happens in :mod:`features.validate`.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features import contract
from features.canonical import RawTable
from features.validate import FAILURE_SCHEMA, ROW, empty_failures

SUFFIXES = (".csv", ".parquet", ".xlsx")


class ExportError(ValueError):
    """An export that cannot be read at all; the message is one line naming the file."""


@dataclass(frozen=True)
class ReadResult:
    """A raw table and what the reader noticed on the way."""

    table: RawTable
    notices: tuple[str, ...]


def find_tables(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Map each contract table to its file in ``folder``; notices for files that are not tables.

    Raises
    ------
    ExportError
        When the folder is missing, a required table has no file, or a table has two files.
    """
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such export folder")
    found: dict[str, Path] = {}
    notices: list[str] = []
    for path in sorted(folder.iterdir()):
        name, suffix = path.stem, path.suffix.lower()
        if path.name.startswith("."):
            continue
        is_table = name in contract.MODELS and suffix in SUFFIXES
        if not path.is_file():
            if is_table:  # a folder or a broken link by a table's name: say so, it is not read
                notices.append(
                    f"{path.name}: not a readable file (a folder or a broken link), ignored"
                )
            continue
        if not is_table:
            notices.append(f"{path.name}: not a table of the input contract, ignored")
            continue
        if name in found:
            raise ExportError(
                f"{folder}: two files for table {name}: {found[name].name} and {path.name}"
            )
        found[name] = path
    for name in contract.REQUIRED_TABLES:
        if name not in found:
            raise ExportError(
                f"{folder}: required table {name!r} is missing (expected {name}.csv, .parquet or .xlsx)"
            )
    return found, notices


def _as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: bytes that are not UTF-8 are read as cp1252."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("cp1252"), error.end


codecs.register_error("schoolpoort-cp1252", _as_cp1252)


def _utf8_or_cp1252(data: bytes) -> bytes:
    """``data`` as UTF-8: what is UTF-8 already is kept, each other byte read as cp1252.

    An export written in cp1252 and a UTF-8 file with a few stray cp1252 bytes (one pasted
    name) both read right; a byte cp1252 does not define either makes the file unreadable.
    """
    if data.isascii():  # valid UTF-8, and checked without decoding a copy
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="schoolpoort-cp1252").encode("utf-8")
    return data


def _line_ends(data: bytes) -> bytes:
    """Old Mac line ends (CR alone) as LF; LF and CRLF as they are."""
    if b"\r" in data and b"\n" not in data:
        return data.replace(b"\r", b"\n")
    return data


def _header(data: bytes) -> bytes:
    """The header row: up to the first line break outside quotes (a column name may hold one)."""
    start, quotes = 0, 0
    end = data.find(b"\n")
    while end >= 0:
        quotes += data.count(b'"', start, end)
        if quotes % 2 == 0:
            return data[:end]  # not split(): that would copy the whole rest
        start, end = end, data.find(b"\n", end + 1)
    return data


def _one_line(names: list[str]) -> str:
    """Column names for a one-line message: line breaks inside a name shown as ``\\n``, a
    blank name as ``(blank)``."""
    return ", ".join(
        n.replace("\r", "\\r").replace("\n", "\\n") if n.strip() else "(blank)" for n in names
    )


def _separator(header: bytes, data: bytes, path: Path) -> str:
    """The separator the header row uses most (``;`` when it has none)."""
    counts = {sep: header.count(sep.encode()) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda s: counts[s])
    if counts[best] == 0 and b"\x00" in data[:1024]:
        raise ExportError(f"{path}: not a text table (binary content)")
    return best


def _read_csv(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of a CSV, and its lines with more fields than the header as failures."""
    data = _line_ends(_utf8_or_cp1252(path.read_bytes()))
    if not data or data.isspace():
        raise ExportError(f"{path}: empty file (expected a header row)")
    header = _header(data)
    separator = _separator(header, data, path)
    names = next(csv.reader(io.StringIO(header.decode("utf-8-sig")), delimiter=separator), [])
    _check_names(names, path)
    try:
        frame = pl.read_csv(
            data,
            separator=separator,
            infer_schema=False,
            row_index_name=ROW,
            row_index_offset=2,  # line 1 is the header
        )
    except pl.exceptions.PolarsError:  # most often a line with too many fields
        return _read_without_long_lines(data, separator, len(names), path)
    return (_line_numbers(frame) if b'"' in data else frame), empty_failures()


def _check_names(names: list[str], path: Path) -> None:
    """Stop on a column name given twice (blanks around a name do not count), or on one named
    as the column that holds each row's line number."""
    seen: set[str] = set()
    for name in (n.strip().lstrip("\ufeff") for n in names):
        if name == ROW:
            raise ExportError(
                f"{path}: a column is named {ROW!r}, a name schoolpoort keeps for itself"
            )
        if name in seen:
            raise ExportError(f"{path}: column {_one_line([name])!r} appears twice in the header")
        seen.add(name)


_MALFORMED = "malformed CSV: check its quotes and separators"


def _read_without_long_lines(
    data: bytes, separator: str, fields: int, path: Path
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A CSV that polars cannot read, read again without its rows that have more fields than
    the header: each becomes a failure, so that it goes to quarantine and the rest of the file
    is still read (polars could only cut such a row short, silently).

    Fields beyond the header's that are all empty (a separator at the end of each line, say)
    lose nothing: such rows are cut to the header's width and read. Each failure holds its
    row's text. A file most of whose rows are too long, or with a quote that is never closed,
    stops, naming its first such line; a file polars still cannot read stops too.
    """
    data = data.removeprefix(b"\xef\xbb\xbf")  # or a quoted first column name reads wrong
    lines = data.split(b"\n")
    rows, long = _long_rows(lines, separator, fields, path, quoted=b'"' in data)
    if 2 * len(long) > rows:
        first, _, why = long[0]
        raise ExportError(
            f"{path}: {len(long):,} of {rows:,} rows have more fields than the header (first: "
            f"line {first}, {why}): check the header and the separator"
        )
    kept: list[bytes] = []
    previous = 0
    for start, end, _ in long:
        kept.extend(lines[previous : start - 1])
        previous = end
    kept.extend(lines[previous:])
    rest = b"\n".join(kept)
    try:
        frame = pl.read_csv(
            rest,
            separator=separator,
            infer_schema=False,
            row_index_name=ROW,
            row_index_offset=2,
            truncate_ragged_lines=True,  # only empty fields are left beyond the header's
        )
    except pl.exceptions.PolarsError as exc:  # most often a stray quote
        raise ExportError(f"{path}: not a readable table ({_MALFORMED})") from exc
    frame = _line_numbers(frame) if b'"' in rest else frame
    failures = pl.DataFrame(
        [(start, "(whole line)", _text(lines[start - 1 : end]), why) for start, end, why in long],
        schema=FAILURE_SCHEMA,
        orient="row",
    )
    return frame.with_columns(_before_removal(frame[ROW], long)), failures


def _text(lines: list[bytes]) -> str:
    return b"\n".join(lines).decode().rstrip("\r")


def _long_rows(
    lines: list[bytes], separator: str, fields: int, path: Path, *, quoted: bool
) -> tuple[int, list[tuple[int, int, str]]]:
    """How many rows have a value, and those with a value beyond the header's ``fields``: first
    and last line, and how many fields.

    Without quotes in the file (not ``quoted``), a row is a line and its separators tell its
    fields; otherwise the rows are read with Python's csv module (slower), which knows a quoted
    separator or line break.
    """

    def why(count: int) -> str:
        return f"{count} fields where the header has {fields}"

    if not quoted:
        sep = separator.encode()
        filled = sum(1 for line in lines[1:] if line.strip(b" \t\r" + sep))
        return filled, [
            (number, number, why(line.count(sep) + 1))
            for number, line in enumerate(lines[1:], start=2)
            if line.count(sep) >= fields and line.split(sep, fields)[fields].strip(b" \t\r" + sep)
        ]
    text = (line.decode() + "\n" for line in lines)
    reader = csv.reader(text, delimiter=separator, strict=True)
    long = []
    rows = 0
    start = 1  # the line the row being read starts on
    try:
        next(reader)
        start = reader.line_num + 1
        for row in reader:
            rows += any(row)
            if len(row) > fields and any(value.strip() for value in row[fields:]):
                long.append((start, reader.line_num, why(len(row))))
            start = reader.line_num + 1
    except csv.Error as exc:
        reason = str(exc)
        if "new-line character" in reason:
            reason = "a line break inside a field that is not quoted"
        raise ExportError(f"{path}: not a readable table (line {start}: {reason})") from exc
    return rows, long


def _before_removal(rows: pl.Series, removed: list[tuple[int, int, str]]) -> pl.Series:
    """Line numbers in a file with the ``removed`` lines (first, last) taken out, as they were
    before: each row moves down by the lines removed above it."""
    sizes = pl.Series([end - start + 1 for start, end, _ in removed], dtype=pl.Int64)
    above = sizes.cum_sum() - sizes  # lines removed before each block
    # where each block was in the shorter file: the line that came after it moved up to there
    at = pl.Series([start for start, _, _ in removed], dtype=pl.Int64) - above
    blocks_above = at.search_sorted(rows, side="right")
    shift = pl.concat([pl.Series([0], dtype=pl.Int64), sizes.cum_sum()]).gather(blocks_above)
    return (rows + shift).alias(ROW)


def _line_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """Row numbers as the file's line numbers when quoted fields hold line breaks.

    Each break inside a field moves every later row one line down; a break inside a quoted
    column name moves every row down.
    """
    texts = [c for c in frame.columns if c != ROW]
    in_header = sum(name.count("\n") for name in texts)
    breaks = pl.sum_horizontal(
        [pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in texts]
    ).cast(pl.Int64)
    shift = breaks.cum_sum() - breaks + in_header
    return frame.with_columns((pl.col(ROW).cast(pl.Int64) + shift).alias(ROW))


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    def text(name: str, dtype: pl.DataType) -> pl.Expr:
        col = pl.col(name)
        if dtype == pl.Date:
            return col.dt.strftime("%Y-%m-%d")
        if isinstance(dtype, pl.Datetime):
            return col.dt.date().dt.strftime("%Y-%m-%d")
        if dtype == pl.Boolean:
            return pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false"))
        return col.cast(pl.String)

    return frame.select(
        [pl.col(n) if n == ROW else text(n, d).alias(n) for n, d in frame.schema.items()]
    )


def _read_parquet(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = pl.read_parquet(path)
    _check_names(frame.columns, path)
    numbered = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    return _as_text(numbered), empty_failures()


def _read_xlsx(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    # Every cell as text: a column guessed numeric would turn a later id like "A12" into null.
    # Every sheet, so that rows on a second sheet are not silently left out.
    sheets = pl.read_excel(
        path,
        engine="calamine",
        sheet_id=0,
        infer_schema_length=0,
        drop_empty_rows=False,  # kept until the rows are numbered
        raise_if_empty=False,
    )
    used = [name for name, sheet in sheets.items() if sheet.width]
    if len(used) > 1:
        raise ExportError(
            f"{path}: {len(used)} sheets hold data ({_one_line(used)}); a table file has one sheet"
        )
    if not used:
        raise ExportError(f"{path}: empty workbook (expected a header row)")
    frame = sheets[used[0]]
    _check_names(frame.columns, path)
    # Date and time cells come as "2024-09-02 00:00:00" and "08:30:00" (or on Excel's day zero,
    # "1899-12-31 08:30:00"): keep what the contract reads.
    frame = frame.with_columns(
        pl.col(pl.String)
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(\.0+)?$", "$1")
        .str.replace(r"^(1899-12-3[01] |1900-01-0[01] )?(\d{2}:\d{2}):00(\.0+)?$", "$2")
    )
    # Excel row numbers: the header is the first row with a value (calamine skips blank rows
    # above it); blank rows below it are dropped once every row has its number.
    numbered = frame.with_row_index(ROW, offset=_header_row(path, used[0]) + 1)
    filled = numbered.filter(pl.any_horizontal(pl.col(frame.columns).is_not_null()))
    return _as_text(filled.with_columns(pl.col(ROW).cast(pl.Int64))), empty_failures()


def _header_row(path: Path, sheet: str) -> int:
    """The Excel row number of the first row of ``sheet`` with a value in it."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book[sheet].iter_rows(min_row=1, values_only=True)
        for number, row in enumerate(rows, start=1):
            if any(value not in (None, "") for value in row):
                return number
    finally:
        book.close()
    return 1


def read_table(name: str, path: Path) -> ReadResult:
    """Read one table file as text columns of the contract, plus the source row number.

    Raises
    ------
    ExportError
        When the file is not a readable table or lacks a required column.
    """
    reader = {".csv": _read_csv, ".parquet": _read_parquet, ".xlsx": _read_xlsx}[
        path.suffix.lower()
    ]
    try:
        frame, too_long = reader(path)  # each reader checks the column names it finds
    except ExportError:
        raise
    except Exception as exc:  # polars, fastexcel and pyarrow raise many types for a bad file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{path}: not a readable table ({reason})") from exc
    frame = frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.columns})

    declared = contract.columns(name)
    missing = [c for c in contract.required_columns(name) if c not in frame.columns]
    if missing:
        found = _one_line([c for c in frame.columns if c != ROW])
        raise ExportError(
            f"{path}: missing required column {', '.join(repr(m) for m in missing)} (found: {found})"
        )
    notices = []
    extra = [c for c in frame.columns if c not in declared and c != ROW]
    if extra:
        notices.append(f"{path.name}: ignoring columns not in the contract: {_one_line(extra)}")
    absent = [c for c in declared if c not in frame.columns]
    frame = frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in absent])
    frame = frame.select(ROW, *declared).with_columns(pl.col(ROW).cast(pl.Int64))
    if too_long.height:
        first = too_long.row(0, named=True)
        notices.append(
            f"{path.name}: {too_long.height:,} row(s) with more fields than the header go to "
            f"quarantine (first: line {first[ROW]}, {first['reason']})"
        )
        if extra:  # the text of such a row would hold those columns too: a name, a note
            too_long = too_long.with_columns(
                value=pl.lit(None, dtype=pl.String),
                reason=pl.col("reason") + "; not copied: the file has other columns",
            )
    table = RawTable(name=name, source=path.name, frame=frame, rejected=too_long)
    return ReadResult(table, tuple(notices))
