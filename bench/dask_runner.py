"""The weekly run on the Dask runner against the local runner: same outputs, and its overhead.

One school week of a large board (default 100,000 pupils with the current school year only,
as a weekly run sees it), scored from a workspace without feature tables, so the run builds
the week's features, scores every pupil and writes every school's list: the ``score`` flow,
as ``schoolpoort score --as-of D [--runner dask]`` runs it. Each runner gets its own copy of
the workspace, and each run is a child process (peak RSS: the largest single process of the
run, so on Dask the coordinator or one worker, since the LocalCluster's workers are its
children; the coordinator's own peak is shown beside it).

The champion is trained once on a smaller board of the same simulator (default 2,000 pupils
x 3 years) and its registry (``mlflow.db``, ``mlartifacts``, ``monitoring``) copied into each
workspace: the large board's own training is what ``bench/train.py`` measures.

After both runs, every file under ``features``, ``outputs`` and ``lists`` is compared byte for
byte.

``--ingest`` measures the ``ingest`` flow instead, as ``schoolpoort ingest EXPORT [--runner
dask]`` runs it: the board's export (its events in parts of ``partition_rows``, on Dask each
part dated and checked on the workers) into a new workspace per runner; every file under
``canonical``, ``quarantine`` and ``secrets`` is compared. Run from the repository root::

    .venv/bin/python bench/dask_runner.py [--students 100000] [--workers 2] [--repeat 1]
    .venv/bin/python bench/dask_runner.py --ingest --students 1000000 --years 1 --repeat 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]

from bench import harness  # noqa: E402
from bench.harness import Board, Measured, log  # noqa: E402

KEY = "00112233445566778899aabbccddeeff"
COMPARED = ("features", "outputs", "lists")
INGESTED = ("canonical", "quarantine", "secrets")


def step_train(root: str, workspace: str) -> dict[str, Any]:
    """Train the ladder in ``workspace`` (the small board's)."""
    from pipelines.settings import TrainSettings
    from pipelines.steps.train import run_train
    from pipelines.workspace import Workspace

    start = time.perf_counter()
    report = run_train(Workspace(Path(workspace)), TrainSettings(), say=lambda _: None)
    return {"seconds": time.perf_counter() - start, "champion": report.champion}


def step_weekly(
    root: str, workspace: str, as_of: str, runner: str, workers: int, shards: int
) -> dict[str, Any]:
    """The score flow of ``as_of``'s week on ``runner``: the week's features, scores, lists."""
    from pipelines import flows
    from pipelines.settings import RunSettings, Settings

    run = RunSettings(runner=runner, dask_workers=workers, shards=shards)  # type: ignore[arg-type]
    settings = Settings(workspace=Path(workspace), run=run)
    start = time.perf_counter()
    flows.on_runner(flows.score_flow, settings)(settings, [dt.date.fromisoformat(as_of)])
    return {"seconds": time.perf_counter() - start, "coordinator_mib": harness.vm_hwm_mib()}


def step_ingest_flow(
    root: str, export: str, workspace: str, runner: str, workers: int
) -> dict[str, Any]:
    """The ingest flow of ``export`` into ``workspace`` on ``runner``."""
    from pipelines import flows
    from pipelines.settings import RunSettings, Settings

    run = RunSettings(runner=runner, dask_workers=workers)
    settings = Settings(workspace=Path(workspace), run=run)
    start = time.perf_counter()
    flows.on_runner(flows.ingest_flow, settings)(Path(export), settings)
    return {"seconds": time.perf_counter() - start, "coordinator_mib": harness.vm_hwm_mib()}


STEPS = {
    "simulate": harness.step_simulate,
    "ingest": harness.step_ingest,
    "train": step_train,
    "weekly": step_weekly,
    "ingest_flow": step_ingest_flow,
}


def _digests(root: Path, folders: tuple[str, ...] = COMPARED) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def _champion(script: Path, board: Board, root: Path) -> Path:
    ws = harness.ensure_workspace(script, board, root)
    if (ws / "mlflow.db").exists():
        log(f"reusing the champion trained in {ws}")
        return ws
    log(f"training the champion on {ws}")
    run = harness.run_child(script, "train", {"root": str(root), "workspace": str(ws)})
    log(f"trained ({run.result['champion']}) in {run.wall:.0f} s, peak {run.peak_mib:,.0f} MiB")
    return ws


def _copy(big: Path, champion: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(big, target, ignore=shutil.ignore_patterns("features", harness.MARKER))
    harness.copy_champion(champion, target)
    return target


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.board_arguments(parser, students=100_000, years=1)
    parser.add_argument("--as-of", default="2025-06-02", help="the school week scored")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--shards", type=int, default=8, help="groups of schools on Dask")
    parser.add_argument("--champion-students", type=int, default=2_000)
    parser.add_argument(
        "--champion", type=Path, help="a trained workspace whose registry to use instead"
    )
    parser.add_argument("--ingest", action="store_true", help="measure the ingest flow instead")
    args = parser.parse_args(argv)

    import os

    os.environ["SCHOOLPOORT_PSEUDONYM_KEY"] = KEY  # one key: the copied registry's board too
    script = Path(__file__).resolve()
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    board = Board(args.students, args.years, args.seed, args.last_year, args.schools)
    if args.ingest:
        export = harness.ensure_export(script, board, root)
    else:
        big = harness.ensure_workspace(script, board, root)
        champion = args.champion or _champion(
            script, Board(args.champion_students, 3, seed=3), root
        )

    runs: dict[str, list[Measured]] = {"local": [], "dask": []}
    digests: dict[str, dict[str, str]] = {}
    compared = INGESTED if args.ingest else COMPARED
    for i in range(args.repeat):
        for runner in ("local", "dask") if i % 2 == 0 else ("dask", "local"):
            log(f"run {i + 1}: {runner}")
            if args.ingest:
                ws = root / f"dask-bench-ingest-{runner}"
                shutil.rmtree(ws, ignore_errors=True)
                params: dict[str, Any] = {"export": str(export), "workers": args.workers}
                step = "ingest_flow"
            else:
                ws = _copy(big, champion, root / f"dask-bench-{runner}")
                params = {"as_of": args.as_of, "workers": args.workers, "shards": args.shards}
                step = "weekly"
            params |= {"root": str(root), "workspace": str(ws), "runner": runner}
            run = harness.run_child(script, step, params)
            runs[runner].append(run)
            log(f"{runner}: {run.wall:.1f} s, peak {run.peak_mib:,.0f} MiB")
            digests[runner] = _digests(ws, compared)

    same = digests["local"] == digests["dask"]
    local_s = harness.median_of(runs["local"], "seconds")
    rows = [
        [
            runner,
            f"{harness.median_of(r, 'seconds'):.1f}",
            f"{sorted(x.wall for x in r)[len(r) // 2]:.1f}",
            f"{harness.peak_of(r) / 1024:.2f}",
            f"{max(x.result['coordinator_mib'] for x in r) / 1024:.2f}",
            f"{harness.median_of(r, 'seconds') / local_s:.2f}x",
        ]
        for runner, r in runs.items()
    ]
    what = (
        "ingest of the export"
        if args.ingest
        else f"weekly run, week of {args.as_of}; {args.shards} shards at most"
    )
    print(
        f"{what}, {board.students:,} pupils x {board.years} year(s); "
        f"dask: LocalCluster of {args.workers} workers"
    )
    print(f"({harness.machine()}; {args.repeat} run(s) per runner, medians)")
    print(
        harness.table(
            ["runner", "flow s", "process s", "peak GiB", "coordinator GiB", "vs local"], rows
        )
    )
    print(
        f"outputs ({len(digests['local'])} files under {', '.join(compared)}): "
        + ("byte-identical" if same else "DIFFERENT")
    )
    if not same:
        differ = sorted(
            k
            for k in digests["local"].keys() | digests["dask"].keys()
            if digests["local"].get(k) != digests["dask"].get(k)
        )
        print("differing files: " + ", ".join(differ[:20]))
        raise SystemExit(1)


if __name__ == "__main__":
    if "--child" in sys.argv:
        harness.child_main(STEPS, sys.argv[1:])
    else:
        main(sys.argv[1:])
