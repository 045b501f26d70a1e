"""Build and store feature tables: one Parquet file per as-of date under the workspace.

A date already built is skipped unless its inputs changed: each file's manifest entry holds a
fingerprint of everything the features at that date can see (pupil-days before it, the
enrolments, the calendar) and of the catalog itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from features.build import Board, DaySummary, Prepared, board_days, feature_table, prepare
from features.catalog import CATALOG
from pipelines.workspace import Workspace, locked, write_json, write_parquet

Say = Callable[[str], None]

FEATURES_VERSION = "2"
"""Bump when a feature's definition changes without its name changing."""


class MissingInputError(FileNotFoundError):
    """The workspace lacks the canonical tables: run ``schoolpoort ingest`` first."""


def _scan(workspace: Workspace, name: str) -> pl.LazyFrame:
    path = workspace.canonical_table(name)
    if not path.exists():
        raise MissingInputError(f"{path}: no canonical table; run `schoolpoort ingest` first")
    return pl.scan_parquet(path)


def load_prepared(
    workspace: Workspace, schools: Sequence[str] | None = None, derived: bool = True
) -> Prepared:
    """Canonical tables from the workspace, prepared for feature building: the whole board's,
    or with ``schools`` a shard's; without ``derived``, without the running counts and spells
    (:func:`features.build.prepare`)."""
    tables = {
        name: _scan(workspace, name)
        for name in ("enrolments", "absences", "late_arrivals", "sick_bay_visits", "calendar")
    }
    return prepare(
        tables["enrolments"],
        tables["absences"],
        tables["late_arrivals"],
        tables["sick_bay_visits"],
        tables["calendar"],
        schools,
        derived,
    )


def board_schools(workspace: Workspace) -> list[str]:
    """The schools with enrolments, sorted: what :func:`school_shards` splits."""
    schools = _scan(workspace, "enrolments").select(pl.col("school_id").unique()).collect()
    return sorted(schools.to_series().to_list())


def summarise_shard(workspace: Workspace, schools: Sequence[str]) -> DaySummary:
    """The summary of the pupil-days at ``schools`` (:class:`features.build.DaySummary`),
    read from their pupils' rows only: a shard's part of the board's summary."""
    return load_prepared(workspace, schools, derived=False).summary


def load_board(workspace: Workspace, parts: Sequence[DaySummary]) -> Board:
    """The board from its enrolments and calendar, with the pupil-days summarised in
    ``parts`` (:func:`summarise_shard` of every shard): no pupil-day row is read."""
    enrolments = _scan(workspace, "enrolments")
    days = board_days(enrolments, _scan(workspace, "calendar"))
    return Board(enrolments.collect(), days, DaySummary.combined(parts))


def _frame_hash(frame: pl.DataFrame) -> int:
    return int(frame.hash_rows(seed=0).sum()) if frame.height else 0


@dataclass(frozen=True)
class FeatureStore:
    """The per-date feature files of a workspace."""

    workspace: Workspace

    @property
    def folder(self) -> Path:
        return self.workspace.features

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def path(self, as_of: dt.date) -> Path:
        return self.folder / f"as_of={as_of.isoformat()}" / "features.parquet"

    def manifest(self) -> dict[str, str]:
        if not self.manifest_path.exists():
            return {}
        data: dict[str, str] = json.loads(self.manifest_path.read_text("utf-8"))
        return data

    def rows(self, as_of: dt.date, schools: Sequence[str]) -> pl.DataFrame:
        """The stored table of ``as_of``'s rows at ``schools``, in its order."""
        at = pl.col("school_id").is_in(list(schools))
        return pl.scan_parquet(self.path(as_of)).filter(at).collect(engine="in-memory")

    def scan(self, dates: Iterable[dt.date]) -> pl.LazyFrame:
        """The stored tables for ``dates``, one after the other."""
        return pl.concat([pl.scan_parquet(self.path(d)) for d in dates], how="vertical")


def static_fingerprint(board: Board) -> str:
    """The part of every date's fingerprint that does not depend on the date."""
    parts = (
        FEATURES_VERSION,
        ",".join(f.name for f in CATALOG),
        _frame_hash(board.enrolments),
        _frame_hash(board.days),
    )
    return "|".join(str(p) for p in parts)


class _SeenHashes:
    """Row hashes of the pupil-days summed by date (the board's summary): the part a date can
    see is a prefix."""

    def __init__(self, board: Board) -> None:
        by_date = board.summary.by_date
        self.dates = by_date["date"].to_numpy()
        self.hashes = np.cumsum(by_date["hash"].to_numpy().astype(np.uint64), dtype=np.uint64)
        self.counts = np.cumsum(by_date["rows"].to_numpy())

    def before(self, as_of: dt.date) -> str:
        i = int(np.searchsorted(self.dates, np.datetime64(as_of), side="left"))
        return f"{int(self.hashes[i - 1]) if i else 0}|{int(self.counts[i - 1]) if i else 0}"


def fingerprint(
    board: Board, as_of: dt.date, static: str | None = None, seen: _SeenHashes | None = None
) -> str:
    """What the features at ``as_of`` depend on: pupil-days before it, enrolments, calendar, code."""
    seen = seen or _SeenHashes(board)
    return f"{static or static_fingerprint(board)}|{seen.before(as_of)}"


