"""What identifies a pupil, and every byte a workspace shows outside its canonical tables."""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from features.canonical.pseudonym import pseudonym_map


def identifying_needles(export: Path, key: bytes) -> list[bytes]:
    """Every school pupil id of ``export`` and its pseudonym under ``key``."""
    ids = pl.read_csv(export / "enrolments.csv", separator=";", columns=["student_id"])[
        "student_id"
    ].unique()
    keys = pseudonym_map(key, ids)["student_key"]
    return [s.encode() for s in ids.to_list() + keys.to_list()]


def parquet_text(path: Path) -> list[bytes]:
    """All that a Parquet file keeps legible: column names, key-value metadata, column
    statistics, and the text of every cell.

    Its pages are compressed, so an id inside would not show in the file's bytes, and a
    short id can turn up in them by chance (``L2`` is two random bytes)."""
    meta = pq.ParquetFile(path).metadata
    pairs = meta.metadata or {}
    # ARROW:schema is base64 of the schema the names already give: random-looking text
    legible = [*meta.schema.names, *pairs, *(v for k, v in pairs.items() if k != b"ARROW:schema")]
    for group in range(meta.num_row_groups):
        for column in range(meta.num_columns):
            stats = meta.row_group(group).column(column).statistics
            if stats is not None and stats.has_min_max:
                legible += [stats.min, stats.max]
    blobs = [b"\n".join(v if isinstance(v, bytes) else str(v).encode() for v in legible)]
    cells = pl.read_parquet(path).select(pl.all().cast(pl.String))
    blobs.extend("\n".join(map(str, s.to_list())).encode() for s in cells)
    return blobs


def file_blobs(paths: Iterable[Path]) -> list[bytes]:
    """The bytes of each file, of each member of a zip archive, and the legible parts of a
    Parquet file (:func:`parquet_text`)."""
    blobs = []
    for path in paths:
        if path.is_file():
            if path.suffix == ".parquet":
                blobs.extend(parquet_text(path))
                continue
            blobs.append(path.read_bytes())
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    blobs.extend(archive.read(name) for name in archive.namelist())
    return blobs


def mlflow_blobs(root: Path, artifacts: Path) -> list[bytes]:
    """The MLflow store's bytes, its tables as text, and every artifact."""
    blobs = [(root / "mlflow.db").read_bytes()]
    with sqlite3.connect(root / "mlflow.db") as db:  # text as SQLite stores it, too
        for (table,) in db.execute("select name from sqlite_master where type='table'"):
            blobs.append(repr(db.execute(f"select * from {table}").fetchall()).encode())
    return blobs + file_blobs(artifacts.rglob("*"))


def found(needles: list[bytes], blobs: list[bytes]) -> list[bytes]:
    """The needles that occur in any blob.

    One Aho-Corasick pass over each blob (polars' ``extract_many``), where searching for each
    needle in turn took minutes on a board's thousands of ids. Both sides are read as Latin-1,
    one character per byte, so a needle is found exactly where its bytes are."""
    if not needles or not blobs:
        return []
    patterns = [n.decode("latin-1") for n in needles]
    text = pl.Series([b.decode("latin-1") for b in blobs], dtype=pl.String)
    hits = set(text.str.extract_many(patterns, overlapping=True).explode().drop_nulls())
    return [n for n, p in zip(needles, patterns, strict=True) if p in hits]
