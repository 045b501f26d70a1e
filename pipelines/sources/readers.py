"""Read one export folder: find each contract table's file and read it as text columns.

Formats: CSV (comma, semicolon or tab; UTF-8 with or without BOM, any bytes that are not
UTF-8 read as cp1252, or UTF-16/UTF-32 with a byte order mark (UTF-16 without one when its
first line shows it); line ends LF, CRLF or CR), Parquet and XLSX (one sheet). Everything is
read as text so that validation can quarantine a bad value with the value itself; typing
happens in :mod:`features.canonical.validate`. Typed Parquet and Excel cells are written as the text
a CSV export of the same data would hold (see :func:`_as_text`).

Links: a table file that is a symbolic link is read only when the whole chain of links ends
at a regular file inside the export folder (a board may keep ``absences.csv`` pointing at
``absences-2024-09-30.csv``, or at a file in a subfolder). A link that leads out of the
folder, directly or through another link, is never opened: the table counts as absent, with
a notice, so that a link to a workspace's key or to ``/proc/self/environ`` is not read.

Messages never show a file's content: an error names the file, the line (CSV), row (Excel)
or column and says what was expected. Column names are named only once the header is
evidently one (every required column found), on one line and shortened.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from features.canonical import contract
from features.canonical.codes import ExportNames
from features.canonical.tables import RawTable
from features.canonical.validate import FAILURE_SCHEMA, ROW, empty_failures

SUFFIXES = (".csv", ".parquet", ".xlsx")

CONTRACT_NAMES = ExportNames()
"""An export that names its files and columns as the contract does."""


class ExportError(ValueError):
    """An export that cannot be read at all; the message is one line naming the file."""


@dataclass(frozen=True)
class ReadResult:
    """A raw table and what the reader noticed on the way."""

    table: RawTable
    notices: tuple[str, ...]


def _shown(text: object) -> str:
    """A path or name for a one-line message: line breaks and other control characters shown
    as escapes (a file name may hold them)."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: repr(m.group())[1:-1], str(text))


def _leaves(path: Path, folder: Path) -> bool:
    """True when ``path`` is a link whose chain of links ends outside ``folder``.

    ``os.path.realpath`` follows every link of the chain (a link loop ends where it loops,
    never raises), so a link to a link that leads out is caught too. The folder is compared
    as it really is, so an export folder reached through a link of its own is fine.
    """
    if not path.is_symlink():
        return False
    target = Path(os.path.realpath(path))
    return not target.is_relative_to(os.path.realpath(folder))


_OUTSIDE = "a link to a file outside the export folder, not read"


def find_tables(
    folder: Path, names: ExportNames = CONTRACT_NAMES
) -> tuple[dict[str, Path], list[str]]:
    """Map each contract table to its file in ``folder``; notices for files that are not tables.

    A table file that is a link out of ``folder`` is left out with a notice (see the module
    docstring); a link that stays inside is read like the file it points to.

    Parameters
    ----------
    folder
        The export folder.
    names
        The export's own file names for tables (a profile's ``[files]``), besides the
        contract's.

    Returns
    -------
    tuple of dict and list
        The file of each table found, by table name, and the notices for the console.

    Raises
    ------
    ExportError
        When the folder is missing, a required table has no file it may read, or a table
        has two files.
    """
    if not folder.is_dir():
        raise ExportError(f"{_shown(folder)}: no such export folder")
    found: dict[str, Path] = {}
    refused: dict[str, str] = {}
    notices: list[str] = []
    others: list[Path] = []
    for path in sorted(folder.iterdir()):
        name, suffix = names.table(path.stem), path.suffix.lower()
        if path.name.startswith("."):
            continue
        is_table = name in contract.MODELS and suffix in SUFFIXES
        if is_table and _leaves(path, folder):  # checked before anything opens it
            notices.append(f"{_shown(path.name)}: {_OUTSIDE}")
            refused[name] = path.name
            continue
        if not path.is_file():
            if is_table:  # a folder or a broken link by a table's name: say so, it is not read
                notices.append(
                    f"{_shown(path.name)}: not a readable file (a folder or a broken link), ignored"
                )
            continue
        if not is_table:
            others.append(path)
            continue
        if name in found:
            raise ExportError(
                f"{_shown(folder)}: two files for table {name}: {_shown(found[name].name)} and "
                f"{_shown(path.name)}"
            )
        found[name] = path
    read = {os.path.realpath(p) for p in found.values()}
    notices.extend(  # a file read through a table's link is not ignored
        f"{_shown(p.name)}: not a table of the input contract, ignored"
        for p in others
        if os.path.realpath(p) not in read
    )
    for name in contract.REQUIRED_TABLES:
        if name in found:
            continue
        why = (
            f"{_shown(refused[name])} is {_OUTSIDE}"
            if name in refused
            else f"expected {name}.csv, .parquet or .xlsx"
        )
        raise ExportError(f"{_shown(folder)}: required table {name!r} is missing ({why})")
    return found, notices


