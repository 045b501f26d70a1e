"""The workspace folder: where every file the pipeline writes lives, and how it is written."""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from features.canonical.pseudonym import KEY_BYTES

KEY_ENV = "SCHOOLPOORT_PSEUDONYM_KEY"
"""Environment variable that may carry the pseudonymisation key (hex), instead of the key file."""


@dataclass(frozen=True)
class Workspace:
    """Paths under one workspace root."""

    root: Path

    @property
    def canonical(self) -> Path:
        return self.root / "canonical"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def manifest(self) -> Path:
        return self.canonical / "manifest.json"

    @property
    def lists(self) -> Path:
        """What the care teams' lists remember: who was on them, and the teams' feedback
        (pseudonymised; never read by the features)."""
        return self.root / "lists"

    def listed(self, as_of: dt.date) -> Path:
        """The pupils on the lists of ``as_of`` (:data:`models.carelist.LISTED_SCHEMA`)."""
        return self.lists / f"listed-{as_of.isoformat()}.parquet"

    @property
    def feedback(self) -> Path:
        """The care teams' marks (:data:`models.carelist.FEEDBACK_SCHEMA`)."""
        return self.lists / "feedback.parquet"

    def drift_reference(self, version: str) -> Path:
        """The feature distributions champion ``version`` was trained on (:mod:`models.drift`)."""
        return self.root / "monitoring" / f"reference-v{version}.json"

    def canonical_table(self, name: str) -> Path:
        return self.canonical / f"{name}.parquet"

    def key(self) -> bytes:
        """The pseudonymisation key: from the environment, else the key file (made on first use)."""
        if value := os.environ.get(KEY_ENV):
            try:
                key = bytes.fromhex(value)
            except ValueError as exc:
                raise ValueError(f"{KEY_ENV} must be hex ({KEY_BYTES * 2} characters)") from exc
            if len(key) < 16:
                raise ValueError(f"{KEY_ENV} is too short (at least 32 hex characters)")
            return key
        path = self.secrets / "pseudonym.key"
        if not path.exists():
            private_dir(self.secrets)
            write_atomic(path, lambda p: p.write_text(secrets.token_hex(KEY_BYTES)), mode=0o600)
        return bytes.fromhex(path.read_text().strip())


def private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_atomic(path: Path, write: Callable[[Path], Any], mode: int | None = None) -> Path:
    """Write through a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if mode is not None:
            tmp.chmod(mode)
        try:
            write(tmp)
        except Exception as exc:
            if _disk_full(exc):  # polars and pyarrow wrap the OSError in their own errors
                raise OSError(errno.ENOSPC, "No space left on device", str(path)) from exc
            raise
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "os error 28" in text


ROW_GROUP_ROWS = 512**2
"""Rows per Parquet row group, fixed: left to polars, the row groups follow how the frame
happens to be chunked in memory, so the same table built two ways (whole, or from shards)
would be written in different bytes."""


def write_parquet(frame: pl.DataFrame | pl.LazyFrame, path: Path, mode: int | None = None) -> Path:
    """Atomic, deterministic Parquet: the same table gives the same bytes, however it was
    built (no statistics that vary, row groups of :data:`ROW_GROUP_ROWS`), in memory or a
    scan written as it is read (``sink_parquet``: the same bytes, a test checks it)."""

    def write(target: Path) -> None:
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(target, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        else:
            frame.write_parquet(target, compression="zstd", row_group_size=ROW_GROUP_ROWS)

    return write_atomic(path, write, mode=mode)


def write_csv(frame: pl.DataFrame, path: Path, separator: str = ";") -> Path:
    """Atomic CSV, UTF-8, ISO dates; text that a spreadsheet would run as a formula is made
    inert (see :func:`neutralise_formulas`)."""
    safe = neutralise_formulas(frame)
    return write_atomic(
        path, lambda p: safe.write_csv(p, separator=separator, date_format="%Y-%m-%d")
    )


def write_json(data: Any, path: Path) -> Path:
    """Atomic, stable JSON (sorted keys)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


