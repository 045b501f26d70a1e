"""Plumbing shared by the benchmarks: boards on disk, one child process per measured step.

Every measured step runs in its own child process (the benchmark script started again with
``--child STEP``), so that its peak resident memory is its own: the parent waits for it with
:func:`os.wait4` and reads ``ru_maxrss`` from that child's resource usage. The parent imports
nothing heavy (no polars, no project code): on Linux a child's ``ru_maxrss`` starts from the
RSS of the process it was forked from, so a big parent would inflate every figure.

Generated data lives under ``/tmp/bench`` (``--root``), never in the repository: simulated
exports (``export-<students>x<years>``) and ingested workspaces (``ws-<students>x<years>``)
are kept between runs and reused when their ``.complete`` marker is there.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path("/tmp/bench")
MARKER = ".complete"
"""Written last into a finished export or workspace (readers ignore dot-files)."""

Step = Callable[..., dict[str, Any]]


def log(message: str) -> None:
    """Progress on stderr, so that stdout carries only the tables."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Board:
    """A simulated board: what :class:`schoolsim.SimulationSettings` is given."""

    students: int
    years: int
    seed: int = 1
    last_year: int = 2024
    schools: int = 4

    @property
    def tag(self) -> str:
        extra = "" if self.seed == 1 else f"-seed{self.seed}"
        extra += "" if self.last_year == 2024 else f"-last{self.last_year}"
        extra += "" if self.schools == 4 else f"-{self.schools}schools"
        return f"{self.students}x{self.years}{extra}"

    def export_dir(self, root: Path) -> Path:
        return root / f"export-{self.tag}"

    def workspace_dir(self, root: Path) -> Path:
        return root / f"ws-{self.tag}"


def board_arguments(
    parser: argparse.ArgumentParser, students: int | None, years: int | None
) -> None:
    """The board flags every benchmark shares (``None``: the case decides)."""
    parser.add_argument("--students", type=int, default=students, help="pupils on the board")
    parser.add_argument("--years", type=int, default=years, help="school years simulated")
    parser.add_argument("--seed", type=int, default=1, help="simulation seed")
    parser.add_argument(
        "--last-year", type=int, default=2024, help="first calendar year of the last school year"
    )
    parser.add_argument("--schools", type=int, default=4, help="schools on the board")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each step; the median is shown"
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="where generated data goes")


@dataclass(frozen=True)
class Measured:
    """One child's report (``result``) with the wall time and peak RSS the parent saw."""

    result: dict[str, Any]
    wall: float
    peak_mib: float


def run_child(script: Path, step: str, params: dict[str, Any]) -> Measured:
    """Run ``script --child step`` with ``params``; its result, wall time and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="child-", dir=params.get("root", ROOT)) as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(script), "--child", step, "--params", json.dumps(params)]
        cmd += ["--result", str(out)]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"child step {step!r} failed with exit code {proc.returncode}")
        result = json.loads(out.read_text("utf-8"))
    return Measured(result=result, wall=wall, peak_mib=usage.ru_maxrss / 1024)  # KiB on Linux


def child_main(steps: dict[str, Step], argv: Sequence[str]) -> None:
    """In the child: run one step and write its result as JSON where the parent said."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", required=True, choices=sorted(steps))
    parser.add_argument("--params", required=True)
    parser.add_argument("--result", required=True, type=Path)
    args = parser.parse_args(argv)
    result = steps[args.child](**json.loads(args.params))
    args.result.write_text(json.dumps(result, default=str), encoding="utf-8")


