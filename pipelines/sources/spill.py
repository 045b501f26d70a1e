"""The event tables of a large export, read a block at a time and set down in parts by pupil.

An export's event tables are its bulk (a million pupils' school year: 17.7 million absences,
475 MB of CSV). Held whole while they are checked, their text and rows would cost several
times their size. Instead, :func:`spill_table` reads each of them a block at a time
(:func:`~pipelines.sources.readers.read_blocks`) and writes each block's rows, split by a hash
of the pupil id (:func:`~features.canonical.tables.pupil_partitions`), to an Arrow IPC file of
its part in a scratch folder of the workspace; :class:`SpilledEvents` then gives
:func:`~features.canonical.tables.canonicalise` one part at a time, each part's rows in the
order of their file. The scratch folder is private to the workspace's owner (the files hold
the export's own pupil ids) and removed after the run, or by the next run after a crash.

Only this run's own files are read back, in the format it wrote them; their paths are made
of table names of the contract and numbers, never of the export's data.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import polars as pl

from features.canonical.codes import ExportNames
from features.canonical.contract import EVENT_TABLES
from features.canonical.tables import RawTable, TableFacts, pupil_partitions
from features.canonical.validate import empty_failures
from pipelines.sources.readers import (
    BLOCK_BYTES,
    CONTRACT_NAMES,
    NotInBlocks,
    ReadResult,
    read_blocks,
    read_table,
)

CSV_ROW_BYTES = 27
"""About how many bytes of CSV an event row takes (the simulated board's absences: 475 MB for
17.7 million rows); :func:`part_count` estimates the rows from it."""

SPILL_COMPRESSION: Final = "zstd"
"""The parts' Arrow files, compressed: about 15 times smaller than without, and quicker to
write and read back (measured on 2,000,000 canonical absences)."""

_PART = "_part"
_REJECTED = "rejected.arrow"


def part_count(files: Mapping[str, Path], partition_rows: int) -> int:
    """How many parts the event tables among ``files`` are checked in: their CSV files' rows
    (estimated from their size) over ``partition_rows``; 1 when they fit in one part (then
    they are read whole, as any table in another format is)."""
    size = sum(
        path.stat().st_size
        for name, path in files.items()
        if name in EVENT_TABLES and path.suffix.lower() == ".csv" and path.is_file()
    )
    return max(1, -(-size // (CSV_ROW_BYTES * partition_rows)))


@dataclass(frozen=True)
class Spilled:
    """One event table set down in parts: what it is, and the schema of its rows."""

    facts: TableFacts
    schema: Mapping[str, pl.DataType]
    notices: tuple[str, ...]


def spill_table(
    name: str,
    path: Path,
    root: Path,
    count: int,
    names: ExportNames = CONTRACT_NAMES,
    block_bytes: int = BLOCK_BYTES,
) -> Spilled:
    """Read the event table ``name`` from ``path`` a block at a time and write its rows into
    ``count`` parts under ``root`` (in a folder of its own, ``root/<name>``, made here).

    A file that cannot be read in blocks (see :func:`~pipelines.sources.readers.read_blocks`)
    is read whole and split the same way; the rows its reader set aside go with the first part.

    Raises
    ------
    ExportError
        As :func:`~pipelines.sources.readers.read_table`.
    """
    folder = root / name
    try:
        return _spill(read_blocks(name, path, names, block_bytes), folder, count)
    except NotInBlocks:
        shutil.rmtree(folder, ignore_errors=True)
        return _spill(iter([read_table(name, path, names)]), folder, count)


def _spill(blocks: Iterator[ReadResult], folder: Path, count: int) -> Spilled:
    folder.mkdir(parents=True)
    rows, has_school = 0, False
    first: RawTable | None = None
    notices: tuple[str, ...] = ()
    for number, result in enumerate(blocks):
        table = result.table
        if first is None:
            first, notices = table, result.notices
        frame = table.frame
        rows += frame.height + table.rejected.height
        has_school = has_school or bool(frame["school_id"].is_not_null().any())
        if table.rejected.height:
            table.rejected.write_ipc(folder / _REJECTED)  # only a whole read sets rows aside
        parts = frame.with_columns(pupil_partitions(frame, count).alias(_PART)).partition_by(
            _PART, as_dict=True, include_key=False, maintain_order=True
        )
        for (part,), rows_of_part in parts.items():
            place = folder / f"{part:05d}"
            place.mkdir(exist_ok=True)
            rows_of_part.write_ipc(place / f"{number:06d}.arrow", compression=SPILL_COMPRESSION)
    assert first is not None  # every reader gives at least one block
    facts = TableFacts(first.name, first.source, rows, has_school)
    return Spilled(facts, dict(first.frame.schema), notices)


@dataclass
class SpilledRows:
    """A :class:`~features.canonical.tables.RowStore` on disk: each bucket's rows as Arrow IPC
    files under ``folder``, read back (and removed) when its table is sorted; the sorted
    buckets are written there too, and the table is a scan of them, in order."""

    folder: Path
    buckets: int
    _written: Iterator[int] = field(default_factory=itertools.count)

    def put(self, table: str, bucket: int, rows: pl.DataFrame) -> None:
        place = self._bucket(table, bucket)
        place.mkdir(parents=True, exist_ok=True)
        rows.write_ipc(place / f"{next(self._written):08d}.arrow", compression=SPILL_COMPRESSION)

    def take(self, table: str, bucket: int) -> pl.DataFrame | None:
        place = self._bucket(table, bucket)
        files = sorted(place.glob("*.arrow")) if place.is_dir() else []
        if not files:
            return None
        rows = pl.concat([pl.read_ipc(file) for file in files], rechunk=False)
        shutil.rmtree(place)
        return rows

    def table(self, table: str, chunks: Iterator[pl.DataFrame]) -> pl.LazyFrame:
        place = self.folder / "sorted" / table
        place.mkdir(parents=True)
        paths = []
        for number, chunk in enumerate(chunks):
            paths.append(place / f"{number:05d}.arrow")
            chunk.write_ipc(paths[-1], compression=SPILL_COMPRESSION)
        return pl.scan_ipc(paths)

    def _bucket(self, table: str, bucket: int) -> Path:
        return self.folder / "kept" / table / f"{bucket:05d}"


@dataclass(frozen=True)
class SpilledEvents:
    """The event tables :func:`spill_table` set down under ``folder`` (its ``root``), part by
    part (:class:`~features.canonical.tables.EventParts`), their canonical rows kept on disk
    beside them (:class:`SpilledRows`, as many buckets as parts)."""

    folder: Path
    count: int
    spilled: Mapping[str, Spilled]
    store: SpilledRows = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "store", SpilledRows(self.folder / "canonical", self.count))

    @property
    def tables(self) -> Mapping[str, TableFacts]:
        return {name: table.facts for name, table in self.spilled.items()}

    def parts(self) -> Iterator[dict[str, RawTable]]:
        for part in range(self.count):
            yield {name: self._part(name, part) for name in self.spilled}

    def _part(self, name: str, part: int) -> RawTable:
        spilled = self.spilled[name]
        place = self.folder / name / f"{part:05d}"
        files = sorted(place.glob("*.arrow")) if place.is_dir() else []
        frame = (
            pl.concat([pl.read_ipc(file) for file in files])
            if files
            else pl.DataFrame(schema=dict(spilled.schema))
        )
        rejected_file = self.folder / name / _REJECTED
        rejected = (
            pl.read_ipc(rejected_file) if part == 0 and rejected_file.exists() else empty_failures()
        )
        return RawTable(name, spilled.facts.source, frame, rejected)
