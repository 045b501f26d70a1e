"""The weekly run end to end on one machine, against the floor: one polars group-by.

A school board's Monday: ``schoolpoort ingest`` of the week's export into the workspace,
``schoolpoort features`` for the new week only (one as-of date), and ``schoolpoort score
--as-of D``, which writes ``scores.csv`` and every school's care-team list. Each command
runs in its own child process (the command line's own code, called in that process, with
its temporary Prefect server), so that its peak RSS (``os.wait4``) is its own; the floor
runs in the same run, in its own child: the absences, late arrivals and sick-bay visits of
the export's CSV files, scanned and counted per pupil and week in one ``group_by``.

The board (``--students``, ``--years``, default 1,000,000 pupils and one school year,
2024-25): a weekly export holds the current school year, and a board sends it whole each
week (a cumulative export), so the export at the end of the year (to 30 June) is the
largest a weekly run reads. The as-of date (``--as-of``, default 2025-06-02) is a late week
of that year: its features see almost the whole year.

The champion: ``score`` needs a registered model. A board with a year of events and no care
history would get the cold-start rule, which costs a weekly run far less than a learned
model (no SHAP); so that the run costs what a board's real weekly run costs, a model is
trained on a small board of three years (``--champion-students``, default 10,000) once, cached
under ``/tmp/bench/champion-<tag>``, and its MLflow store (``mlflow.db``, ``mlartifacts/``)
and drift reference (``monitoring/``) are copied into the weekly workspace before the run,
as a board's workspace holds the champion of its last training. The features are the same
catalog whatever the board, so the model applies; its probabilities are those of the small
board's pupils, which does not change what the run costs.

The export is simulated into ``/tmp/bench/export-<students>x<years>`` once and reused; the
weekly workspace (``/tmp/bench/weekly-<tag>``) is made anew on every run.

Run from the repository root (the 1 M board peaks near 8 GB: run nothing else large beside it)::

    .venv/bin/python bench/weekly.py [--students 1000000] [--years 1] [--as-of 2025-06-02]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# The project's packages come from the repository root, never from this folder.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]

from bench import harness  # noqa: E402
from bench.harness import MARKER, Board, Measured, log  # noqa: E402

SCRIPT = Path(__file__).resolve()
EVENT_TABLES = ("absences", "late_arrivals", "sick_bay_visits")
"""What of a trained workspace makes its champion: the registry, the model file, the drift
reference."""

ENVIRONMENT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MPLBACKEND": "Agg",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


# --- steps (run in children) ----------------------------------------------------------------


def step_floor(root: str, export: str) -> dict[str, Any]:
    """The floor: the export's event CSVs scanned and counted per pupil and week, one group-by."""
    import polars as pl

    start = time.perf_counter()
    events = pl.concat(
        [
            pl.scan_csv(Path(export) / f"{name}.csv", separator=";", infer_schema=False).select(
                "student_id", "date"
            )
            for name in EVENT_TABLES
        ]
    )
    counts = (
        events.group_by("student_id", pl.col("date").str.to_date().dt.truncate("1w"))
        .len()
        .collect()
    )
    seconds = time.perf_counter() - start
    rows = (
        pl.concat(
            [
                pl.scan_csv(Path(export) / f"{name}.csv", separator=";", infer_schema=False)
                .select(pl.len())
                .collect()
                for name in EVENT_TABLES
            ]
        )
        .sum()
        .item()
    )
    return {"seconds": seconds, "events": rows, "groups": counts.height, "polars": pl.__version__}


def step_command(root: str, args: list[str]) -> dict[str, Any]:
    """One ``schoolpoort`` command, run by the command line's own code in this process."""
    from pipelines.cli import app

    start = time.perf_counter()
    code = app(args=args, standalone_mode=False)
    seconds = time.perf_counter() - start
    if code:
        raise SystemExit(f"schoolpoort {args[0]} exited with {code}")
    return {"seconds": seconds}


def step_train(root: str, export: str, workspace: str) -> dict[str, Any]:
    """Ingest the champion's small board and train on it (once; the workspace is cached)."""
    ws = Path(workspace)
    shutil.rmtree(ws, ignore_errors=True)
    ingested = step_command(root, ["ingest", export, "-w", workspace])
    trained = step_command(root, ["train", "-w", workspace])
    (ws / MARKER).write_text("trained\n", encoding="utf-8")
    return {"ingest_s": ingested["seconds"], "train_s": trained["seconds"]}