# What cp1252 makes of each byte; the five bytes it leaves undefined (0x81, 0x8D, 0x8F, 0x90,
# 0x9D) become the control characters of the same number, as Windows itself reads them, so
# that one such byte in a value reaches validation instead of making the file unreadable.
_CP1252 = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))


def _as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: bytes that are not UTF-8 are read as cp1252."""
    assert isinstance(error, UnicodeDecodeError)
    return "".join(_CP1252[b] for b in error.object[error.start : error.end]), error.end


codecs.register_error("schoolpoort-cp1252", _as_cp1252)


def _utf8_or_cp1252(data: bytes) -> bytes:
    """``data`` as UTF-8: what is UTF-8 already is kept, each other byte read as cp1252.

    An export written in cp1252 and a UTF-8 file with a few stray cp1252 bytes (one pasted
    name) both read right.
    """
    if data.isascii():  # valid UTF-8, and checked without decoding a copy
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="schoolpoort-cp1252").encode("utf-8")
    return data


_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def _wide_codec(data: bytes) -> tuple[str, str] | None:
    """The codec (and its name) of a UTF-16 or UTF-32 file, if ``data`` is one.

    A byte order mark says so; without one, a first line of UTF-16 holds a zero byte beside
    each ASCII letter (Excel's "Unicode text" is UTF-16 with a mark, but not every tool
    writes one).
    """
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return codec, name
    sample = data[: min(len(data), 512) // 2 * 2]
    if len(sample) >= 8:
        even, odd = sample[0::2], sample[1::2]
        if not even.count(0) and odd.count(0) >= 0.6 * len(odd):
            return "utf-16-le", "UTF-16"
        if not odd.count(0) and even.count(0) >= 0.6 * len(even):
            return "utf-16-be", "UTF-16"
    return None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SNIFF = 8192  # bytes looked at to tell a text file from a binary one, as git does


def _as_utf8(data: bytes, path: Path) -> bytes:
    """A CSV file's bytes as UTF-8 text; stop when they are not text.

    A file is not text when its first few kilobytes hold a zero byte or control characters
    in more than one character in twenty: an image, a zip (an .xlsx renamed .csv), random
    bytes. A few stray control characters in a text file are left to validation.
    """
    wide = _wide_codec(data)
    if wide is not None:
        codec, name = wide
        try:
            return data.decode(codec).encode("utf-8")
        except UnicodeDecodeError as exc:  # an odd byte at the end, half a character pair
            line = data[: exc.start].decode(codec, errors="ignore").count("\n") + 1
            raise ExportError(f"{_shown(path)} line {line}: not valid {name} text") from exc
    if b"\x00" in data[:_SNIFF]:
        raise ExportError(f"{_shown(path)}: not a text file")
    text = _utf8_or_cp1252(data)
    sample = text[:_SNIFF].decode("utf-8", errors="ignore")  # a cut character is left out
    if len(_CONTROL.findall(sample)) * 20 > len(sample):
        raise ExportError(f"{_shown(path)}: not a text file")
    return text


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


def _one_line(names: list[str], most: int = 8, width: int = 40) -> str:
    """Column names for a one-line message: control characters inside a name shown as escapes
    (``\\n``), a blank name as ``(blank)``, a long name cut, and at most ``most`` names."""

    def shown(name: str) -> str:
        if not name.strip():
            return "(blank)"
        name = _shown(name)
        return name if len(name) <= width else name[: width - 3] + "..."

    listed = ", ".join(shown(n) for n in names[:most])
    return listed + (f" and {len(names) - most} more" if len(names) > most else "")


def _separator(header: bytes) -> str:
    """The separator the header row uses most (``;`` when it has none)."""
    counts = {sep: header.count(sep.encode()) for sep in (";", ",", "\t")}
    return max(counts, key=lambda s: counts[s])


def _quote_trouble(data: bytes, separator: str) -> tuple[int, str] | None:
    """The first place where the quotes of a CSV go wrong, as its line number and what is
    wrong, or None: a quote that opens a value and is never closed (named on the line where
    it opened, which may be far above the end of the file where a reader notices), a quote
    inside a value that is not quoted, or text after the closing quote of a value.

    Only quotes are visited, one by one: this is for explaining a file that could not be
    read, not for every file.
    """
    sep = separator.encode()
    first = 3 if data.startswith(codecs.BOM_UTF8) else 0
    value_starts = (sep[0], ord("\n"))

    def line(at: int) -> int:
        return data.count(b"\n", 0, at) + 1

    at = data.find(b'"', first)
    while at >= 0:
        if at > first and data[at - 1] not in value_starts:
            return line(at), "a quote inside a value that is not quoted"
        close = data.find(b'"', at + 1)
        while close >= 0 and data[close + 1 : close + 2] == b'"':  # "" is a quote in a value
            close = data.find(b'"', close + 2)
        if close < 0:
            return line(at), "a quote opens a value that is never closed"
        if data[close + 1 : close + 2] not in (sep, b"\n", b"\r", b""):
            return line(close), "text after the closing quote of a value"
        at = data.find(b'"', close + 1)
    return None


def _read_csv(path: Path, table: str, names: ExportNames) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of a CSV, and its lines with more fields than the header as failures."""
    data = _line_ends(_as_utf8(path.read_bytes(), path))
    if not data or data.isspace():
        raise ExportError(f"{_shown(path)}: empty file (expected a header row)")
    header = _header(data)
    separator = _separator(header)
    if header.count(b'"') % 2:  # the header's quotes never balance: it ran to the end
        trouble = _quote_trouble(data, separator)
        if trouble is not None:
            raise ExportError(f"{_shown(path)} line {trouble[0]}: {trouble[1]}")
    header_names = _header_names(header, separator, table, path, names)
    try:
        frame = pl.read_csv(
            data,
            separator=separator,
            infer_schema=False,
            row_index_name=ROW,
            row_index_offset=2,  # line 1 is the header
        )
    except pl.exceptions.PolarsError:  # most often a line with too many fields
        return _read_without_long_lines(data, separator, len(header_names), path)
    return (_line_numbers(frame) if b'"' in data else frame), empty_failures()


