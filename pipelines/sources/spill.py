"""The event tables of a large export, read a block at a time and set down in parts by pupil.

An export's event tables are its bulk (a million pupils' school year: 17.7 million absences,
475 MB of CSV). Held whole while they are checked, their text and rows would cost several
times their size. Instead, :func:`spill_table` reads each of them a block at a time
(:func:`~pipelines.sources.readers.read_blocks`) and writes each block's rows, split by a hash
of the pupil id (:func:`~features.canonical.tables.pupil_partitions`), to an Arrow IPC file in
a scratch folder of the workspace: one file a block, its rows grouped by part
(:class:`Sliced`). :class:`SpilledEvents` then gives
:func:`~features.canonical.tables.canonicalise` one part at a time (that part's rows of every
block, in the order of the file), and keeps the canonical rows the parts yield the same way
(:class:`SpilledRows`: one file each time rows are kept, grouped by range of pupils), so that
the files grow in number with the blocks and parts, not with their product. The scratch
folder is private to the workspace's owner (the files hold the export's own pupil ids) and
removed after the run, or by the next run after a crash; the export's parts are removed as soon
as they are checked.

On a cluster, a ``mapper`` hands each part to a worker (:class:`PartMapper`): the job
(:func:`check_spilled`, :func:`spilled_dates`) reads its part and what it is checked against
(:func:`write_lookups`) from the scratch folder, which the workers must reach, writes its
canonical rows there and returns the rest; it is given no key and no pseudonym.

Only this run's own files are read back, in the format it wrote them; their paths are made
of table names of the contract and numbers, never of the export's data.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Final, Protocol, TypeVar

import polars as pl

from features.canonical.codes import ExportNames
from features.canonical.contract import EVENT_TABLES
from features.canonical.tables import (
    EventLookups,
    IngestOptions,
    PartCheck,
    RawTable,
    Say,
    TableFacts,
    check_part,
    checked_in_turn,
    dates_in_turn,
    grouped,
    part_dates,
    pupil_partitions,
)
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
"""The Arrow files' compression: about 15 times smaller than none, and quicker to write and
read back (measured on 2,000,000 canonical absences)."""

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


SPILL_BATCH_ROWS = 65_536
"""Rows per record batch of the Arrow files: a slice of a file is read without decompressing
the batches around it."""


@dataclass(frozen=True)
class Sliced:
    """An Arrow IPC file of rows grouped by where they go, and where each group starts."""

    path: Path
    offsets: tuple[int, ...]
    """Group ``i``'s rows are ``offsets[i]`` up to ``offsets[i + 1]``."""

    @classmethod
    def write(cls, path: Path, groups: Sequence[pl.DataFrame]) -> Sliced:
        """``groups`` (frames of one schema) written to ``path`` one after the other, whole or
        not at all (through a file beside it, renamed: two attempts at one part of the events
        may write the same file at once). The folder must be there."""
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        try:
            pl.concat(groups).write_ipc(
                name, compression=SPILL_COMPRESSION, record_batch_size=SPILL_BATCH_ROWS
            )
            os.replace(name, path)
        finally:
            Path(name).unlink(missing_ok=True)
        return cls(path, (0, *itertools.accumulate(group.height for group in groups)))

    def read(self, group: int) -> pl.DataFrame:
        """The rows of ``group``, in their order."""
        start, stop = self.offsets[group], self.offsets[group + 1]
        return pl.scan_ipc(self.path).slice(start, stop - start).collect()


