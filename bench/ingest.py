"""Ingest throughput against the floor: a bare ``polars.read_csv`` of the same files.

What it measures, in one run and each in its own child process (so each peak RSS is that
step's own, read with ``os.wait4``):

1. the floor: ``polars.read_csv(path, separator=";")`` of every CSV of the export, one after
   the other: rows read and seconds;
2. the ingest: ``pipelines.steps.ingest.run_ingest(export, Workspace(tmp), IngestSettings())``:
   seconds, rows read (the reconciliation's ``read``), peak RSS, and where its time went
   (reading the files, validating/mapping/pseudonymising, writing; the input fingerprint is
   hashed in the background);
3. the bound: the cheapest way found to do four of the steps every ingest must do, and
   nothing else (no validation, duplicates, HMAC, enrolment or calendar check, code mapping):
   read every CSV as text, find each row's pupil among the enrolled ids, sort each table by
   pupil, and write Parquet. Three designs are timed (text columns as read, every column
   dictionary-encoded, or every column typed); the cheapest one is the cheapest way found to
   do these four steps with polars on this machine, not a proof that none is cheaper. The
   same child then times two of the checks it leaves out, each on its own with the ingest's
   code: the pseudonyms of the enrolled ids, and finding the duplicates among the
   absences;
4. an imports-only child: the RSS every child starts from.

The target of the issue is an ingest within 3x of the floor. Seconds are timed inside the
child around the work only (not interpreter start-up); ``--repeat N`` runs each step N
times, alternating, and shows the median seconds and the largest peak.

The board is simulated with ``schoolsim`` into ``/tmp/bench/export-<students>x<years>``
unless it is already there; the ingest writes into a temporary workspace under
``/tmp/bench`` that is removed afterwards.

``--before DIR`` also runs the ingest of another checkout (say a ``git worktree`` of an older
commit) right after each of this one's, each in its own child, prints its median seconds and
peak and this checkout's ratios to them, and compares every file the two wrote.

Run from the repository root::

    .venv/bin/python bench/ingest.py [--students 100000] [--years 3] [--seed 1] [--repeat 1]
    .venv/bin/python bench/ingest.py --students 1000000 --years 1 --before ../schoolpoort-before
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
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
from bench.harness import MARKER, Board, Measured, log  # noqa: E402

SCRIPT = Path(__file__).resolve()
KEY_ENV = "SCHOOLPOORT_PSEUDONYM_KEY"
"""``pipelines.workspace.KEY_ENV``, written out: a child measuring another checkout's code
(``--before``) must not have imported this one's ``pipelines`` first."""


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


class _Laps:
    """Seconds since the previous lap, by name."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._mark = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.spent[name] = now - self._mark
        self._mark = now


BOUND_DESIGNS = ("text", "codes", "typed")


def _typed(column: str, dtype: Any) -> Any:
    """``column`` as ``dtype`` (a polars type), row by row; what does not parse is null."""
    import polars as pl

    if dtype == pl.String:
        return pl.col(column)
    if dtype == pl.Date:
        return pl.col(column).str.to_date("%Y-%m-%d", strict=False)
    if dtype == pl.Boolean:
        return pl.col(column).str.to_lowercase().is_in(("true", "1", "yes", "ja"))
    return pl.col(column).cast(dtype, strict=False)


def _bound_tables(design: str, frames: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each table as ``design`` writes it, and for a table with pupils, the pupil of each row
    (a position among the enrolled ids) to sort by."""
    import polars as pl

    from features.canonical import contract

    ids = frames["enrolments"]["student_id"].unique().sort()
    position = pl.col("student_id").cast(pl.Enum(ids), strict=False).to_physical()
    tables: dict[str, Any] = {}
    pupils: dict[str, Any] = {}
    for name, frame in frames.items():
        keyed = "student_id" in frame.columns
        if design == "text":  # the text as read
            tables[name] = frame
            if keyed:
                pupils[name] = frame.select(position).to_series()
        elif design == "codes":  # every column dictionary-encoded, the raw texts kept
            categories = {c: pl.Categories.random() for c in frame.columns}
            tables[name] = frame.select(
                pl.col(c).cast(pl.Categorical(categories[c])) for c in frame.columns
            )
            if keyed:  # each distinct id looked up once
                texts = categories["student_id"].to_series()
                known = texts.cast(pl.Enum(ids), strict=False).to_physical()
                pupils[name] = known.gather(tables[name]["student_id"].to_physical())
        else:  # typed as the contract says (per row, no checks), the pupil as a position
            declared = contract.columns(name)
            types = {c: declared[c].dtype.type for c in frame.columns if c in declared}
            tables[name] = frame.select(
                position.alias(c) if c == "student_id" else _typed(c, types.get(c, pl.String))
                for c in frame.columns
            )
            if keyed:
                pupils[name] = tables[name]["student_id"]
    return tables, pupils