class FeatureCache:
    """The feature tables of one board, cached in the workspace's store: a date's table is
    built when what it can see changed, else read back.

    With a :class:`~features.build.Board` that is not a prepared one (on Dask, where the
    workers build the tables shard by shard), a stale table is stored with :meth:`put`."""

    def __init__(self, workspace: Workspace, board: Board) -> None:
        self.store = FeatureStore(workspace)
        self.board = board
        self.manifest = self.store.manifest()
        self._static = static_fingerprint(board)  # enrolments, calendar: hashed once
        self._seen = _SeenHashes(board)  # pupil-days: summed by date once

    def fresh(self, as_of: dt.date) -> bool:
        """Whether the stored table of ``as_of`` was built from what it can see now."""
        print_ = fingerprint(self.board, as_of, self._static, self._seen)
        return self.manifest.get(as_of.isoformat()) == print_ and self.store.path(as_of).exists()

    def build(self, as_of: dt.date) -> pl.DataFrame:
        """Build the table of ``as_of`` and store it (the manifest is saved by :meth:`save`)."""
        if not isinstance(self.board, Prepared):
            raise TypeError(f"features of {as_of}: this board holds no pupil-days to build from")
        return self.put(as_of, feature_table(self.board, as_of).collect())

    def put(self, as_of: dt.date, table: pl.DataFrame) -> pl.DataFrame:
        """Store ``table`` as the table of ``as_of``, built from what it can see now (by
        :meth:`build`, or from the shards of :func:`build_shard`)."""
        write_parquet(table, self.store.path(as_of))
        self.manifest[as_of.isoformat()] = fingerprint(self.board, as_of, self._static, self._seen)
        return table

    def table(self, as_of: dt.date) -> pl.DataFrame:
        """The table of ``as_of`` in memory: read back when fresh, else built and stored."""
        if self.fresh(as_of):
            return pl.read_parquet(self.store.path(as_of))
        table = self.build(as_of)
        self.save()
        return table

    def save(self) -> None:
        """Write the manifest, after the tables it names."""
        write_json(self.manifest, self.store.manifest_path)


def build_features(
    workspace: Workspace,
    dates: list[dt.date],
    prepared: Prepared | None = None,
    say: Say = print,
) -> list[Path]:
    """Build (or reuse) the feature table of every date in ``dates``; return their paths.

    Holds the workspace's lock: each table is written atomically, and the manifest after them.
    """
    with locked(workspace, "features", say):
        return _build(FeatureCache(workspace, prepared or load_prepared(workspace)), dates, say)


def _build(cache: FeatureCache, dates: list[dt.date], say: Say) -> list[Path]:
    built = reused = 0
    for i, as_of in enumerate(dates, start=1):
        if cache.fresh(as_of):
            reused += 1
            continue
        cache.build(as_of)
        built += 1
        if built % 10 == 0 or i == len(dates):
            say(f"features: {i}/{len(dates)} as-of dates ({built} built, {reused} unchanged)")
    cache.save()
    if built == 0:
        say(f"features: all {len(dates)} as-of dates unchanged")
    return [cache.store.path(d) for d in dates]


def school_shards(schools: Sequence[str], count: int) -> list[list[str]]:
    """The sorted ``schools`` in at most ``count`` contiguous groups of near-equal size. In
    order, the groups hold the schools in order: their rows one after the other are in the
    feature table's order (by school)."""
    ordered = sorted(schools)
    size, extra = divmod(len(ordered), max(1, min(count, len(ordered))))
    groups: list[list[str]] = []
    start = 0
    while start < len(ordered):
        end = start + size + (1 if len(groups) < extra else 0)
        groups.append(ordered[start:end])
        start = end
    return groups


def shard_path(folder: Path, as_of: dt.date) -> Path:
    """Where :func:`build_shard` writes a shard's rows of the table of ``as_of``."""
    return folder / f"as_of={as_of.isoformat()}.parquet"


def build_shard(
    workspace: Workspace, dates: Sequence[dt.date], schools: Sequence[str], folder: Path
) -> int:
    """The rows at ``schools`` of the feature table of each of ``dates``, into ``folder``
    (:func:`shard_path`); the rows written.

    Reads only the shard's pupils from the canonical tables (every pupil ever enrolled at one
    of the schools, with all their history: :func:`features.build.prepare`), so a worker holds
    its shard, not the board. The rows are the whole board's rows at those schools, to the bit.
    """
    prepared = load_prepared(workspace, schools)
    at = pl.col("school_id").is_in(list(schools))
    rows = 0
    for as_of in dates:
        table = feature_table(prepared, as_of).filter(at).collect()
        write_parquet(table, shard_path(folder, as_of))
        rows += table.height
    return rows


def merge_shards(cache: FeatureCache, as_of: dt.date, folders: Sequence[Path]) -> pl.DataFrame:
    """The table of ``as_of`` from its shards' rows (:func:`build_shard`, ``folders`` in the
    order of :func:`school_shards`), stored in ``cache``."""
    parts = [pl.read_parquet(shard_path(folder, as_of)) for folder in folders]
    return cache.put(as_of, pl.concat(parts, how="vertical").rechunk())