@dataclass(frozen=True)
class Spilled:
    """One event table set down in parts: what it is, and the schema of its rows."""

    facts: TableFacts
    schema: Mapping[str, pl.DataType]
    notices: tuple[str, ...]
    blocks: tuple[Sliced, ...]
    """Each block's rows by part."""
    rejected: Path | None
    """The rows the reader set aside, when it set any aside."""


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
    is read whole and split the same way, with a notice (its text and rows are then held
    whole while it is read); the rows its reader set aside go with the first part.

    Raises
    ------
    ExportError
        As :func:`~pipelines.sources.readers.read_table`.
    """
    folder = root / name
    try:
        return _spill(read_blocks(name, path, names, block_bytes), folder, count)
    except NotInBlocks:
        shutil.rmtree(folder)
    spilled = _spill(iter([read_table(name, path, names)]), folder, count)
    held = (
        f"{path.name}: held in memory while it is read, not read a block at a time (it holds "
        "a quote, a line with more fields than the header, or is not UTF-8 or cp1252 text with "
        "LF or CRLF line ends)"
    )
    return replace(spilled, notices=(*spilled.notices, held))


def _spill(blocks: Iterator[ReadResult], folder: Path, count: int) -> Spilled:
    folder.mkdir(parents=True)
    rows, has_school = 0, False
    first: RawTable | None = None
    notices: tuple[str, ...] = ()
    written: list[Sliced] = []
    rejected: Path | None = None
    for number, result in enumerate(blocks):
        table = result.table
        if first is None:
            first, notices = table, result.notices
        frame = table.frame
        rows += frame.height + table.rejected.height
        has_school = has_school or bool(frame["school_id"].is_not_null().any())
        if table.rejected.height:  # only a whole read sets rows aside
            rejected = folder / _REJECTED
            table.rejected.write_ipc(rejected, compression=SPILL_COMPRESSION)
        parts = grouped(frame, pupil_partitions(frame, count), count)
        written.append(Sliced.write(folder / f"{number:010d}.arrow", parts))
    assert first is not None  # every reader gives at least one block
    facts = TableFacts(first.name, first.source, rows, has_school)
    return Spilled(facts, dict(first.frame.schema), notices, tuple(written), rejected)


@dataclass
class SpilledRows:
    """A :class:`~features.canonical.tables.RowStore` on disk: each time rows are kept, one
    Arrow IPC file under ``folder``, its rows grouped by bucket (:class:`Sliced`); a bucket is
    its group of every file. The sorted buckets are written there too, and the table is a scan
    of them, in order."""

    folder: Path
    buckets: int
    kept: dict[str, list[Sliced]] = field(default_factory=dict)
    prefix: str = ""
    """Begins the names of the files this store writes: another store may keep rows in the
    same folder (one part's, on a worker), to be taken over by :meth:`adopt`. Such a store
    makes no folder: they are made for it (:meth:`make_room`), and gone once the run is over."""

    def make_room(self) -> None:
        """The folders every event table's kept rows go in."""
        for table in EVENT_TABLES:
            (self.folder / "kept" / table).mkdir(parents=True, exist_ok=True)

    def put(self, table: str, rows: Sequence[pl.DataFrame]) -> None:
        place = self.folder / "kept" / table
        if not self.prefix:
            place.mkdir(parents=True, exist_ok=True)
        files = self.kept.setdefault(table, [])
        files.append(Sliced.write(place / f"{self.prefix}{len(files):010d}.arrow", rows))

    def adopt(self, kept: Mapping[str, Sequence[Sliced]]) -> None:
        """Take over the rows another store kept in this one's folder, after this one's."""
        for table, files in kept.items():
            self.kept.setdefault(table, []).extend(files)

    def take(self, table: str, bucket: int) -> pl.DataFrame | None:
        files = self.kept.get(table, [])
        if not files:
            return None
        return pl.concat([file.read(bucket) for file in files], rechunk=False)

    def table(self, table: str, chunks: Iterator[pl.DataFrame]) -> pl.LazyFrame:
        place = self.folder / "sorted" / table
        place.mkdir(parents=True)
        paths = []
        for number, chunk in enumerate(chunks):
            paths.append(place / f"{number:010d}.arrow")
            chunk.write_ipc(paths[-1], compression=SPILL_COMPRESSION)
        self.kept.pop(table, None)  # every bucket taken
        shutil.rmtree(self.folder / "kept" / table, ignore_errors=True)
        return pl.scan_ipc(paths)


T = TypeVar("T")


class PartMapper(Protocol):
    """Runs ``job`` on each part number ``0 .. count - 1``, wherever it likes (the workers
    of a cluster); the results in the order of the parts. ``job`` pickles."""

    def __call__(self, job: Callable[[int], T], count: int) -> list[T]: ...


@dataclass(frozen=True)
class SpilledEvents:
    """The event tables :func:`spill_table` set down under ``folder`` (its ``root``), part by
    part (:class:`~features.canonical.tables.EventParts`), their canonical rows kept on disk
    beside them (:class:`SpilledRows`, as many buckets as parts).

    Each part's work runs in this process, in turn; or, given a ``mapper``, as its jobs
    (:func:`spilled_dates`, :func:`check_spilled`), which read their part and what it is
    checked against from ``folder`` themselves: the folder must be one they reach.
    """

    folder: Path
    count: int
    spilled: Mapping[str, Spilled]
    mapper: PartMapper | None = None
    store: SpilledRows = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "store", SpilledRows(self.folder / "canonical", self.count))

    @property
    def tables(self) -> Mapping[str, TableFacts]:
        return {name: table.facts for name, table in self.spilled.items()}

    def parts(self) -> Iterator[dict[str, RawTable]]:
        for part in range(self.count):
            yield self.part(part)

    def part(self, number: int) -> dict[str, RawTable]:
        """Part ``number`` of every event table."""
        return {name: self._part(name, number) for name in self.spilled}

    def dates(self, options: IngestOptions) -> Iterator[pl.Series]:
        if self.mapper is None:
            return dates_in_turn(self, options)
        return iter(self.mapper(partial(spilled_dates, self._sent(), options), self.count))

    def checked(
        self, lookups: EventLookups, options: IngestOptions, say: Say
    ) -> Iterator[PartCheck]:
        """The parts checked, in turn or by the mapper (the lookups written for it into the
        folder first); once the last is given, the parts and lookups are removed (the
        export's rows do not wait in the workspace while the tables are sorted)."""
        if self.mapper is None:
            yield from checked_in_turn(self, lookups, options, say)
        else:
            folder = self.folder / "lookups"
            write_lookups(lookups, folder)
            self.store.make_room()
            say(f"checking the events: {self.count} parts, on the workers")
            job = partial(check_spilled, self._sent(), folder, options)
            for check, kept in self.mapper(job, self.count):
                self.store.adopt(kept)
                yield check
        shutil.rmtree(self.folder / "lookups", ignore_errors=True)
        for name in self.spilled:
            shutil.rmtree(self.folder / name, ignore_errors=True)

    def _sent(self) -> SpilledEvents:
        """What a job is given of these events: where they are, not how they are mapped."""
        return SpilledEvents(self.folder, self.count, self.spilled)

    def _part(self, name: str, part: int) -> RawTable:
        spilled = self.spilled[name]
        frame = (
            pl.concat([block.read(part) for block in spilled.blocks], rechunk=True)
            if spilled.blocks
            else pl.DataFrame(schema=dict(spilled.schema))
        )
        rejected = (
            pl.read_ipc(spilled.rejected)
            if part == 0 and spilled.rejected is not None
            else empty_failures()
        )
        return RawTable(name, spilled.facts.source, frame, rejected)


