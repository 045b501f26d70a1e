"""Ingest one export folder into the workspace: read, canonicalise, write, reconcile."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.canonical import codes
from features.canonical.codes import CodeProfile
from features.canonical.pseudonym import pseudonym
from features.canonical.tables import Canonical, IngestOptions, Reconciliation, canonicalise
from pipelines.settings import IngestSettings
from pipelines.sources.readers import ExportError, ReadResult, find_tables, read_table
from pipelines.workspace import (
    Staging,
    Workspace,
    WorkspaceError,
    locked,
    private_dir,
    staged,
    write_csv,
    write_json,
    write_parquet,
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did, for the console and the manifest (nothing identifying)."""

    reconciliation: list[Reconciliation]
    notices: list[str]
    quarantine_examples: list[str]
    fingerprint: str


def load_profile(spec: str) -> CodeProfile:
    """A built-in profile by name, or a user's TOML file by path."""
    if spec in codes.BUILTIN_PROFILES:
        return codes.builtin_profile(spec)
    path = Path(spec)
    if not path.is_file():
        raise codes.ProfileError(
            f"code profile {spec!r}: neither a built-in profile ({', '.join(codes.BUILTIN_PROFILES)}) "
            "nor a TOML file"
        )
    return codes.CodeProfile.from_toml(path.name, path.read_text("utf-8"))


def fingerprint(paths: list[Path]) -> str:
    """SHA-256 over the input files' names and bytes: the same export gives the same print."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _example(rows: pl.DataFrame, quarantine_file: Path) -> str:
    """The first quarantined row of a table, for the console: no value (it may be a pupil's id)."""
    first = rows.row(0, named=True)
    more = f" (+{rows.height - 1:,} more)" if rows.height > 1 else ""
    return f"{first['file']} row {first['row']} column {first['column']}: {first['reason']}{more}; see {quarantine_file}"


def _write_quarantine(
    quarantine: dict[str, pl.DataFrame], workspace: Workspace, stage: Staging
) -> list[str]:
    """Each table's quarantined rows as ``quarantine/<table>.csv`` (removed when none); one
    example per table for the console."""
    examples = []
    for name, rows in quarantine.items():
        path = workspace.quarantine / f"{name}.csv"
        if rows.height:
            write_csv(rows, stage.path(path))
            examples.append(_example(rows, path))
        else:
            stage.delete(path)
    return examples


class KeyMismatchError(WorkspaceError):
    """The pseudonym key is not the one the workspace's pupils were pseudonymised with."""


def check_key(workspace: Workspace, key: bytes, new_key: bool) -> None:
    """Refuse a key other than the workspace's: its pupils would all become new pupils.

    Checked against the identity map (the pseudonym of one pupil id, recomputed); a workspace
    without one takes any key. ``new_key`` accepts the change deliberately.
    """
    path = workspace.secrets / "identity_map.parquet"
    if new_key or not path.exists():
        return
    first = pl.read_parquet(path, n_rows=1)
    if first.height and pseudonym(key, first["student_id"][0]) != first["student_key"][0]:
        raise KeyMismatchError(
            f"the pseudonym key differs from the one the workspace {workspace.root} was made with "
            "(another key file or SCHOOLPOORT_PSEUDONYM_KEY): every pupil would become a new pupil; "
            "use the workspace's key, or --new-key to start its history again"
        )


def run_ingest(
    export: Path, workspace: Workspace, settings: IngestSettings, say: Say = print
) -> IngestReport:
    """Read ``export``, write canonical Parquet, quarantine and the identity map into ``workspace``.

    The input fingerprint is hashed in the background while the tables are read and checked
    (hashlib lets go of the GIL).
    """
    with locked(workspace, "ingest", say):
        return _ingest(export, workspace, settings, say)


def _ingest(export: Path, workspace: Workspace, settings: IngestSettings, say: Say) -> IngestReport:
    files, notices = find_tables(export)
    profile = load_profile(settings.codes)
    key = workspace.key()
    check_key(workspace, key, settings.new_key)
    with ThreadPoolExecutor(max_workers=1) as pool:
        printed = pool.submit(fingerprint, list(files.values()))
        raw: dict[str, ReadResult] = {}
        for name, path in files.items():
            say(f"reading {path.name}")
            raw[name] = read_table(name, path)
            notices.extend(raw[name].notices)
        say("validating, mapping codes and pseudonymising")
        result: Canonical = canonicalise(
            {name: r.table for name, r in raw.items()},
            IngestOptions(
                profile=profile,
                key=key,
                allow_unknown_codes=settings.allow_unknown_codes,
                morning_lessons=settings.morning_lessons,
            ),
        )
        del raw  # the raw text is not needed any more: freed before writing
        notices.extend(result.notices)
        unbalanced = [r.line() for r in result.reconciliation if not r.balanced]
        if unbalanced:  # nothing is written from an ingest that cannot account for every row
            raise ExportError(f"reconciliation does not balance, nothing written: {unbalanced[0]}")

        input_print = printed.result()  # long done; a failure to hash stops before writing

    say("writing the canonical tables")
    private_dir(workspace.secrets)
    with staged(workspace) as stage:  # all of it, or none of it
        for name, frame in result.tables.items():
            write_parquet(frame, stage.path(workspace.canonical_table(name)))
        examples = _write_quarantine(result.quarantine, workspace, stage)
        write_parquet(
            result.identities, stage.path(workspace.secrets / "identity_map.parquet"), mode=0o600
        )
        report = IngestReport(result.reconciliation, notices, examples, input_print)
        _write_manifest(report, profile, stage.path(workspace.manifest))
    return report


def _write_manifest(report: IngestReport, profile: CodeProfile, path: Path) -> None:
    write_json(
        {
            "fingerprint": report.fingerprint,
            "code_profile": profile.name,
            "tables": {
                r.table: {
                    "source": r.source,
                    "read": r.read,
                    "accepted": r.accepted,
                    "quarantined": r.quarantined,
                    "duplicates": r.duplicates,
                }
                for r in report.reconciliation
            },
        },
        path,
    )
