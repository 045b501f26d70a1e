"""Feature building against the floor: one polars group-by count over the same events.

The floor, measured in the same run as each case: the canonical ``absences``,
``late_arrivals`` and ``sick_bay_visits`` Parquet files of the workspace, scanned and
counted per pupil in one ``group_by("student_key").len()``.

Cases (``--case``), each step in its own child process so that its peak RSS (``os.wait4``)
is its own:

``snapshot``
    One as-of snapshot for a large board with one school year of events (default 1,000,000
    pupils, 2024-25): ``load_prepared(ws)`` (prepare), then
    ``feature_table(prepared, as_of).collect()`` (snapshot) for the first as-of date on or
    after ``--as-of`` (default 2025-06-01). Target: under 60 s and under 8 GB peak.
``weekly``
    The weekly training table: 100,000 pupils over 3 school years,
    ``build_features(fresh_ws, prepared.as_of_dates(), prepared)`` into a fresh features
    folder (about 110 as-of dates). Target: under 5 minutes. Reports total seconds, seconds
    per as-of date, the split into fingerprint / compute / write, and peak RSS.
``profile``
    Where the time goes: the pieces of ``load_prepared`` (school days, the pupil-day
    aggregations, the running counts, the days of each kind of spell) and of
    ``feature_table`` (cohort, school windows, the pupil frame, the running-count look-ups,
    spells, the pupil stage with its window counts, the context stage), each collected on its own, for a few as-of dates spread over the years
    (``--dates``, default 3) or the one on or after ``--as-of``. Not a target:
    materialising every piece needs more memory than the real thing.

The board is simulated with ``schoolsim`` into ``/tmp/bench/export-<students>x<years>`` and
ingested once into ``/tmp/bench/ws-<students>x<years>``; both are reused by later runs.
Seconds are timed inside the child around the work only; ``--repeat N`` shows medians.

Run from the repository root::

    .venv/bin/python bench/features.py --case snapshot [--students 1000000] [--as-of 2025-06-01]
    .venv/bin/python bench/features.py --case weekly [--students 100000] [--years 3]
    .venv/bin/python bench/features.py --case profile [--dates 3]
    .venv/bin/python bench/features.py --case profile --students 1000000 --years 1 --as-of 2025-06-01
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# This file is called features.py: without this it would shadow the project's ``features``.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]

from bench import harness  # noqa: E402
from bench.harness import Board, Measured, log  # noqa: E402

SCRIPT = Path(__file__).resolve()
EVENT_TABLES = ("absences", "late_arrivals", "sick_bay_visits")
CASES = {
    "snapshot": (1_000_000, 1),
    "weekly": (100_000, 3),
    "profile": (100_000, 3),
}


# --- steps (run in children) ----------------------------------------------------------------


def step_floor(root: str, workspace: str) -> dict[str, Any]:
    """One group-by count per pupil over the three event tables, read from their Parquet files."""
    import polars as pl

    from pipelines.workspace import Workspace

    ws = Workspace(Path(workspace))
    start = time.perf_counter()
    events = pl.concat(
        [pl.scan_parquet(ws.canonical_table(t)).select("student_key") for t in EVENT_TABLES]
    )
    counts = events.group_by("student_key").len().collect()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "events": int(counts["len"].sum()),
        "pupils": counts.height,
        "polars": pl.__version__,
    }


def step_snapshot(root: str, workspace: str, as_of: str) -> dict[str, Any]:
    """``load_prepared`` then one ``feature_table(...).collect()`` at the first date >= as_of."""
    from features.build import feature_table
    from pipelines.steps.features import load_prepared
    from pipelines.workspace import Workspace

    start = time.perf_counter()
    prepared = load_prepared(Workspace(Path(workspace)))
    prepare_s = time.perf_counter() - start
    prepare_peak = harness.vm_hwm_mib()
    wanted = dt.date.fromisoformat(as_of)
    date = prepared.as_of_dates(wanted, wanted + dt.timedelta(days=31))[0]
    t0 = time.perf_counter()
    table = feature_table(prepared, date).collect()
    snapshot_s = time.perf_counter() - t0
    return {
        "seconds": prepare_s + snapshot_s,
        "prepare_s": prepare_s,
        "snapshot_s": snapshot_s,
        "prepare_peak_mib": prepare_peak,
        "as_of": date.isoformat(),
        "rows": table.height,
        "columns": table.width,
        "pupil_days": prepared.pupil_days.height,
        "enrolments": prepared.enrolments.height,
    }


def step_weekly(root: str, workspace: str, out: str, limit: int) -> dict[str, Any]:
    """``build_features`` of every as-of date into a fresh features folder, timing its parts."""
    import pipelines.steps.features as features_module
    from pipelines.workspace import Workspace

    spent = {"fingerprint": 0.0, "write": 0.0}
    written_at: list[float] = []

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                now = time.perf_counter()
                spent[name] += now - t0
                if name == "write":
                    written_at.append(now)

        return wrapper

    start = time.perf_counter()
    prepared = features_module.load_prepared(Workspace(Path(workspace)))
    prepare_s = time.perf_counter() - start
    dates = prepared.as_of_dates()
    if limit:
        dates = dates[:: max(1, len(dates) // limit)][:limit]
    # Instrumentation only: the same functions, with a stopwatch around them.
    features_module.fingerprint = timed("fingerprint", features_module.fingerprint)  # type: ignore[assignment]
    features_module.write_parquet = timed("write", features_module.write_parquet)  # type: ignore[assignment]
    target = Workspace(Path(out))
    t0 = time.perf_counter()
    paths = features_module.build_features(target, dates, prepared, say=lambda _: None)
    build_s = time.perf_counter() - t0
    per_date = [b - a for a, b in zip([t0, *written_at], written_at, strict=False)]
    return {
        "seconds": prepare_s + build_s,
        "prepare_s": prepare_s,
        "build_s": build_s,
        "dates": len(dates),
        "first": dates[0].isoformat(),
        "last": dates[-1].isoformat(),
        "fingerprint_s": spent["fingerprint"],
        "write_s": spent["write"],
        "compute_s": build_s - spent["fingerprint"] - spent["write"],
        "per_date_s": per_date,
        "files": len(paths),
        "bytes": sum(p.stat().st_size for p in paths),
        "pupil_days": prepared.pupil_days.height,
    }


def step_profile(root: str, workspace: str, limit: int, as_of: str | None) -> dict[str, Any]:
    """The pieces of ``load_prepared`` and of ``feature_table`` (for ``limit`` as-of dates, or
    the first one on or after ``as_of``), each collected on its own."""
    import polars as pl

    from features import build
    from features.pupil_days import absence_days, late_days, pupil_days, sick_bay_days
    from features.running import running_counts
    from features.school.schooldays import school_days
    from features.signals import spells
    from features.windows import running_lookups
    from pipelines.steps.features import load_prepared
    from pipelines.workspace import Workspace

    ws = Workspace(Path(workspace))
    t0 = time.perf_counter()
    prepared = load_prepared(ws)
    prepare_s = time.perf_counter() - t0
    if as_of:
        wanted = dt.date.fromisoformat(as_of)
        dates = prepared.as_of_dates(wanted, wanted + dt.timedelta(days=31))[:1]
    else:
        all_dates = prepared.as_of_dates()
        step = max(1, len(all_dates) // limit)
        dates = all_dates[step - 1 :: step][:limit]  # spread over the years

    scan = {
        name: pl.scan_parquet(ws.canonical_table(name))
        for name in ("enrolments", "absences", "late_arrivals", "sick_bay_visits", "calendar")
    }
    times: dict[str, float] = {"load_prepared (whole)": prepare_s}

    def clock(name: str, make: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        value = make()
        times[name] = time.perf_counter() - t
        return value

    schools = scan["enrolments"].select("school_id").unique()
    days = clock("school_days", lambda: school_days(scan["calendar"], schools).collect())
    clock("absence_days", lambda: absence_days(scan["absences"]).collect())
    clock("late_days", lambda: late_days(scan["late_arrivals"]).collect())
    clock("sick_bay_days", lambda: sick_bay_days(scan["sick_bay_visits"]).collect())
    clock(
        "pupil_days (whole)",
        lambda: pupil_days(
            scan["absences"], scan["late_arrivals"], scan["sick_bay_visits"], days.lazy()
        ).collect(),
    )
    clock("enrolments collect", lambda: scan["enrolments"].collect())
    numbered = clock(
        "pupil numbers onto the pupil-days",
        lambda: (
            prepared.pupil_days.lazy()
            .join(prepared.pupils.lazy(), on="student_key", how="inner")
            .with_columns(build.patterns.day_counts())
            .collect()
        ),
    )
    columns = list(dict.fromkeys(c for c, _, _ in running_lookups(build._pupil_features())))
    clock(
        f"running_counts ({len(columns)} columns)",
        lambda: running_counts(numbered.lazy(), columns).collect(),
    )
    for kind, frame in spells.spell_days(numbered.lazy()).items():
        clock(f"  spell_days: {kind}", lambda frame=frame: frame.collect())

    rows = [_profile_date(prepared, date) for date in dates]
    return {
        "seconds": sum(r["times"]["feature_table (whole)"] for r in rows),
        "prepare_s": prepare_s,
        "prepare_times": times,
        "pupil_days": prepared.pupil_days.height,
        "running_rows": prepared.counts.height,
        "dates": rows,
    }


def _profile_date(prepared: Any, as_of: dt.date) -> dict[str, Any]:
    """The pieces of ``feature_table`` at ``as_of``, each collected on its own, timed."""
    import polars as pl

    from features import build
    from features.catalog import CATALOG
    from features.running import look_up
    from features.signals import spells
    from features.windows import running_lookups
    from pipelines.steps.features import fingerprint

    times: dict[str, float] = {}

    def clock(name: str, make: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        value = make()
        times[name] = time.perf_counter() - t
        return value

    days = prepared.days.lazy()
    whole = clock("feature_table (whole)", lambda: build.feature_table(prepared, as_of).collect())
    clock("fingerprint (build_features)", lambda: fingerprint(prepared, as_of))
    pupils = clock(
        "cohort + pupil numbers",
        lambda: (
            build.cohort(prepared.enrolments.lazy(), as_of)
            .join(prepared.pupils.lazy(), on="student_key", how="inner")
            .sort("pupil")
            .collect()
        ),
    )
    per_school = clock("school_windows", lambda: build.school_windows(days, as_of).collect())
    enrol_cum = clock(
        "enrol cum table", lambda: build._cum_at(days, "enrolled_since", "enrol__")[0].collect()
    )
    earliest = prepared.days["date"].min()
    frame = clock(
        "pupil frame + denominators",
        lambda: (
            pupils.lazy()
            .join(per_school.lazy(), on="school_id", how="left", maintain_order="left")
            .join(
                enrol_cum.lazy(),
                on=["school_id", "enrolled_since"],
                how="left",
                maintain_order="left",
            )
            .with_columns(build._denominators())
            .with_columns(start_history=pl.coalesce("start_prev", pl.lit(earliest)))
            .collect()
        ),
    )
    pupil_exprs = build._pupil_features()
    lookups = running_lookups(pupil_exprs)
    seen = (pl.col("start_history"), pl.lit(as_of))
    looked_up = clock(
        f"look_up ({len(lookups)} running counts)",
        lambda: look_up(frame.lazy(), prepared.counts, lookups, seen).collect(),
    )
    spell_pupils = frame.lazy().select("pupil", "start_ytd", "start_12w", "last_school_index")
    first_ytd = per_school["start_ytd"].min()
    spell_counts = clock(
        "spells.spell_aggregates",
        lambda: spells.spell_aggregates(
            prepared.spell_days, spell_pupils, first_ytd, as_of
        ).collect(),
    )
    for kind, kind_days in prepared.spell_days.items():
        clock(
            f"  spells: {kind} ({kind_days.height:,} days)",
            lambda kind=kind, kind_days=kind_days: spells.spell_aggregates(
                {kind: kind_days}, spell_pupils, first_ytd, as_of
            ).collect(),
        )
    spell_cols = list(spell_counts.columns[1:])
    pupil_features = [f.name for f in CATALOG if f.stage == "pupil"]
    pupil_stage = clock(
        "pupil stage (join, fills, catalog: window counts and features, sort)",
        lambda: (
            looked_up.lazy()
            .join(spell_counts.lazy(), on="pupil", how="left")
            .with_columns(pl.col(spell_cols).fill_null(0))
            .with_columns(pupil_exprs)
            .select("pupil", *build.KEY_COLUMNS, *build.META_COLUMNS, *pupil_features)
            .sort("school_id", "pupil")
            .collect(engine="in-memory")
            .rechunk()
        ),
    )
    clock(
        "context stage + final select",
        lambda: (
            pupil_stage.with_columns([f.expression() for f in CATALOG if f.stage == "context"])
            .lazy()
            .select(
                *build.KEY_COLUMNS,
                *build.META_COLUMNS,
                *[pl.col(f.name).cast(pl.Float64) for f in CATALOG],
            )
            .collect()
        ),
    )
    return {"as_of": as_of.isoformat(), "pupils": whole.height, "times": times}


STEPS = {
    **harness.SHARED_STEPS,
    "floor": step_floor,
    "snapshot": step_snapshot,
    "weekly": step_weekly,
    "profile": step_profile,
}


# --- the parent -----------------------------------------------------------------------------


def _alternate(
    repeat: int, floor: Callable[[], Measured], case: Callable[[], Measured]
) -> tuple[list[Measured], list[Measured]]:
    floors: list[Measured] = []
    cases: list[Measured] = []
    for i in range(repeat):
        order = (("floor", floor, floors), ("case", case, cases))
        for name, run, into in order if i % 2 == 0 else order[::-1]:
            log(f"run {i + 1}/{repeat}: {name}")
            into.append(run())
    return floors, cases


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def _floor_row(floors: list[Measured], floor_s: float) -> list[str]:
    first = floors[0].result
    return [
        f"floor: group-by count ({first['events']:,} events, {first['pupils']:,} pupils)",
        f"{floor_s:.2f}",
        "1.0",
        f"{harness.peak_of(floors):,.0f}",
    ]


def report_snapshot(
    board: Board, ws: Path, floors: list[Measured], runs: list[Measured], imports: Measured
) -> None:
    floor_s = harness.median_of(floors, "seconds")
    prep = harness.median_of(runs, "prepare_s")
    snap = harness.median_of(runs, "snapshot_s")
    total = harness.median_of(runs, "seconds")
    peak = harness.peak_of(runs)
    first = runs[0].result
    print(f"\nfeatures benchmark, case snapshot: {board.tag} board, workspace {ws}")
    print(
        f"as of {first['as_of']}: {first['rows']:,} pupils x {first['columns']} columns; "
        f"{first['pupil_days']:,} pupil-days, {first['enrolments']:,} enrolments"
    )
    print(f"{harness.machine()}, polars {floors[0].result['polars']}, repeat {len(runs)}\n")
    prep_peak = max(float(r.result["prepare_peak_mib"]) for r in runs)
    print(
        harness.table(
            ["step", "seconds", "x floor", "peak RSS (MiB)"],
            [
                _floor_row(floors, floor_s),
                [
                    "prepare: load_prepared(ws)",
                    f"{prep:.2f}",
                    f"{prep / floor_s:.1f}",
                    f"{prep_peak:,.0f} (VmHWM after it)",
                ],
                [
                    "snapshot: feature_table(prepared, as_of).collect()",
                    f"{snap:.2f}",
                    f"{snap / floor_s:.1f}",
                    "",
                ],
                [
                    "prepare + snapshot (one child)",
                    f"{total:.2f}",
                    f"{total / floor_s:.1f}",
                    f"{peak:,.0f}",
                ],
                [
                    "imports only",
                    f"{imports.result['seconds']:.2f}",
                    "",
                    f"{imports.peak_mib:,.0f}",
                ],
            ],
        )
    )
    gb = peak * 2**20 / 1e9
    print(
        f"\ntarget under 60 s: {total:.1f} s, {_verdict(total < 60)}; "
        f"under 8 GB peak: {gb:.2f} GB, {_verdict(gb < 8)}"
    )
    print(
        f"ratios to the floor: prepare {prep / floor_s:.1f}x, snapshot {snap / floor_s:.1f}x, "
        f"together {total / floor_s:.1f}x"
    )


def report_weekly(
    board: Board, ws: Path, floors: list[Measured], runs: list[Measured], imports: Measured
) -> None:
    floor_s = harness.median_of(floors, "seconds")
    prep = harness.median_of(runs, "prepare_s")
    build_s = harness.median_of(runs, "build_s")
    total = harness.median_of(runs, "seconds")
    first = runs[0].result
    n = int(first["dates"])
    per = build_s / n
    per_date = [float(s) for s in first["per_date_s"]]
    print(f"\nfeatures benchmark, case weekly: {board.tag} board, workspace {ws}")
    print(
        f"{n} as-of dates, {first['first']} to {first['last']}; {first['pupil_days']:,} "
        f"pupil-days; {first['bytes'] / 2**20:,.0f} MiB of feature Parquet written"
    )
    print(f"{harness.machine()}, polars {floors[0].result['polars']}, repeat {len(runs)}\n")
    print(
        harness.table(
            ["step", "seconds", "x floor", "peak RSS (MiB)"],
            [
                _floor_row(floors, floor_s),
                ["prepare: load_prepared(ws)", f"{prep:.2f}", f"{prep / floor_s:.1f}", ""],
                [f"build_features, {n} dates", f"{build_s:.2f}", f"{build_s / floor_s:.1f}", ""],
                ["  per as-of date (mean)", f"{per:.3f}", f"{per / floor_s:.1f}", ""],
                [
                    "prepare + build (one child)",
                    f"{total:.2f}",
                    f"{total / floor_s:.1f}",
                    f"{harness.peak_of(runs):,.0f}",
                ],
                [
                    "imports only",
                    f"{imports.result['seconds']:.2f}",
                    "",
                    f"{imports.peak_mib:,.0f}",
                ],
            ],
        )
    )
    print(
        f"\ntarget under 5 minutes: build {build_s:.1f} s, prepare + build {total:.1f} s, "
        f"{_verdict(total < 300)}"
    )
    print(
        f"ratios to the floor: build_features {build_s / floor_s:.1f}x, one as-of date "
        f"{per / floor_s:.1f}x, prepare {prep / floor_s:.1f}x"
    )
    print("\nwhere build_features' time goes (median seconds):")
    print(
        harness.table(
            ["part", "seconds", "share", "per date"],
            [
                [
                    p.removesuffix("_s"),
                    f"{harness.median_of(runs, p):.2f}",
                    f"{harness.median_of(runs, p) / build_s:.0%}",
                    f"{harness.median_of(runs, p) / n:.3f}",
                ]
                for p in ("compute_s", "fingerprint_s", "write_s")
            ],
        )
    )
    if per_date:
        q = (
            statistics.quantiles(per_date, n=10, method="inclusive")
            if len(per_date) > 1
            else per_date
        )
        print(
            f"seconds per date (first run): min {min(per_date):.2f}, p10 {q[0]:.2f}, "
            f"median {statistics.median(per_date):.2f}, p90 {q[-1]:.2f}, max {max(per_date):.2f}"
        )


def report_profile(board: Board, ws: Path, floors: list[Measured], runs: list[Measured]) -> None:
    floor_s = harness.median_of(floors, "seconds")
    result = runs[0].result
    print(f"\nfeatures benchmark, case profile: {board.tag} board, workspace {ws}")
    print(
        f"{harness.machine()}, polars {floors[0].result['polars']}; floor {floor_s:.2f} s; "
        f"{result['pupil_days']:,} pupil-days ({result['running_rows']:,} rows of running "
        f"counts); peak RSS {runs[0].peak_mib:,.0f} MiB\n"
    )
    print(
        harness.table(
            ["piece of load_prepared (each collected on its own)", "seconds", "x floor"],
            [
                [name, f"{s:.3f}", f"{s / floor_s:.1f}"]
                for name, s in result["prepare_times"].items()
            ],
        )
    )
    dates = result["dates"]
    names = list(dates[0]["times"])
    header = ["piece of feature_table (each collected on its own)"]
    header += [f"{d['as_of']} s" for d in dates]
    header += ["mean s", "x floor"]
    rows = []
    for name in names:
        values = [float(d["times"][name]) for d in dates]
        mean = statistics.fmean(values)
        rows.append([name, *(f"{v:.3f}" for v in values), f"{mean:.3f}", f"{mean / floor_s:.1f}"])
    rows.append(["pupils", *(f"{d['pupils']:,}" for d in dates), "", ""])
    print()
    print(harness.table(header, rows))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), required=True)
    harness.board_arguments(parser, students=None, years=None)
    parser.add_argument(
        "--as-of",
        default=None,
        help="snapshot (default: 1 June of the last year), profile: first as-of date on or after this",
    )
    parser.add_argument(
        "--dates",
        type=int,
        default=0,
        help="weekly: only N dates spread over the years (0: all); profile: N (default 3)",
    )
    parser.add_argument("--keep", action="store_true", help="weekly: keep the built feature folder")
    args = parser.parse_args(argv)
    students, years = CASES[args.case]
    board = Board(
        args.students or students, args.years or years, args.seed, args.last_year, args.schools
    )
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    ws = harness.ensure_workspace(SCRIPT, board, root)
    base = {"root": str(root), "workspace": str(ws)}

    def floor() -> Measured:
        return harness.run_child(SCRIPT, "floor", base)

    imports = harness.run_child(
        SCRIPT, "imports", {"root": str(root), "modules": ["polars", "pipelines.steps.features"]}
    )
    if args.case == "snapshot":
        as_of = args.as_of or f"{board.last_year + 1}-06-01"
        floors, runs = _alternate(
            args.repeat,
            floor,
            lambda: harness.run_child(SCRIPT, "snapshot", {**base, "as_of": as_of}),
        )
        report_snapshot(board, ws, floors, runs, imports)
    elif args.case == "weekly":

        def weekly() -> Measured:
            out = Path(tempfile.mkdtemp(prefix="weekly-", dir=root))
            try:
                return harness.run_child(
                    SCRIPT, "weekly", {**base, "out": str(out), "limit": args.dates}
                )
            finally:
                if args.keep:
                    log(f"feature tables kept in {out / 'features'}")
                else:
                    shutil.rmtree(out, ignore_errors=True)

        floors, runs = _alternate(args.repeat, floor, weekly)
        report_weekly(board, ws, floors, runs, imports)
    else:
        floors, runs = _alternate(
            1,
            floor,
            lambda: harness.run_child(
                SCRIPT, "profile", {**base, "limit": args.dates or 3, "as_of": args.as_of}
            ),
        )
        report_profile(board, ws, floors, runs)


if __name__ == "__main__":
    if "--child" in sys.argv:
        harness.child_main(STEPS, sys.argv[1:])
    else:
        main(sys.argv[1:])