def _header_names(
    header: bytes, separator: str, table: str, path: Path, names: ExportNames
) -> list[str]:
    """The column names of a CSV's header row, once they are evidently the header of
    ``table`` (:func:`_check_header`)."""
    try:
        header_names = next(
            csv.reader(io.StringIO(header.decode("utf-8-sig")), delimiter=separator), []
        )
    except csv.Error as exc:  # a lone carriage return inside a name, say
        raise ExportError(f"{_shown(path)} line 1: {_csv_reason(exc)}") from exc
    _check_header(header_names, table, path, "line 1", names)
    return header_names


def _check_header(
    columns: list[str], table: str, path: Path, where: str, names: ExportNames
) -> None:
    """Stop unless ``columns`` are evidently the header of ``table``: every required column is
    there, none is given twice (blanks around a name do not count) and none is named as the
    column that holds each row's line number. Each is read by its contract name (``names``).

    Until every required column is found, the names may well be a pupil's row (a file
    without a header row): then only the contract's own names are named. ``where`` places
    the header in the file (``line 1``, ``row 3``; empty for Parquet's column names).
    """
    at = f"{_shown(path)} {where}" if where else _shown(path)
    clean = [names.column(table, n) for n in columns]
    required = contract.required_columns(table)
    missing = [c for c in required if c not in clean]
    if len(missing) == len(required):  # not a header at all: perhaps the first pupil's row
        expected = ", ".join(required)
        if where:
            raise ExportError(f"{at}: no header with the required columns {expected}")
        raise ExportError(f"{at}: none of the required columns {expected}")
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        place = f" (not in the header on {where})" if where else ""
        plural = "s" if len(missing) > 1 else ""
        raise ExportError(f"{_shown(path)}: missing required column{plural} {listed}{place}")
    seen: set[str] = set()
    for name in clean:
        if name == ROW:
            raise ExportError(
                f"{at}: a column is named {ROW!r}, a name schoolpoort keeps for itself"
            )
        if name in seen:
            raise ExportError(f"{at}: column {_one_line([name])!r} appears twice in the header")
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
    row's text. A file most of whose rows are too long stops, naming its first such line; one
    with a quote that is never closed names the line where the quote opened; a file polars
    still cannot read stops too, naming its first misplaced quote when it has one.
    """
    data = data.removeprefix(b"\xef\xbb\xbf")  # or a quoted first column name reads wrong
    lines = data.split(b"\n")
    rows, long = _long_rows(lines, separator, fields, path, quoted=b'"' in data)
    if 2 * len(long) > rows:
        first, _, why = long[0]
        raise ExportError(
            f"{_shown(path)}: {len(long):,} of {rows:,} rows have more fields than the header (first: "
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
        trouble = _quote_trouble(rest, separator)
        if trouble is None:
            raise ExportError(f"{_shown(path)}: not a readable table ({_MALFORMED})") from exc
        line = (
            _before_removal(pl.Series([trouble[0]], dtype=pl.Int64), long)[0]
            if long
            else trouble[0]
        )
        raise ExportError(f"{_shown(path)} line {line}: {trouble[1]} ({_MALFORMED})") from exc
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
        # Python's csv module notices an unclosed quote at the end of the file and names the
        # row it was reading: the line where the quote opened says more.
        trouble = _quote_trouble(b"\n".join(lines), separator)
        if trouble is not None:
            raise ExportError(f"{_shown(path)} line {trouble[0]}: {trouble[1]}") from exc
        raise ExportError(f"{_shown(path)} line {start}: {_csv_reason(exc)}") from exc
    return rows, long


def _csv_reason(exc: csv.Error) -> str:
    """What Python's csv module found wrong, in its own words (never the field it read)."""
    reason = str(exc)
    if "new-line character" in reason:
        return "a line break inside a field that is not quoted"
    return reason


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