def spilled_dates(events: SpilledEvents, options: IngestOptions, part: int) -> pl.Series:
    """A job: :func:`~features.canonical.tables.part_dates` of part ``part`` of ``events``."""
    return part_dates(events.part(part), options)


def check_spilled(
    events: SpilledEvents, lookups: Path, options: IngestOptions, part: int
) -> tuple[PartCheck, dict[str, list[Sliced]]]:
    """A job: :func:`~features.canonical.tables.check_part` of part ``part`` of ``events``,
    against the lookups in the folder ``lookups`` (:func:`write_lookups`); what it found, and
    the files its canonical rows were kept in (for the events' store to :meth:`~SpilledRows.adopt`).
    """
    store = SpilledRows(events.store.folder, events.count, prefix=f"part{part:06d}-")
    return check_part(events.part(part), read_lookups(lookups), options, store), store.kept


_LOOKUPS = ("spans", "pupils", "schools", "days", "buckets")


def write_lookups(lookups: EventLookups, folder: Path) -> None:
    """``lookups`` as Arrow IPC files in ``folder`` (made here), for :func:`read_lookups`."""
    folder.mkdir(exist_ok=True)
    for name in _LOOKUPS:
        value = getattr(lookups, name)
        frame = value.to_frame() if isinstance(value, pl.Series) else value
        frame.write_ipc(folder / f"{name}.arrow", compression=SPILL_COMPRESSION)


def read_lookups(folder: Path) -> EventLookups:
    """The lookups :func:`write_lookups` wrote into ``folder``."""
    read = {name: pl.read_ipc(folder / f"{name}.arrow") for name in _LOOKUPS}
    return EventLookups(
        spans=read["spans"],
        pupils=read["pupils"].to_series(),
        schools=read["schools"].to_series(),
        days=read["days"],
        buckets=read["buckets"].to_series(),
    )
