"""The workspace: one run at a time, every run all or nothing, a full disk or a file said in
one line, and nothing readable by other users."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.settings import IngestSettings
from pipelines.steps.ingest import run_ingest
from pipelines.workspace import (
    JOURNAL,
    KEY_ENV,
    ROW_GROUP_ROWS,
    STAGING,
    DiskFullError,
    Workspace,
    _apply,
    locked,
    recover,
    staged,
    write_parquet,
)
from tests.conftest import TINY, write_export

runner = CliRunner()
SCHOOLPOORT = str(Path(sys.executable).parent / "schoolpoort")


def state(root: Path) -> dict[str, str]:
    """Every file a command reads (not the lock, nor a staging folder), with its digest."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock" and STAGING not in p.relative_to(root).parts
    }


def quiet(_: str) -> None:
    return None


ACCEPT = IngestSettings(accept_quarantine=True)
"""The second export's quarantined row is 1 of 8 absences, over the 5% gate: accepted here."""


@pytest.fixture
def two_exports(tmp_path: Path) -> tuple[Path, Path]:
    """Two exports of the same pupils: the second has more absences and a quarantined row."""
    first = write_export(tmp_path / "a", TINY)
    more = TINY["absences.csv"] + "L2;2024-09-10;AM;Z;\nL3;2024-09-11;AM;B;\nL1;not-a-date;AM;Z;\n"
    second = write_export(tmp_path / "b", {**TINY, "absences.csv": more})
    return first, second


def _two_states(two_exports: tuple[Path, Path], tmp_path: Path) -> tuple[dict, dict]:
    states = []
    for i, export in enumerate(two_exports):
        ws = Workspace(tmp_path / f"ref{i}")
        run_ingest(export, ws, ACCEPT, say=quiet)
        states.append(state(ws.root))
    return states[0], states[1]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(KEY_ENV, "ab" * 32)  # the same pseudonyms in every workspace
    yield


def test_an_ingest_interrupted_at_any_point_leaves_the_old_state_or_the_new(
    two_exports: tuple[Path, Path], tmp_path: Path, keyed: None
) -> None:
    old, new = _two_states(two_exports, tmp_path)
    assert old != new and "quarantine/absences.csv" in new
    ws = Workspace(tmp_path / "ws")
    run_ingest(two_exports[0], ws, ACCEPT, say=quiet)
    assert state(ws.root) == old

    # Write the second ingest aside, stopping at its commit point: crash after k moves.
    stage_folder = None

    class Crash(BaseException):
        pass

    def commit_partly(k: int) -> None:
        nonlocal stage_folder
        import pipelines.workspace as workspace_module

        original = workspace_module.Staging.commit

        def partial(self: workspace_module.Staging) -> None:
            nonlocal stage_folder
            workspace_module.write_json({"ops": self.ops}, self.folder / JOURNAL)
            _apply(self.root, self.folder, self.ops[:k])
            stage_folder = self.folder
            raise Crash

        workspace_module.Staging.commit = partial  # type: ignore[method-assign]
        try:
            with pytest.raises(Crash):
                run_ingest(two_exports[1], ws, ACCEPT, say=quiet)
        finally:
            workspace_module.Staging.commit = original  # type: ignore[method-assign]

    for k in range(0, 12):
        shutil.rmtree(ws.root)
        run_ingest(two_exports[0], ws, ACCEPT, say=quiet)
        commit_partly(k)
        assert stage_folder is not None and (stage_folder / JOURNAL).exists()
        said = recover(ws.root.resolve())  # what the next command does first
        assert said and state(ws.root) == new, k
        assert not list((ws.root / STAGING).iterdir())


def test_a_run_stopped_before_its_commit_point_leaves_the_old_state(
    two_exports: tuple[Path, Path], tmp_path: Path, keyed: None
) -> None:
    ws = Workspace(tmp_path / "ws")
    run_ingest(two_exports[0], ws, ACCEPT, say=quiet)
    before = state(ws.root)
    with pytest.raises(KeyboardInterrupt), locked(ws, "test"), staged(ws) as stage:
        stage.path(ws.canonical_table("absences")).write_bytes(b"half a table")
        raise KeyboardInterrupt
    assert state(ws.root) == before
    assert not list((ws.root / STAGING).iterdir())