_NESTED = (pl.List, pl.Array, pl.Struct, pl.Object)


def _as_text(frame: pl.DataFrame, table: str, path: Path, names: ExportNames) -> pl.DataFrame:
    """The contract's columns of a typed frame (Parquet) as the text a CSV export of the same
    data holds, so that typed and CSV exports ingest alike; other columns as they are.

    - a date, or a timestamp in a date column: ``YYYY-MM-DD`` (a timestamp's day: a case
      opened at 10:14 was opened that day);
    - a time of day, or a timestamp in the ``time`` column: ``HH:MM``, with its seconds
      when it has any (``08:40:30`` then fails ``HH:MM`` and is quarantined, as in a CSV);
    - a boolean: ``true``/``false``;
    - a float with a whole value: written as a whole number (``1001.0`` is the id ``1001``,
      as pandas writes an integer column that has a missing value); any other number as it
      prints.
    """
    declared = contract.columns(table)
    dates = {n for n, c in declared.items() if getattr(c.dtype, "type", None) == pl.Date}

    def text(name: str, column: str, dtype: pl.DataType) -> pl.Expr:
        """``name`` as it is in the file, ``column`` as the contract names it."""
        col = pl.col(name)
        if dtype == pl.String:
            return col
        if dtype == pl.Date or (isinstance(dtype, pl.Datetime) and column in dates):
            return col.dt.strftime("%Y-%m-%d")
        if isinstance(dtype, pl.Datetime) and column == "time":
            col, dtype = col.dt.time(), pl.Time()
        if dtype == pl.Time:
            whole_minute = (col.dt.second() == 0) & (col.dt.nanosecond() == 0)
            return (
                pl.when(whole_minute).then(col.dt.strftime("%H:%M")).otherwise(col.cast(pl.String))
            )
        if dtype == pl.Boolean:
            return pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false"))
        if dtype.is_float():
            whole = col.is_finite() & (col == col.round(0)) & (col.abs() < 2**53)
            as_int = col.cast(pl.Int64, strict=False).cast(pl.String)
            return pl.when(whole).then(as_int).otherwise(col.cast(pl.String))
        return col.cast(pl.String)

    texts = []
    for name, dtype in frame.schema.items():
        clean = names.column(table, name)
        if name == ROW or clean not in declared:
            texts.append(pl.col(name))
            continue
        if isinstance(dtype, _NESTED):
            raise ExportError(
                f"{_shown(path)}: column {_one_line([clean])!r} holds lists or records, "
                "not one value per row"
            )
        if dtype == pl.Binary:  # text stored without saying so; bytes that are not UTF-8 stop
            try:
                frame = frame.with_columns(frame[name].cast(pl.String))
            except pl.exceptions.PolarsError as exc:
                raise ExportError(
                    f"{_shown(path)}: column {_one_line([clean])!r} holds bytes that are not "
                    "UTF-8 text"
                ) from exc
            dtype = pl.String()
        texts.append(text(name, clean, dtype).alias(name))
    return frame.select(texts)