def vm_hwm_mib() -> float:
    """This process's peak RSS so far (VmHWM), for a peak part-way through a child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median_of(runs: list[Measured], key: str) -> float:
    return statistics.median(float(r.result[key]) for r in runs)


def peak_of(runs: list[Measured]) -> float:
    """The largest peak RSS over the repeats (memory is not averaged away)."""
    return max(r.peak_mib for r in runs)


# --- steps shared by the benchmarks (run in children) ---------------------------------------


def step_simulate(
    root: str, students: int, years: int, seed: int, last_year: int, schools: int
) -> dict[str, Any]:
    """Simulate the board and write its export (CSV, ';')."""
    from schoolsim import SimulationSettings, simulate, write_export

    board = Board(students, years, seed, last_year, schools)
    out = board.export_dir(Path(root))
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    sim = simulate(SimulationSettings(students, schools, years, last_year, seed))
    simulated = time.perf_counter() - start
    write_export(sim, out)
    seconds = time.perf_counter() - start
    rows = {name: frame.height for name, frame in sim.tables.items()}
    info = {"board": asdict(board), "rows": rows, "simulate_s": simulated, "total_s": seconds}
    (out / MARKER).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def step_ingest(
    root: str, export: str, workspace: str, keep: bool, code: str = ""
) -> dict[str, Any]:
    """``run_ingest`` into ``workspace``, timing its read, canonicalise and write parts.

    The parts are read off the ingest's own progress lines: reading up to "validating",
    canonicalising up to "writing", writing to the end (the input fingerprint is hashed in
    the background meanwhile). With ``code``, the project is imported from that checkout.
    """
    if code:
        if "pipelines" in sys.modules:  # then its code, not ``code``'s, would be measured
            raise RuntimeError(f"pipelines already imported from {sys.modules['pipelines']}")
        sys.path.insert(0, code)
    import pipelines.steps.ingest as ingest_module
    from pipelines.settings import IngestSettings
    from pipelines.workspace import Workspace

    marks: list[tuple[float, str]] = []
    ws = Path(workspace)
    shutil.rmtree(ws, ignore_errors=True)
    start = time.perf_counter()
    report = ingest_module.run_ingest(
        Path(export),
        Workspace(ws),
        IngestSettings(),
        say=lambda m: marks.append((time.perf_counter(), m)),
    )
    end = time.perf_counter()
    seconds = end - start
    validate_at = next(t for t, m in marks if m.startswith("validating"))
    write_at = next(t for t, m in marks if m.startswith("writing"))
    per_file = {}
    for (t0, m), (t1, _) in itertools.pairwise(marks):
        if m.startswith("reading "):
            # "reading absences.csv" or, for a large export, "... into 21 parts by pupil"
            per_file[m.removeprefix("reading ").split(" into ")[0]] = t1 - t0
    tables = {
        r.table: {"read": r.read, "accepted": r.accepted, "quarantined": r.quarantined}
        for r in report.reconciliation
    }
    result = {
        "seconds": seconds,
        "rows": sum(r.read for r in report.reconciliation),
        "read_s": validate_at - start,
        "canonicalise_s": write_at - validate_at,
        "write_s": end - write_at,
        "per_file_s": per_file,
        "tables": tables,
    }
    if keep:
        (ws / MARKER).write_text(json.dumps(result, indent=2), encoding="utf-8")
    else:
        shutil.rmtree(ws, ignore_errors=True)
    return result


def step_imports(root: str, modules: list[str]) -> dict[str, Any]:
    """Only import ``modules``: the RSS every child starts from."""
    import importlib

    start = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return {"seconds": time.perf_counter() - start}


SHARED_STEPS: dict[str, Step] = {
    "simulate": step_simulate,
    "ingest": step_ingest,
    "imports": step_imports,
}


# --- parent-side helpers --------------------------------------------------------------------


def ensure_export(script: Path, board: Board, root: Path) -> Path:
    """The board's export under ``root``, simulated (in a child) unless already there."""
    out = board.export_dir(root)
    if (out / MARKER).exists():
        log(f"reusing export {out}")
        return out
    log(f"simulating {board.students:,} pupils x {board.years} years into {out}")
    run = run_child(script, "simulate", {"root": str(root), **asdict(board)})
    log(
        f"simulated in {run.result['total_s']:.1f} s (peak {run.peak_mib:,.0f} MiB): "
        + ", ".join(f"{k} {v:,}" for k, v in run.result["rows"].items())
    )
    return out


def ensure_workspace(script: Path, board: Board, root: Path) -> Path:
    """The board's ingested workspace under ``root`` (ingested once, in a child, then cached)."""
    ws = board.workspace_dir(root)
    if (ws / MARKER).exists():
        log(f"reusing workspace {ws}")
        return ws
    export = ensure_export(script, board, root)
    log(f"ingesting {export} into {ws}")
    params = {"root": str(root), "export": str(export), "workspace": str(ws), "keep": True}
    run = run_child(script, "ingest", params)
    log(
        f"ingested {run.result['rows']:,} rows in {run.result['seconds']:.1f} s (peak {run.peak_mib:,.0f} MiB)"
    )
    return ws


CHAMPION_FILES = ("mlflow.db", "mlartifacts", "monitoring")
"""What a trained workspace's champion is: its registry, model file and drift reference."""


def copy_champion(champion: Path, workspace: Path) -> None:
    """Copy ``champion``'s registry, model file and drift reference into ``workspace``."""
    for name in CHAMPION_FILES:
        source = champion / name
        if source.is_dir():
            shutil.copytree(source, workspace / name)
        elif source.exists():
            shutil.copy2(source, workspace / name)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def machine() -> str:
    """One line about where the figures were measured."""
    import platform

    return (
        f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
