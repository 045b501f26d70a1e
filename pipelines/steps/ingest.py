"""Ingest one export folder into the workspace: read, canonicalise, write, reconcile."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from features.canonical import codes
from features.canonical.append import APPENDED_TABLES, AppendReconciliation, append
from features.canonical.codes import CodeProfile
from features.canonical.contract import EVENT_TABLES, MODELS
from features.canonical.pseudonym import pseudonym
from features.canonical.tables import (
    Canonical,
    IdScope,
    IngestOptions,
    RawTable,
    Reconciliation,
    canonicalise,
)
from pipelines.settings import IngestSettings
from pipelines.sources.readers import ExportError, find_tables, read_table
from pipelines.sources.spill import (
    CSV_ROW_BYTES,
    PartMapper,
    Spilled,
    SpilledEvents,
    part_count,
    spill_table,
)
from pipelines.workspace import (
    Staging,
    Workspace,
    WorkspaceError,
    locked,
    private_dir,
    scratch,
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
    reasons: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Per table, the most frequent quarantine reasons (column: reason) with their counts."""
    appended: list[AppendReconciliation] = field(default_factory=list)
    """With ``--append``: how each event table's new rows joined the held ones."""

    def lines(self) -> list[str]:
        """The reconciliation, a line per table, each followed by its top quarantine reasons,
        then (with ``--append``) a line per event table for the workspace's rows."""
        out = []
        for rec in self.reconciliation:
            out.append(rec.line())
            if top := self.reasons.get(rec.table):
                out.append("  most quarantined: " + reason_counts(top))
        if self.appended:
            out.append("appended to the workspace:")
            out.extend("  " + account.line() for account in self.appended)
        return out


class IncompleteExportError(ExportError):
    """The export leaves out a table the workspace holds: it would silently empty it."""


class QuarantineGateError(ExportError):
    """A table lost more than the gate's share of its rows to quarantine."""


TOP_REASONS = 3


def top_reasons(
    quarantine: dict[str, pl.DataFrame], n: int = TOP_REASONS
) -> dict[str, list[tuple[str, int]]]:
    """Per table with quarantined rows, its ``n`` most frequent ``column: reason`` and counts."""
    out = {}
    for name, rows in quarantine.items():
        if rows.height:
            counts = (
                rows.select(pl.format("{}: {}", "column", "reason").alias("why"))
                .group_by("why")
                .len()
                .sort(["len", "why"], descending=[True, False])
                .head(n)
            )
            out[name] = [(why, count) for why, count in counts.iter_rows()]
    return out


def reason_counts(reasons: list[tuple[str, int]]) -> str:
    """``[("date: not a school day", 12)]`` as ``12 x date: not a school day``, joined."""
    return "; ".join(f"{count:,} x {why}" for why, count in reasons)


def missing_tables(workspace: Workspace, present: set[str], dropped: tuple[str, ...]) -> list[str]:
    """Tables the workspace's last ingest held that this export neither has nor drops."""
    held = set(_last_manifest(workspace).get("tables", {}))
    return sorted(held - present - set(dropped))


def check_complete(workspace: Workspace, present: set[str], dropped: tuple[str, ...]) -> None:
    """Refuse an export that leaves out a table the workspace holds, unless it is dropped."""
    unknown = sorted(set(dropped) - set(MODELS))
    if unknown:
        raise IncompleteExportError(
            f"--drop-table {unknown[0]}: no such table (tables: {', '.join(MODELS)})"
        )
    if missing := missing_tables(workspace, present, dropped):
        names = ", ".join(missing)
        raise IncompleteExportError(
            f"the export has no {names} but the workspace holds it from the last ingest: "
            "nothing written. A weekly export must be complete (every table, all of the "
            f"school year so far); add it, or say --drop-table {missing[0]} to empty it on purpose"
        )