def _read_parquet(path: Path, table: str, names: ExportNames) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = pl.read_parquet(path)
    _check_header(frame.columns, table, path, "", names)
    numbered = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    return _as_text(numbered, table, path, names), empty_failures()


def _read_xlsx(path: Path, table: str, names: ExportNames) -> tuple[pl.DataFrame, pl.DataFrame]:
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
    if len(used) > 1:  # named by position: a sheet's name is the file's content too
        numbers = [str(n) for n, sheet in enumerate(sheets.values(), start=1) if sheet.width]
        raise ExportError(
            f"{_shown(path)}: {len(used)} sheets hold data (sheets {', '.join(numbers)} of "
            f"{len(sheets)}); a table file has one sheet"
        )
    if not used:
        raise ExportError(f"{_shown(path)}: empty workbook (expected a header row)")
    frame = sheets[used[0]]
    header_row = _header_row(path, used[0])
    _check_header(frame.columns, table, path, f"row {header_row}", names)
    # Date and time cells come as "2024-09-02 00:00:00" and "08:30:00" (or on Excel's day zero,
    # "1899-12-31 08:30:00"): keep what the contract reads.
    frame = frame.with_columns(
        pl.col(pl.String)
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(\.0+)?$", "$1")
        .str.replace(r"^(1899-12-3[01] |1900-01-0[01] )?(\d{2}:\d{2}):00(\.0+)?$", "$2")
    )
    # Excel row numbers: the header is the first row with a value (calamine skips blank rows
    # above it); blank rows below it are dropped once every row has its number.
    numbered = frame.with_row_index(ROW, offset=header_row + 1)
    filled = numbered.filter(pl.any_horizontal(pl.col(frame.columns).is_not_null()))
    typed = filled.with_columns(pl.col(ROW).cast(pl.Int64))
    return _as_text(typed, table, path, names), empty_failures()


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


_READERS = {".csv": _read_csv, ".parquet": _read_parquet, ".xlsx": _read_xlsx}
_FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".xlsx": "Excel (.xlsx)"}