def test_a_folder_swap_interrupted_between_its_two_renames_is_finished(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    (ws.root / "outputs" / "D").mkdir(parents=True)
    (ws.root / "outputs" / "D" / "old.csv").write_text("old")
    with locked(ws, "test"):
        stage = staged(ws).__enter__()  # the run writes, then is killed mid-commit
        folder = stage.path(ws.root / "outputs" / "D")
        folder.mkdir()
        (folder / "new.csv").write_text("new")
        from pipelines.workspace import write_json

        write_json({"ops": stage.ops}, stage.folder / JOURNAL)
        (ws.root / "outputs" / "D").rename(stage.folder / "old-copy")  # first rename done
    with locked(ws, "next run"):
        pass
    assert sorted(p.name for p in (ws.root / "outputs" / "D").iterdir()) == ["new.csv"]


def test_kill_minus_9_during_ingest_leaves_a_whole_state(
    two_exports: tuple[Path, Path], tmp_path: Path, keyed: None
) -> None:
    """A real ``kill -9`` at several moments of a second ingest (a real process, no hooks)."""
    old, new = _two_states(two_exports, tmp_path)
    ws = Workspace(tmp_path / "ws")
    seen = set()
    for delay in (0.5, 1.5, 2.5, 3.0, 3.5, 4.0, 5.0):
        shutil.rmtree(ws.root, ignore_errors=True)
        run_ingest(two_exports[0], ws, ACCEPT, say=quiet)
        proc = subprocess.Popen(
            [
                SCHOOLPOORT,
                "ingest",
                str(two_exports[1]),
                "--workspace",
                str(ws.root),
                "--accept-quarantine",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with locked(ws, "next run"):  # recovers first, as every command does
            now = state(ws.root)
        assert now in (old, new), delay
        seen.add("new" if now == new else "old")
    assert seen  # at least one run; which state each kill left depends on the machine's speed


def test_a_second_run_on_the_same_workspace_stops_with_one_line(
    tiny_export: Path, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path / "ws")
    with locked(ws, "ingest"):
        result = subprocess.run(
            [SCHOOLPOORT, "ingest", str(tiny_export), "--workspace", str(ws.root)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "is in use by another run (ingest, process" in line
    assert not (ws.root / "canonical").exists()


def test_a_workspace_that_is_a_file_is_one_line(tiny_export: Path, tmp_path: Path) -> None:
    path = tmp_path / "ws"
    path.write_text("I am a file")
    for args in (
        ["ingest", str(tiny_export)],
        ["features"],
        ["train"],
        ["score", "--as-of", "2024-09-09"],
    ):
        result = runner.invoke(app, [*args, "--workspace", str(path)])
        assert result.exit_code == 2, (args, result.output)
        assert f"workspace {path} is a file, not a folder" in result.stderr
    assert path.read_text() == "I am a file"


def test_another_key_is_refused_unless_asked_for(
    tiny_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    monkeypatch.setenv(KEY_ENV, "ab" * 32)
    assert runner.invoke(app, ["ingest", str(tiny_export), "-w", str(ws)]).exit_code == 0
    before = state(ws)
    monkeypatch.setenv(KEY_ENV, "cd" * 32)
    result = runner.invoke(app, ["ingest", str(tiny_export), "-w", str(ws)])
    assert result.exit_code == 2
    assert "the pseudonym key differs from the one the workspace" in result.stderr
    assert "cd" * 32 not in result.output and "ab" * 32 not in result.output
    assert state(ws) == before
    again = runner.invoke(app, ["ingest", str(tiny_export), "-w", str(ws), "--new-key"])
    assert again.exit_code == 0, again.output
    assert state(ws) != before


def test_nothing_written_is_readable_by_other_users(tiny_export: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["ingest", str(tiny_export), "-w", str(ws)]).exit_code == 0
    assert runner.invoke(app, ["features", "-w", str(ws)]).exit_code == 0
    modes = {p.relative_to(ws).as_posix(): p.stat().st_mode & 0o777 for p in ws.rglob("*")}
    assert modes and {m for m in modes.values()} <= {0o600, 0o700}, modes


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


def test_a_full_disk_stops_with_one_line_and_keeps_the_old_state(
    two_exports: tuple[Path, Path], tmp_path: Path, keyed: None
) -> None:
    disk = tmp_path / "disk"
    if os.geteuid() != 0 or not _tmpfs(disk, "4m"):
        pytest.skip("needs root to mount a small tmpfs as a full disk")
    try:
        ws = disk / "ws"
        assert (
            runner.invoke(
                app, ["ingest", str(two_exports[0]), "-w", str(ws), "--accept-quarantine"]
            ).exit_code
            == 0
        )
        before = state(ws)
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # fill the disk, then give back a few kilobytes: less than the next ingest needs
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - 12 * 1024))
        finally:
            os.close(fd)
        result = runner.invoke(
            app, ["ingest", str(two_exports[1]), "-w", str(ws), "--accept-quarantine"]
        )
        assert result.exit_code == 2, result.output
        [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
        assert f"no space left on the workspace's disk ({ws.resolve()})" in line
        assert state(ws) == before
        assert not list((ws / STAGING).iterdir())
        with pytest.raises(DiskFullError):
            run_ingest(two_exports[1], Workspace(ws), ACCEPT, say=quiet)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_workspace_given_as_a_relative_path_is_written_where_it_says(
    tiny_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["ingest", str(tiny_export), "--workspace", "ws"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "ws").iterdir()) == [
        ".lock",
        ".staging",
        "canonical",
        "secrets",
    ]
    assert (tmp_path / "ws" / "canonical" / "absences.parquet").is_file()
    with (
        pytest.raises(ValueError, match="not a place in the workspace"),
        locked(Workspace(Path("ws")), "test"),
        staged(Workspace(Path("ws"))) as stage,
    ):
        stage.path(tmp_path / "elsewhere.csv")


def test_a_table_written_from_a_scan_of_its_chunks_has_the_bytes_of_the_whole(
    tmp_path: Path,
) -> None:
    """A large ingest writes an event table as a scan of its sorted chunks (sink_parquet):
    the file must be the one the table written whole gives, row groups and all."""
    rows = 3 * ROW_GROUP_ROWS // 2
    i = pl.int_range(rows, dtype=pl.Int64)
    frame = pl.select(
        student_key=pl.format("k{}", i % 977),
        date=pl.when(i % 13 > 0).then(pl.date(2024, 9, 2) + pl.duration(days=i % 200)),
        minutes=(i % 50).cast(pl.Int32),
    )
    chunks = []
    for number, start in enumerate(range(0, rows, 100_003)):
        chunks.append(tmp_path / f"{number}.arrow")
        frame.slice(start, 100_003).write_ipc(chunks[-1])
    whole = write_parquet(frame, tmp_path / "whole.parquet")
    scanned = write_parquet(pl.scan_ipc(chunks), tmp_path / "scanned.parquet")
    assert whole.read_bytes() == scanned.read_bytes()