def step_bound(root: str, export: str, out: str, first: int = 0) -> dict[str, Any]:
    """Read as text, find each row's pupil, sort by pupil, write Parquet: three designs, timed.

    ``text``: the text columns are gathered into pupil order and written as they are.
    ``codes``: every column is dictionary-encoded first (raw texts kept), so that sorting and
    writing move small integers.
    ``typed``: every column cast to its contract type (dates, whole numbers; no checks), the
    pupil kept as a position, as an ingest writes typed columns.
    The designs run one after the other, starting with ``BOUND_DESIGNS[first]``.
    """
    import polars as pl

    files = sorted(Path(export).glob("*.csv"))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    parts: dict[str, dict[str, float]] = {}
    for design in BOUND_DESIGNS[first:] + BOUND_DESIGNS[:first]:
        watch = _Laps()
        frames = {p.stem: pl.read_csv(p, separator=";", infer_schema=False) for p in files}
        watch.lap("read")
        tables, pupils = _bound_tables(design, frames)
        watch.lap("lookup")
        tables |= {name: tables[name][pupil.arg_sort()] for name, pupil in pupils.items()}
        watch.lap("sort")
        for name, frame in tables.items():
            frame.write_parquet(folder / f"{design}-{name}.parquet", compression="zstd")
        watch.lap("write")
        parts[design] = {**watch.spent, "seconds": sum(watch.spent.values())}
        del frames, tables, pupils
    shutil.rmtree(folder, ignore_errors=True)
    best = min(parts, key=lambda d: parts[d]["seconds"])
    return {
        "seconds": parts[best]["seconds"],
        "design": best,
        "designs": parts,
        "checks": _two_checks(files),
    }


def _two_checks(files: list[Path]) -> dict[str, float]:
    """Two of the checks the bound leaves out, timed on their own with the ingest's own code:
    the pseudonyms of the enrolled ids (HMAC, one core), and finding the duplicates among the
    absences (compared by their values once parsed, so they are parsed first, outside the timing).
    """
    import polars as pl

    from features.canonical import contract
    from features.canonical.pseudonym import pseudonym_map
    from features.canonical.validate import ROW, first_of_duplicates, parse_table

    by_name = {p.stem: p for p in files}
    ids = pl.read_csv(by_name["enrolments"], separator=";", infer_schema=False)["student_id"]
    raw = pl.read_csv(by_name["absences"], separator=";", infer_schema=False)
    raw = raw.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    absences = parse_table(raw, "absences").rows
    values = [c for c in contract.columns("absences") if c in absences.columns]
    start = time.perf_counter()
    pseudonym_map(bytes(32), ids)
    hmac_s = time.perf_counter() - start
    start = time.perf_counter()
    first_of_duplicates(absences, values)
    duplicates_s = time.perf_counter() - start
    return {"ids": float(ids.n_unique()), "pseudonyms_s": hmac_s, "duplicates_s": duplicates_s}


STEPS = {**harness.SHARED_STEPS, "floor": step_floor, "bound": step_bound}