def read_table(name: str, path: Path, names: ExportNames = CONTRACT_NAMES) -> ReadResult:
    """Read one table file as text columns of the contract, plus the source row number.

    Parameters
    ----------
    name
        The contract table the file holds.
    path
        The file: ``.csv``, ``.parquet`` or ``.xlsx``. A link is read only when it stays
        inside the file's own folder (see the module docstring).
    names
        The export's own column names (a profile's ``[columns]``), besides the contract's.

    Returns
    -------
    ReadResult
        The table as text columns (``_row`` holds each row's CSV line, Excel row or Parquet
        row) with the rows set aside on the way, and the notices for the console.

    Raises
    ------
    ExportError
        When the file is not a readable table or lacks a required column. The message is
        one line naming the file, and the line or column where it can; never the content.
    """
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise ExportError(f"{_shown(path)}: not a table file (expected .csv, .parquet or .xlsx)")
    if _leaves(path, path.parent):
        raise ExportError(f"{_shown(path)}: {_OUTSIDE}")
    if not path.is_file():  # a folder, a broken link, a pipe that would never end
        raise ExportError(f"{_shown(path)}: not a readable file")
    try:
        frame, too_long = _READERS[suffix](path, name, names)  # each checks its header
    except ExportError:
        raise
    # polars, fastexcel and pyarrow raise many types for a bad file; polars may even panic on a
    # damaged Parquet page, and its PanicException is a BaseException, not an Exception.
    except (Exception, pl.exceptions.PanicException) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # the system's words
            why = f"cannot be read ({exc.strerror})"  # e.g. "Permission denied"
        else:  # only the type: their messages may quote the bytes or a value they could not parse
            why = (
                f"not a readable table (not a valid {_FORMATS[suffix]} file: {type(exc).__name__})"
            )
        raise ExportError(f"{_shown(path)}: {why}") from exc
    return _in_contract(name, path, frame, too_long, names)


def _in_contract(
    name: str, path: Path, frame: pl.DataFrame, too_long: pl.DataFrame, names: ExportNames
) -> ReadResult:
    """A frame as read (the file's column names, ``_row``) as the contract's text columns, with
    the notices of columns left out and of rows set aside (``too_long``)."""
    frame = frame.rename({c: names.column(name, c) for c in frame.columns if c != ROW})
    # The readers checked their header as they found it; polars may still have split a
    # header with odd quotes otherwise, and then the contract's columns are not all here.
    _check_header([c for c in frame.columns if c != ROW], name, path, "", CONTRACT_NAMES)

    declared = contract.columns(name)
    notices = []
    extra = [c for c in frame.columns if c not in declared and c != ROW]
    if extra:  # the header is a real one (every required column found): its names may show
        notices.append(
            f"{_shown(path.name)}: ignoring columns not in the contract: {_one_line(extra)}"
        )
    absent = [c for c in declared if c not in frame.columns]
    frame = frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in absent])
    frame = frame.select(ROW, *declared).with_columns(pl.col(ROW).cast(pl.Int64))
    if too_long.height:
        first = too_long.row(0, named=True)
        notices.append(
            f"{_shown(path.name)}: {too_long.height:,} row(s) with more fields than the header "
            f"go to quarantine (first: line {first[ROW]}, {first['reason']})"
        )
        if extra:  # the text of such a row would hold those columns too: a name, a note
            too_long = too_long.with_columns(
                value=pl.lit(None, dtype=pl.String),
                reason=pl.col("reason") + "; not copied: the file has other columns",
            )
    table = RawTable(name=name, source=path.name, frame=frame, rejected=too_long)
    return ReadResult(table, tuple(notices))


BLOCK_BYTES = 32 << 20
"""How much of a large CSV :func:`read_blocks` reads at a time by default (32 MiB; ingest
reads about a part's rows at a time, :data:`pipelines.sources.spill.CSV_ROW_BYTES` a row)."""


class NotInBlocks(Exception):
    """A CSV :func:`read_blocks` cannot read in blocks after all (it holds a quote, say): the
    blocks it gave are void, and the file is to be read whole with :func:`read_table`."""