def check_quarantine(
    reconciliation: list[Reconciliation],
    reasons: dict[str, list[tuple[str, int]]],
    settings: IngestSettings,
    folder: Path,
    shared_ids: int = 0,
) -> None:
    """Stop when a table lost more than ``max_quarantine_share`` of its rows to quarantine;
    ``shared_ids`` (pupil ids at two schools at once) adds the likely cause to the line."""
    if settings.accept_quarantine:
        return
    gate = settings.max_quarantine_share
    over = [r for r in reconciliation if r.read and r.quarantined / r.read > gate]
    if over:
        r = over[0]
        others = f" (and {len(over) - 1} more table(s))" if len(over) > 1 else ""
        fix = "fix the export (or map its codes and columns), or --accept-quarantine"
        if shared_ids:
            fix = (
                f"{shared_ids:,} pupil id(s) are enrolled at two schools at once: if ids are "
                f"unique per school only, ingest with --ids per-school; else {fix}"
            )
        raise QuarantineGateError(
            f"{r.table}: {r.quarantined / r.read:.1%} of {r.read:,} rows quarantined, over the "
            f"{gate:.0%} gate{others}: {reason_counts(reasons.get(r.table, []))}; nothing written "
            f"but {folder}; {fix}"
        )


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


class IdScopeError(WorkspaceError):
    """The export's pupil ids are keyed otherwise than the workspace's pupils are."""


def id_scope(workspace: Workspace, asked: IdScope | None) -> IdScope:
    """How pupils are keyed: as asked, else as the workspace's last ingest keyed them, else on
    the board. A workspace keyed one way cannot take an export keyed the other: every pupil's
    pseudonym would change (:class:`IdScopeError`)."""
    held: IdScope | None = _last_manifest(workspace).get("ids")
    if held is None and workspace.manifest.exists():
        held = "board"  # recorded before pupils could be keyed per school
    if asked is not None and held is not None and asked != held:
        raise IdScopeError(
            f"--ids {asked}: the workspace {workspace.root} keys pupils with --ids {held}; "
            "changing it would make every pupil a new pupil: ingest into a new workspace"
        )
    return asked or held or "board"


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
    export: Path,
    workspace: Workspace,
    settings: IngestSettings,
    say: Say = print,
    mapper: PartMapper | None = None,
) -> IngestReport:
    """Read ``export``, write canonical Parquet, quarantine and the identity map into ``workspace``.

    The input fingerprint is hashed in the background while the tables are read and checked
    (hashlib lets go of the GIL). A large export's events are checked part by part: in this
    process, or by ``mapper`` (the workers of a cluster, which read and write the parts in the
    workspace's scratch folder; they are given no key and no identity map).
    """
    with locked(workspace, "ingest", say), scratch(workspace) as spill_root:
        return _ingest(export, workspace, settings, say, spill_root, mapper)


