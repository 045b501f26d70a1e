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

from features.build import Prepared, feature_table, prepare
from features.catalog import CATALOG
from pipelines.workspace import Workspace, locked, write_json, write_parquet

Say = Callable[[str], None]

FEATURES_VERSION = "2"
"""Bump when a feature's definition changes without its name changing."""


class MissingInputError(FileNotFoundError):
    """The workspace lacks the canonical tables: run ``schoolpoort ingest`` first."""


def load_prepared(
    workspace: Workspace, schools: Sequence[str] | None = None, derived: bool = True
) -> Prepared:
    """Canonical tables from the workspace, prepared for feature building: the whole board's,
    or with ``schools`` a shard's; without ``derived``, only what the run around the feature
    building needs (:func:`features.build.prepare`)."""
    tables = {}
    for name in ("enrolments", "absences", "late_arrivals", "sick_bay_visits", "calendar"):
        path = workspace.canonical_table(name)
        if not path.exists():
            raise MissingInputError(f"{path}: no canonical table; run `schoolpoort ingest` first")
        tables[name] = pl.scan_parquet(path)
    return prepare(
        tables["enrolments"],
        tables["absences"],
        tables["late_arrivals"],
        tables["sick_bay_visits"],
        tables["calendar"],
        schools,
        derived,
    )


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


def static_fingerprint(prepared: Prepared) -> str:
    """The part of every date's fingerprint that does not depend on the date."""
    parts = (
        FEATURES_VERSION,
        ",".join(f.name for f in CATALOG),
        _frame_hash(prepared.enrolments),
        _frame_hash(prepared.days),
    )
    return "|".join(str(p) for p in parts)


class _SeenHashes:
    """Row hashes of the pupil-days, summed by date once: the part a date can see is a prefix."""

    def __init__(self, prepared: Prepared) -> None:
        frame = prepared.pupil_days
        by_day = (
            frame.select(pl.col("date"), frame.hash_rows(seed=0).alias("h"))
            .group_by("date")
            .agg(pl.col("h").sum().alias("h"), pl.len().alias("n"))
            .sort("date")
        )
        self.dates = by_day["date"].to_numpy()
        self.hashes = np.cumsum(by_day["h"].to_numpy().astype(np.uint64), dtype=np.uint64)
        self.counts = np.cumsum(by_day["n"].to_numpy())

    def before(self, as_of: dt.date) -> str:
        i = int(np.searchsorted(self.dates, np.datetime64(as_of), side="left"))
        return f"{int(self.hashes[i - 1]) if i else 0}|{int(self.counts[i - 1]) if i else 0}"


def fingerprint(
    prepared: Prepared, as_of: dt.date, static: str | None = None, seen: _SeenHashes | None = None
) -> str:
    """What the features at ``as_of`` depend on: pupil-days before it, enrolments, calendar, code."""
    seen = seen or _SeenHashes(prepared)
    return f"{static or static_fingerprint(prepared)}|{seen.before(as_of)}"


class FeatureCache:
    """The feature tables of one prepared board, cached in the workspace's store: a date's
    table is built when what it can see changed, else read back."""

    def __init__(self, workspace: Workspace, prepared: Prepared) -> None:
        self.store = FeatureStore(workspace)
        self.prepared = prepared
        self.manifest = self.store.manifest()
        self._static = static_fingerprint(prepared)  # enrolments, calendar: hashed once
        self._seen = _SeenHashes(prepared)  # pupil-days: hashed once, summed by date

    def fresh(self, as_of: dt.date) -> bool:
        """Whether the stored table of ``as_of`` was built from what it can see now."""
        print_ = fingerprint(self.prepared, as_of, self._static, self._seen)
        return self.manifest.get(as_of.isoformat()) == print_ and self.store.path(as_of).exists()

    def build(self, as_of: dt.date) -> pl.DataFrame:
        """Build the table of ``as_of`` and store it (the manifest is saved by :meth:`save`)."""
        return self.put(as_of, feature_table(self.prepared, as_of).collect())

    def put(self, as_of: dt.date, table: pl.DataFrame) -> pl.DataFrame:
        """Store ``table`` as the table of ``as_of``, built from what it can see now (by
        :meth:`build`, or from the shards of :func:`build_shard`)."""
        write_parquet(table, self.store.path(as_of))
        self.manifest[as_of.isoformat()] = fingerprint(
            self.prepared, as_of, self._static, self._seen
        )
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