def read_blocks(
    name: str, path: Path, names: ExportNames = CONTRACT_NAMES, block_bytes: int = BLOCK_BYTES
) -> Iterator[ReadResult]:
    """The table :func:`read_table` reads, in blocks of rows, one after the other.

    A CSV file larger than ``block_bytes`` is read ``block_bytes`` at a time, cut after the
    last line end, so that only a block of its text and rows is held at once; each block's
    ``_row`` numbers are those a whole read gives. Only a file whose rows are its lines is cut
    so: UTF-8 or cp1252 text (any byte that is not UTF-8 read as cp1252, as a whole read
    does) with LF or CRLF line ends and no quote (a quoted value may hold a line end). It
    raises :class:`NotInBlocks`, possibly after some blocks, on a quote, a line polars cannot
    read (a row with more fields than the header), a line longer than a block, a UTF-16 or
    UTF-32 file, one without LF (old Mac line ends), a first block of less than 8 KiB or of
    blanks only, or a file the system will not read: the caller drops the blocks and reads the
    file whole, which explains what is wrong exactly as it always does. Any other file is
    read whole and given as one block.

    The notices are given with the first block.

    Raises
    ------
    ExportError
        As :func:`read_table`, for what the first block shows.
    NotInBlocks
        When the file has to be read whole after all.
    """
    if path.suffix.lower() != ".csv" or not _large_file(path, block_bytes):
        yield read_table(name, path, names)
        return
    first = True
    for frame in _csv_blocks(path, name, names, block_bytes):
        result = _in_contract(name, path, frame, empty_failures(), names)
        yield result if first else ReadResult(result.table, ())
        first = False


def _large_file(path: Path, block_bytes: int) -> bool:
    """``path`` is a regular file in its folder and larger than ``block_bytes``."""
    if _leaves(path, path.parent) or not path.is_file():
        return False  # read_table says why
    return path.stat().st_size > block_bytes


def _csv_blocks(
    path: Path, table: str, names: ExportNames, block_bytes: int
) -> Iterator[pl.DataFrame]:
    """The rows of a CSV (see :func:`read_blocks`), a block at a time, as :func:`_read_csv`
    reads them whole: ``_row`` is 2 for the first row and one more for each row after."""
    separator = ";"
    header = b""  # the first block's header line, given to every other block too
    rows = 0
    for block in _line_blocks(path, block_bytes):
        if not header:  # the first block: what the file is, and its header
            # what a whole read looks at to tell text from bytes (:func:`_as_utf8`) is here
            if len(block) < _SNIFF or _wide_codec(block) is not None or block.isspace():
                raise NotInBlocks
            block = _as_utf8(block, path)
        else:
            block = header + _utf8_or_cp1252(block)
        if b'"' in block:
            raise NotInBlocks
        if not header:
            line = _header(block)
            separator = _separator(line)
            _header_names(line, separator, table, path, names)
            header = line.removeprefix(codecs.BOM_UTF8) + b"\n"
        try:
            frame = pl.read_csv(
                block,
                separator=separator,
                infer_schema=False,
                row_index_name=ROW,
                row_index_offset=2 + rows,
            )
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:
            raise NotInBlocks from exc  # the whole read says what is wrong, as it always does
        rows += frame.height
        yield frame


def _line_blocks(path: Path, block_bytes: int) -> Iterator[bytes]:
    """The bytes of ``path`` in blocks of about ``block_bytes`` (the first at least twice
    :data:`_SNIFF`), each ending with a line end (but the last); :class:`NotInBlocks` for a
    line longer than a block."""
    try:
        handle = path.open("rb")
    except OSError as exc:  # the whole read says why, in the system's words
        raise NotInBlocks from exc
    with handle:
        carry = b""
        size = max(block_bytes, 2 * _SNIFF)
        while chunk := _read(handle, size):
            size = block_bytes
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if not cut:
                raise NotInBlocks
            carry = data[cut:]
            yield data[:cut]
        if carry:
            yield carry


def _read(handle: BinaryIO, size: int) -> bytes:
    try:
        return handle.read(size)
    except OSError as exc:
        raise NotInBlocks from exc