# --- One run at a time, and every run all or nothing ------------------------------------------
#
# A writing command holds the workspace's lock for its whole run. What it writes goes to a
# staging folder first (``.staging/<run>/new/...``, mirroring the workspace); when everything is
# written, a journal listing the moves is written atomically (the commit point) and the moves
# are made. A run killed before the journal leaves only its staging folder, which the next run
# removes; one killed during the moves is rolled forward by the next run, before it reads
# anything. So a command sees the workspace as it was before a run or as that run left it.

LOCK_FILE = ".lock"
STAGING = ".staging"
JOURNAL = "journal.json"


class WorkspaceError(ValueError):
    """A problem with the workspace folder itself, said in one line."""


class WorkspaceBusyError(WorkspaceError):
    """Another run holds the workspace's lock."""


class DiskFullError(WorkspaceError):
    """The workspace's disk filled up during a run; nothing of the run was kept."""


_held: dict[Path, list[int]] = {}
_held_guard = threading.Lock()


def _folder(root: Path) -> Path:
    """The workspace folder, made when missing; a file in its place is a one-line error."""
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"workspace {root} is a file, not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise WorkspaceError(f"workspace {root}: a parent of it is a file, not a folder") from exc
    return root.resolve()


def _holder(fd: int) -> str:
    """What the lock file says about the run holding it (written by that run, no data)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
        return f"{info.get('command', '?')}, process {info.get('pid', '?')}, since {info.get('since', '?')}"
    except (OSError, ValueError):
        return "unknown run"


@contextmanager
def locked(
    workspace: Workspace, command: str, say: Callable[[str], None] | None = None
) -> Iterator[Path]:
    """Hold the workspace for one run: a second run stops with one line instead of interleaving.

    Re-entrant within a process (a flow's tasks and the commands it calls share the lock).
    On first entry, a run interrupted earlier is finished or undone (see :func:`recover`), and
    everything written gets owner-only permissions. A full disk becomes :class:`DiskFullError`.
    """
    root = _folder(workspace.root)
    with _held_guard:
        held = _held.get(root)
        if held is not None:
            held[1] += 1
    if held is not None:
        try:
            yield root
        finally:
            with _held_guard:
                held[1] -= 1
        return
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise WorkspaceBusyError(
            f"workspace {root} is in use by another run ({holder}); try again when it has finished"
        ) from None
    info = {"command": command, "pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
    old_mask = os.umask(0o077)  # minors' health data: nothing written is readable by others
    with _held_guard:
        _held[root] = [fd, 1]
    try:
        for line in recover(root):
            if say is not None:
                say(line)
        yield root
    except Exception as exc:
        if _disk_full(exc):
            raise DiskFullError(
                f"no space left on the workspace's disk ({root}): the run was stopped and "
                "the workspace is as it was before it"
            ) from exc
        raise
    finally:
        with _held_guard:
            del _held[root]
        os.umask(old_mask)
        os.close(fd)  # releases the lock


class Staging:
    """The files of one run, written aside and moved into the workspace as a whole.

    ``path(final)`` gives where to write what will become ``final`` (a file, or a whole folder
    that replaces the old one); ``delete(final)`` removes a file at commit. Paths must lie in
    the workspace.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        private_dir(root / STAGING)
        self.folder = Path(tempfile.mkdtemp(prefix="run-", dir=root / STAGING))
        self.ops: list[dict[str, str]] = []

    def _relative(self, final: Path) -> str:
        try:  # a relative path is relative to the current folder, like the workspace's own
            relative = final.resolve().relative_to(self.root)
        except ValueError:
            relative = Path()
        if not relative.parts or relative.parts[0] in (STAGING, LOCK_FILE):
            raise ValueError(f"{final} is not a place in the workspace to write to")
        return relative.as_posix()

    def path(self, final: Path) -> Path:
        relative = self._relative(final)
        self.ops.append({"op": "replace", "path": relative})
        staged = self.folder / "new" / relative
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def delete(self, final: Path) -> None:
        self.ops.append({"op": "delete", "path": self._relative(final)})

    def commit(self) -> None:
        write_json({"ops": self.ops}, self.folder / JOURNAL)  # the commit point
        _apply(self.root, self.folder, self.ops)
        (self.folder / JOURNAL).unlink()
        shutil.rmtree(self.folder, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def staged(workspace: Workspace) -> Iterator[Staging]:
    """Write a run aside and commit it on success; on any failure, keep nothing of it.

    Must be used inside :func:`locked`.
    """
    root = workspace.root.resolve()
    if root not in _held:
        raise RuntimeError("staged() needs the workspace lock: use it inside locked()")
    stage = Staging(root)
    try:
        yield stage
    except BaseException:
        stage.abort()
        raise
    stage.commit()


@contextmanager
def scratch(workspace: Workspace) -> Iterator[Path]:
    """A folder in the workspace for a run's intermediate files, which every worker that can
    reach the workspace can reach too; removed afterwards, and by :func:`recover` after a
    crash (it lies with the staged runs and has no journal)."""
    root = workspace.root.resolve()
    private_dir(root / STAGING)
    folder = Path(tempfile.mkdtemp(prefix="shards-", dir=root / STAGING))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _apply(root: Path, folder: Path, ops: list[dict[str, str]]) -> None:
    """Make the journal's moves; safe to repeat after a crash part-way (each step checks)."""
    for op in ops:
        final = root / op["path"]
        if op["op"] == "delete":
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            else:
                final.unlink(missing_ok=True)
            continue
        new = folder / "new" / op["path"]
        if not (new.exists() or new.is_symlink()):
            continue  # moved already
        if final.is_dir() and not final.is_symlink():
            old = folder / "old" / op["path"]  # a folder cannot be renamed over a full one
            old.parent.mkdir(parents=True, exist_ok=True)
            final.rename(old)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, final)


def recover(root: Path) -> list[str]:
    """Finish the runs that reached their commit point; remove what the others left.

    Called under the lock. Returns one line per run recovered, for the log.
    """
    staging = root / STAGING
    said: list[str] = []
    if not staging.is_dir():
        return said
    for folder in sorted(staging.iterdir()):
        journal = folder / JOURNAL
        if journal.is_file():
            ops = json.loads(journal.read_text("utf-8"))["ops"]
            _apply(root, folder, ops)
            said.append(f"finished an interrupted run ({len(ops)} files)")
        shutil.rmtree(folder, ignore_errors=True)
    return said


# --- Names from data -------------------------------------------------------------------------

_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def school_folder(school_id: str) -> str:
    """A folder name for a school's lists that no school id can turn into another path.

    A plain id (letters, digits, ``_`` and ``-``, at most 64) is its own folder, so lists stay
    where a care team expects them; anything else (``..``, ``a/b``, spaces, dots, accents) becomes
    its plain letters plus a hash of the whole id, so two ids never share a folder.
    """
    if _PLAIN_NAME.fullmatch(school_id):
        return school_id
    plain = re.sub(r"[^A-Za-z0-9_-]+", "_", school_id).strip("_-")[:40] or "school"
    digest = hashlib.sha256(school_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{plain}-{digest}"


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, refused unless it resolves to a direct child of ``folder``."""
    path = folder / name
    if path.resolve().parent != folder.resolve():
        raise WorkspaceError(f"refusing to write outside {folder}: a name from the data is unsafe")
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"^[+-]?[0-9]+([.,][0-9]+)?$"


def _texts(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if dtype == pl.String]


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells a spreadsheet would run as a formula, made inert with a leading ``'`` (OWASP).

    Only text columns change, and only cells that start with ``= + - @``, a tab or a carriage
    return and are not a plain number (``-3`` stays ``-3``). A cell that starts with ``'``
    gets one more, so :func:`restore_formulas` gives back exactly what was written.
    """

    def inert(name: str) -> pl.Expr:
        col = pl.col(name)
        risky = pl.any_horizontal([col.str.starts_with(c) for c in _FORMULA_START])
        quoted = col.str.starts_with("'")
        needs = (risky & ~col.str.contains(_PLAIN_NUMBER)) | quoted
        return pl.when(needs).then(pl.lit("'") + col).otherwise(col).alias(name)

    return frame.with_columns(inert(name) for name in _texts(frame))


def restore_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """The text :func:`neutralise_formulas` was given, from what it wrote."""
    return frame.with_columns(
        pl.col(name).str.strip_prefix("'").alias(name) for name in _texts(frame)
    )