STEPS: dict[str, harness.Step] = {
    **harness.SHARED_STEPS,
    "floor": step_floor,
    "command": step_command,
    "train": step_train,
}


# --- the parent ---------------------------------------------------------------------------


def ensure_champion(board: Board, root: Path) -> Path:
    """A workspace trained on ``board`` (simulated, ingested and trained once, then cached)."""
    ws = root / f"champion-{board.tag}"
    if (ws / MARKER).exists():
        log(f"reusing champion {ws}")
        return ws
    export = harness.ensure_export(SCRIPT, board, root)
    log(f"training the champion on {board.tag} into {ws}")
    run = harness.run_child(
        SCRIPT, "train", {"root": str(root), "export": str(export), "workspace": str(ws)}
    )
    log(
        f"champion trained (ingest {run.result['ingest_s']:.0f} s, train {run.result['train_s']:.0f} s)"
    )
    return ws


def with_champion(champion: Path, workspace: Path) -> None:
    """A fresh workspace holding ``champion``'s registry, model file and drift reference."""
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    harness.copy_champion(champion, workspace)


def gib(mib: float) -> str:
    return f"{mib / 1024:.2f}"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.board_arguments(parser, students=1_000_000, years=1)
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=dt.date(2025, 6, 2),
        help="the week scored (its first school day)",
    )
    parser.add_argument(
        "--champion-students", type=int, default=10_000, help="pupils of the board trained on"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    os.environ.update(ENVIRONMENT)
    os.environ.setdefault("PREFECT_HOME", str(root / "prefect-home"))
    board = Board(args.students, args.years, args.seed, args.last_year, args.schools)
    champion_board = Board(args.champion_students, 3, args.seed, args.last_year, args.schools)
    champion = ensure_champion(champion_board, root)
    export = harness.ensure_export(SCRIPT, board, root)
    workspace = root / f"weekly-{board.tag}"
    as_of = args.as_of.isoformat()
    ws = str(workspace)

    with_champion(champion, workspace)
    log(f"floor: group-by of the events of {export}")
    floor = harness.run_child(SCRIPT, "floor", {"root": str(root), "export": str(export)})
    commands = {
        "ingest": ["ingest", str(export), "-w", ws],
        "features": ["features", "-w", ws, "--from", as_of, "--to", as_of],
        "score": ["score", "-w", ws, "--as-of", as_of],
    }
    steps: dict[str, Measured] = {}
    for name, command in commands.items():
        log(f"{name}: schoolpoort {' '.join(command)}")
        steps[name] = harness.run_child(SCRIPT, "command", {"root": str(root), "args": command})
        log(f"{name}: {steps[name].wall:.1f} s, peak {gib(steps[name].peak_mib)} GiB")

    size = sum(p.stat().st_size for p in export.glob("*.csv")) / 2**20
    total = sum(m.wall for m in steps.values())
    floor_s = floor.result["seconds"]
    print(
        f"\nweekly run: {board.tag} board (export {export}, {size:,.0f} MiB of CSV), as of {as_of}"
    )
    print(f"champion trained on {champion_board.tag} ({champion})")
    print(f"{harness.machine()}, polars {floor.result['polars']}\n")
    rows = [
        [
            f"{name}: schoolpoort {name}",
            f"{m.wall:.1f}",
            f"{m.result['seconds']:.1f}",
            gib(m.peak_mib),
            f"{m.wall / floor_s:.0f}",
        ]
        for name, m in steps.items()
    ]
    rows.append(
        [
            "weekly run (sum; peak: largest)",
            f"{total:.1f}",
            f"{sum(m.result['seconds'] for m in steps.values()):.1f}",
            gib(max(m.peak_mib for m in steps.values())),
            f"{total / floor_s:.0f}",
        ]
    )
    rows.append(
        [
            f"floor: group-by pupil x week ({floor.result['events']:,} events)",
            f"{floor.wall:.1f}",
            f"{floor_s:.1f}",
            gib(floor.peak_mib),
            "1",
        ]
    )
    print(
        harness.table(
            ["step", "wall s", "in-process s", "peak GiB", "x floor"],
            rows,
        )
    )
    print(
        f"\nratio weekly run / floor: {total / floor_s:.0f}x (wall seconds of the three "
        f"commands, Python and Prefect start-up included, over the floor's in-process "
        f"{floor_s:.2f} s)"
    )
    print(f"board: {asdict(board)}")


if __name__ == "__main__":
    if "--child" in sys.argv:
        harness.child_main(STEPS, sys.argv[1:])
    else:
        main(sys.argv[1:])
