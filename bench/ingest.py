"""Ingest throughput against the floor: a bare ``polars.read_csv`` of the same files.

What it measures, in one run and each in its own child process (so each peak RSS is that
step's own, read with ``os.wait4``):

1. the floor: ``polars.read_csv(path, separator=";")`` of every CSV of the export, one after
   the other: rows read and seconds;
2. the ingest: ``pipelines.ingest.run_ingest(export, Workspace(tmp), IngestSettings())``:
   seconds, rows read (the reconciliation's ``read``), peak RSS, and where its time went
   (reading the files, validating/mapping/pseudonymising, writing, the input fingerprint);
3. an imports-only child: the RSS every child starts from.

The target of the issue is an ingest within 3x of the floor. Seconds are timed inside the
child around the work only (not interpreter start-up); ``--repeat N`` runs each step N
times, alternating, and shows the median seconds and the largest peak.

The board is simulated with ``schoolsim`` into ``/tmp/bench/export-<students>x<years>``
unless it is already there; the ingest writes into a temporary workspace under
``/tmp/bench`` that is removed afterwards.

Run from the repository root::

    .venv/bin/python bench/ingest.py [--students 100000] [--years 3] [--seed 1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# The project's packages come from the repository root, never from this folder.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]

from bench import harness  # noqa: E402
from bench.harness import Board, Measured, log  # noqa: E402

SCRIPT = Path(__file__).resolve()


def step_floor(root: str, export: str) -> dict[str, Any]:
    """The floor: a bare ``polars.read_csv`` of every CSV of the export."""
    import polars as pl

    files = sorted(Path(export).glob("*.csv"))
    rows: dict[str, int] = {}
    start = time.perf_counter()
    for path in files:
        rows[path.name] = pl.read_csv(path, separator=";").height
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": sum(rows.values()), "files": rows, "polars": pl.__version__}


STEPS = {**harness.SHARED_STEPS, "floor": step_floor}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.board_arguments(parser, students=100_000, years=3)
    args = parser.parse_args(argv)
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    board = Board(args.students, args.years, args.seed, args.last_year, args.schools)
    export = harness.ensure_export(SCRIPT, board, root)

    imports = harness.run_child(
        SCRIPT, "imports", {"root": str(root), "modules": ["polars", "pipelines.ingest"]}
    )
    floors: list[Measured] = []
    ingests: list[Measured] = []
    for i in range(args.repeat):
        order = ("floor", "ingest") if i % 2 == 0 else ("ingest", "floor")
        for step in order:
            log(f"run {i + 1}/{args.repeat}: {step}")
            if step == "floor":
                floors.append(
                    harness.run_child(SCRIPT, "floor", {"root": str(root), "export": str(export)})
                )
            else:
                with tempfile.TemporaryDirectory(prefix="ingest-ws-", dir=root) as tmp:
                    params = {
                        "root": str(root),
                        "export": str(export),
                        "workspace": str(Path(tmp) / "ws"),
                        "keep": False,
                    }
                    ingests.append(harness.run_child(SCRIPT, "ingest", params))

    floor_s = harness.median_of(floors, "seconds")
    ingest_s = harness.median_of(ingests, "seconds")
    floor_rows = int(floors[0].result["rows"])
    ingest_rows = int(ingests[0].result["rows"])

    def row(name: str, rows: int, seconds: float, peak: float) -> list[str]:
        return [name, f"{rows:,}", f"{seconds:.2f}", f"{rows / seconds:,.0f}", f"{peak:,.0f}"]

    size = sum(p.stat().st_size for p in export.glob("*.csv")) / 2**20
    print(f"\ningest benchmark: {board.tag} board, export {export} ({size:,.0f} MiB of CSV)")
    print(f"{harness.machine()}, polars {floors[0].result['polars']}, repeat {args.repeat}\n")
    print(
        harness.table(
            ["step", "rows read", "seconds", "rows/second", "peak RSS (MiB)"],
            [
                row("floor: pl.read_csv", floor_rows, floor_s, harness.peak_of(floors)),
                row("ingest: run_ingest", ingest_rows, ingest_s, harness.peak_of(ingests)),
                [
                    "imports only",
                    "",
                    f"{imports.result['seconds']:.2f}",
                    "",
                    f"{imports.peak_mib:,.0f}",
                ],
            ],
        )
    )
    ratio = ingest_s / floor_s
    verdict = "meets" if ratio <= 3 else "misses"
    print(f"\nratio ingest/floor: {ratio:.1f}x ({verdict} the target of 3x)")
    if args.repeat > 1:
        print(
            "ratio per repeat: "
            + ", ".join(
                f"{i.result['seconds'] / f.result['seconds']:.1f}x"
                for f, i in zip(floors, ingests, strict=True)
            )
        )

    parts = ["read_s", "canonicalise_s", "write_s", "fingerprint_s"]
    print("\nwhere the ingest's time goes (median seconds, share of the ingest):")
    print(
        harness.table(
            ["part", "seconds", "share", "x floor"],
            [
                [
                    p.removesuffix("_s"),
                    f"{harness.median_of(ingests, p):.2f}",
                    f"{harness.median_of(ingests, p) / ingest_s:.0%}",
                    f"{harness.median_of(ingests, p) / floor_s:.1f}",
                ]
                for p in parts
            ],
        )
    )
    print("\nreading, per file (ingest's reader, first run):")
    print(
        harness.table(
            ["file", "rows", "seconds"],
            [
                [name, f"{floors[0].result['files'].get(name, 0):,}", f"{s:.2f}"]
                for name, s in ingests[0].result["per_file_s"].items()
            ],
        )
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        harness.child_main(STEPS, sys.argv[1:])
    else:
        main(sys.argv[1:])