def _ingest(
    export: Path,
    workspace: Workspace,
    settings: IngestSettings,
    say: Say,
    spill_root: Path,
    mapper: PartMapper | None,
) -> IngestReport:
    """:func:`run_ingest`; a large export's events, and their canonical rows until written,
    are kept in ``spill_root`` (:mod:`pipelines.sources.spill`)."""
    profile = load_profile(settings.codes)
    files, notices = find_tables(export, profile.names)
    # An incremental export brings the event tables' new rows only, when there are any.
    present = set(files) | (set(APPENDED_TABLES) if settings.append else set())
    check_complete(workspace, present, settings.drop_tables)
    ids = id_scope(workspace, settings.ids)
    key = workspace.key()
    check_key(workspace, key, settings.new_key)
    options = IngestOptions(
        profile=profile,
        key=key,
        allow_unknown_codes=settings.allow_unknown_codes,
        morning_lessons=settings.morning_lessons,
        ids=ids,
        append=settings.append,
        partition_rows=settings.partition_rows,
    )
    count = part_count(files, options.partition_rows)
    with ThreadPoolExecutor(max_workers=1) as pool:
        printed = pool.submit(fingerprint, list(files.values()))
        raw: dict[str, RawTable] = {}
        spilled: dict[str, Spilled] = {}
        for name, path in files.items():
            if count > 1 and name in EVENT_TABLES:  # a large export: its events in parts
                say(f"reading {path.name} into {count} parts by pupil")
                spilled[name] = spill_table(
                    name,
                    path,
                    spill_root,
                    count,
                    profile.names,
                    CSV_ROW_BYTES * settings.partition_rows,
                )
                notices.extend(spilled[name].notices)
                continue
            say(f"reading {path.name}")
            read = read_table(name, path, profile.names)
            raw[name] = read.table
            notices.extend(read.notices)
        say("validating, mapping codes and pseudonymising")
        events = SpilledEvents(spill_root, count, spilled, mapper) if spilled else None
        result: Canonical = canonicalise(raw, options, events, say)
        del raw  # the raw text is not needed any more: freed before writing
        notices.extend(result.notices)
        unbalanced = [r.line() for r in result.reconciliation if not r.balanced]
        if unbalanced:  # nothing is written from an ingest that cannot account for every row
            raise ExportError(f"reconciliation does not balance, nothing written: {unbalanced[0]}")

        input_print = printed.result()  # long done; a failure to hash stops before writing

    reasons = top_reasons(result.quarantine)
    try:
        check_quarantine(
            result.reconciliation, reasons, settings, workspace.quarantine, result.shared_ids
        )
    except QuarantineGateError:
        with staged(workspace) as stage:  # the quarantine, to see why; nothing else
            _write_quarantine(result.quarantine, workspace, stage)
        raise
    tables: dict[str, pl.DataFrame | pl.LazyFrame] = {**result.tables, **result.spilled}
    identities = result.identities
    appended: list[AppendReconciliation] = []
    if settings.append and workspace.canonical_table("absences").exists():
        say("appending the new events to the workspace's")
        new_tables, identities, appended = _appended(workspace, result, "calendar" not in files)
        tables = dict(new_tables)
    say("writing the canonical tables")
    private_dir(workspace.secrets)
    with staged(workspace) as stage:  # all of it, or none of it
        for name, frame in tables.items():
            write_parquet(frame, stage.path(workspace.canonical_table(name)))
        examples = _write_quarantine(result.quarantine, workspace, stage)
        write_parquet(
            identities, stage.path(workspace.secrets / "identity_map.parquet"), mode=0o600
        )
        report = IngestReport(
            result.reconciliation, notices, examples, input_print, reasons, appended
        )
        held = _last_manifest(workspace).get("tables", {}) if appended else {}
        _write_manifest(report, profile, export, ids, held, stage.path(workspace.manifest))
    return report


def _appended(
    workspace: Workspace, result: Canonical, builtin_calendar: bool
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame, list[AppendReconciliation]]:
    """The workspace's tables and identity map with an incremental export's added (see
    :mod:`features.canonical.append`); stops, writing nothing, if a row is unaccounted for."""
    held = {name: pl.read_parquet(workspace.canonical_table(name)) for name in APPENDED_TABLES}
    new = {**result.tables, **{name: lazy.collect() for name, lazy in result.spilled.items()}}
    done = append(held, new, builtin_calendar)
    unbalanced = [a.line() for a in done.reconciliation if not a.balanced]
    if unbalanced:
        raise ExportError(f"appending does not balance, nothing written: {unbalanced[0]}")
    known = pl.read_parquet(workspace.secrets / "identity_map.parquet")
    identities = pl.concat([known, result.identities]).unique("student_id").sort("student_id")
    return done.tables, identities, done.reconciliation


def _last_manifest(workspace: Workspace) -> dict[str, Any]:
    """What the workspace's last ingest recorded (empty before the first)."""
    if not workspace.manifest.exists():
        return {}
    data: dict[str, Any] = json.loads(workspace.manifest.read_text("utf-8"))
    return data


def last_export(workspace: Workspace) -> Path | None:
    """The export folder the workspace's last ingest read, if it recorded one."""
    folder = _last_manifest(workspace).get("export")
    return Path(folder) if folder else None


def _write_manifest(
    report: IngestReport,
    profile: CodeProfile,
    export: Path,
    ids: IdScope,
    held: dict[str, Any],
    path: Path,
) -> None:
    """The manifest: the export, how pupils are keyed, and the tables the workspace holds;
    ``held`` are the last manifest's tables, still held after an incremental export that left
    them out."""
    read = {
        r.table: {
            "source": r.source,
            "read": r.read,
            "accepted": r.accepted,
            "quarantined": r.quarantined,
            "duplicates": r.duplicates,
        }
        for r in report.reconciliation
    }
    write_json(
        {
            "export": str(export.resolve()),
            "ids": ids,
            "fingerprint": report.fingerprint,
            "code_profile": profile.name,
            "append": bool(report.appended),
            "tables": {**held, **read},
            "appended": {a.table: {"held": a.held, "total": a.total} for a in report.appended},
        },
        path,
    )