def _differing(one: Path, other: Path) -> set[str]:
    """The files (paths within the workspace) that ``one`` and ``other`` do not both hold with
    the same bytes; the benchmark's own marker and the lock aside."""

    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*")
            if p.is_file() and p.name not in (MARKER, ".lock")
        }

    mine, theirs = digests(one), digests(other)
    return {name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.board_arguments(parser, students=100_000, years=3)
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also run the ingest of another checkout (a git worktree of an older commit) in "
        "turn with this one's, and compare what the two write, file by file",
    )
    args = parser.parse_args(argv)
    if args.before and not (Path(args.before) / "pipelines" / "steps" / "ingest.py").is_file():
        parser.error(f"--before {args.before}: not a checkout of this project")
    if args.before:  # one pseudonym key for both, or every keyed file would differ
        os.environ.setdefault(KEY_ENV, hashlib.sha256(b"bench/ingest.py").hexdigest())
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    board = Board(args.students, args.years, args.seed, args.last_year, args.schools)
    export = harness.ensure_export(SCRIPT, board, root)

    imports = harness.run_child(
        SCRIPT, "imports", {"root": str(root), "modules": ["polars", "pipelines.steps.ingest"]}
    )
    floors: list[Measured] = []
    ingests: list[Measured] = []
    bounds: list[Measured] = []
    befores: list[Measured] = []
    differ: set[str] = set()
    for i in range(args.repeat):
        order = ("floor", "bound", "ingest") if i % 2 == 0 else ("ingest", "bound", "floor")
        for step in order:
            log(f"run {i + 1}/{args.repeat}: {step}")
            if step == "floor":
                floors.append(
                    harness.run_child(SCRIPT, "floor", {"root": str(root), "export": str(export)})
                )
            elif step == "bound":
                with tempfile.TemporaryDirectory(prefix="bound-", dir=root) as tmp:
                    params = {
                        "root": str(root),
                        "export": str(export),
                        "out": tmp,
                        "first": i % len(BOUND_DESIGNS),  # no design always first
                    }
                    bounds.append(harness.run_child(SCRIPT, "bound", params))
            else:
                with tempfile.TemporaryDirectory(prefix="ingest-ws-", dir=root) as tmp:
                    params = {
                        "root": str(root),
                        "export": str(export),
                        "workspace": str(Path(tmp) / "ws"),
                        "keep": bool(args.before),
                    }
                    ingests.append(harness.run_child(SCRIPT, "ingest", params))
                    if args.before:
                        log(f"run {i + 1}/{args.repeat}: ingest of {args.before}")
                        before = {
                            **params,
                            "workspace": str(Path(tmp) / "before"),
                            "code": str(Path(args.before).resolve()),
                        }
                        befores.append(harness.run_child(SCRIPT, "ingest", before))
                        differ.update(_differing(Path(tmp) / "ws", Path(tmp) / "before"))

    floor_s = harness.median_of(floors, "seconds")
    ingest_s = harness.median_of(ingests, "seconds")
    bound_s = harness.median_of(bounds, "seconds")
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
                row(
                    "bound: read, pupil, sort, write", floor_rows, bound_s, harness.peak_of(bounds)
                ),
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
    if befores:
        before_s = harness.median_of(befores, "seconds")
        before_peak = harness.peak_of(befores)
        print(
            f"\nbefore ({args.before}): {before_s:.2f} s, peak {before_peak:,.0f} MiB; this "
            f"checkout against it: {ingest_s / before_s:.2f}x the seconds (medians), "
            f"{harness.peak_of(ingests) / before_peak:.2f}x the peak; what they wrote: "
            + (f"differs in {', '.join(sorted(differ))}" if differ else "byte-identical")
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

    print(
        f"ratio bound/floor: {bound_s / floor_s:.1f}x; ratio ingest/bound: {ingest_s / bound_s:.1f}x"
    )
    print("\nthe bound's designs (median seconds, x floor):")
    print(
        harness.table(
            ["design", "read", "lookup", "sort", "write", "total", "x floor"],
            [
                [
                    design,
                    *(
                        f"{statistics.median(b.result['designs'][design][p] for b in bounds):.2f}"
                        for p in ("read", "lookup", "sort", "write", "seconds")
                    ),
                    f"{statistics.median(b.result['designs'][design]['seconds'] for b in bounds) / floor_s:.1f}",
                ]
                for design in BOUND_DESIGNS
            ],
        )
    )

    print(
        f"two checks the bound leaves out, on their own: pseudonyms for "
        f"{bounds[0].result['checks']['ids']:,.0f} ids "
        f"{statistics.median(b.result['checks']['pseudonyms_s'] for b in bounds):.2f} s; "
        f"duplicates among the absences "
        f"{statistics.median(b.result['checks']['duplicates_s'] for b in bounds):.2f} s"
    )

    parts = ["read_s", "canonicalise_s", "write_s"]
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
