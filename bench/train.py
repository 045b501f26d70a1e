"""Peak memory and wall time of ``train`` and ``evaluate`` on large simulated boards.

Each measured step runs in its own child process (``bench/harness.py``), so its peak RSS
(``os.wait4``'s ``ru_maxrss``) is its own:

``features``
    Builds the weekly feature tables of the board once (``build_features`` of every as-of
    date), so that ``train`` and ``evaluate`` are measured on a workspace whose feature cache
    is complete, as it is in the weekly run. Not measured against a target; skipped when the
    workspace's ``.features-complete`` marker is there.
``train``
    ``run_train(workspace, TrainSettings())``: the ladder on every forward split, logged to
    the workspace's MLflow, the champion registered. Reports the ladder's mean and spread
    over the splits of every rung's headline metrics, for comparing two checkouts.
``evaluate``
    ``run_evaluate(workspace, Settings(...))`` with ``--bootstrap`` resamples.

``--code DIR`` runs the steps with the project's code from another checkout (a
``git worktree`` of an older commit, say), to measure before and after in one run on the same
boards. Boards live under ``/tmp/bench`` (``ws-<students>x<years>``) and are reused.

Run from the repository root (the 100,000-pupil runs take half an hour each and the old code's
train up to 17 GB: run nothing else large beside them)::

    .venv/bin/python bench/train.py --students 20000 100000 --steps train evaluate
    git worktree add ../schoolpoort-before <old commit>
    .venv/bin/python bench/train.py --students 20000 --code ../schoolpoort-before --steps train
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# The bench folder holds a features.py: it must not shadow the project's ``features``.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]

from bench import harness  # noqa: E402
from bench.harness import Board, Measured, log  # noqa: E402

SCRIPT = Path(__file__).resolve()
FEATURES_MARKER = ".features-complete"
METRICS = ("precision_at_2", "precision_at_5", "recall_at_2", "recall_at_5", "brier", "ece")


def _use_code(code: str) -> None:
    """Import the project from ``code`` (another checkout) rather than this one."""
    sys.path[:] = [code, *(p for p in sys.path if Path(p or ".").resolve() != REPO)]


def _quiet_environment() -> None:
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MPLBACKEND", "Agg")


# --- steps (run in children) ----------------------------------------------------------------


def step_features(root: str, workspace: str, code: str) -> dict[str, Any]:
    """Every as-of date's feature table, built once into the workspace's cache."""
    _use_code(code)
    from pipelines.steps.features import build_features, load_prepared
    from pipelines.workspace import Workspace

    ws = Workspace(Path(workspace))
    start = time.perf_counter()
    prepared = load_prepared(ws)
    dates = prepared.as_of_dates()
    build_features(ws, dates, prepared, say=lambda _m: None)
    (Path(workspace) / FEATURES_MARKER).write_text(str(len(dates)), encoding="utf-8")
    return {"seconds": time.perf_counter() - start, "dates": len(dates)}


def step_train(root: str, workspace: str, code: str) -> dict[str, Any]:
    """``run_train`` with the default settings; the ladder's metrics per rung."""
    _use_code(code)
    _quiet_environment()
    from pipelines.settings import TrainSettings
    from pipelines.steps.train import run_train
    from pipelines.workspace import Workspace

    start = time.perf_counter()
    report = run_train(Workspace(Path(workspace)), TrainSettings(), say=lambda _m: None)
    seconds = time.perf_counter() - start
    ladder = {
        r.rung.name: {
            **{f"mean_{m}": r.mean(m) for m in METRICS},
            **{f"std_{m}": r.std(m) for m in METRICS},
            "failures": len(r.failures),
        }
        for r in report.results
    }
    return {
        "seconds": seconds,
        "splits": len(report.splits),
        "champion": report.champion,
        "ladder": ladder,
        "peak_mib_inside": harness.vm_hwm_mib(),
    }


def step_evaluate(root: str, workspace: str, code: str, bootstrap: int) -> dict[str, Any]:
    """``run_evaluate`` with the default settings and ``bootstrap`` resamples."""
    _use_code(code)
    _quiet_environment()
    from pipelines.settings import Settings
    from pipelines.steps.evaluate import run_evaluate

    settings = Settings(workspace=Path(workspace))
    settings = settings.model_copy(
        update={"evaluate": settings.evaluate.model_copy(update={"bootstrap": bootstrap})}
    )
    from pipelines.workspace import Workspace

    start = time.perf_counter()
    result = run_evaluate(Workspace(Path(workspace)), settings, say=lambda _m: None)
    seconds = time.perf_counter() - start
    ablations = result.tables["ablations"]
    full = ablations.filter(ablations["features"] == ablations["features"][0]).to_dicts()
    return {"seconds": seconds, "splits": len(result.splits), "first_ablation": full}


STEPS: dict[str, harness.Step] = {
    **harness.SHARED_STEPS,
    "features": step_features,
    "train": step_train,
    "evaluate": step_evaluate,
}


# --- parent ---------------------------------------------------------------------------------


def ensure_features(board: Board, root: Path, code: str) -> Path:
    """The board's workspace with every feature table built (once, then reused)."""
    ws = harness.ensure_workspace(SCRIPT, board, root)
    if (ws / FEATURES_MARKER).exists():
        log(f"reusing feature tables of {ws}")
        return ws
    log(f"building the feature tables of {ws}")
    run = harness.run_child(
        SCRIPT, "features", {"root": str(root), "workspace": str(ws), "code": code}
    )
    log(f"built {run.result['dates']} dates in {run.wall:.0f} s (peak {run.peak_mib:,.0f} MiB)")
    return ws


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[20_000, 50_000, 100_000])
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--steps", nargs="+", choices=("train", "evaluate"), default=["train"])
    parser.add_argument("--code", default=str(REPO), help="checkout whose code is measured")
    parser.add_argument("--bootstrap", type=int, default=200, help="evaluate's resamples")
    parser.add_argument("--root", type=Path, default=harness.ROOT)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    code = str(Path(args.code).resolve())
    args.root.mkdir(parents=True, exist_ok=True)
    print(f"train benchmark, code {code}; {harness.machine()}")
    rows, results = [], []
    for students in args.students:
        board = Board(students, args.years)
        ws = ensure_features(board, args.root, code)
        for step in args.steps:
            params: dict[str, Any] = {"root": str(args.root), "workspace": str(ws), "code": code}
            if step == "evaluate":
                params["bootstrap"] = args.bootstrap
            log(f"{step} on {board.tag}")
            run: Measured = harness.run_child(SCRIPT, step, params)
            log(f"{step} on {board.tag}: {run.wall:.0f} s, peak {run.peak_mib:,.0f} MiB")
            minutes, seconds = divmod(round(run.wall), 60)
            rows.append(
                [
                    f"{step} {board.tag}",
                    f"{minutes} min {seconds:02d} s",
                    f"{run.peak_mib / 1024:.2f} GiB",
                ]
            )
            results.append(
                {"step": step, "board": board.tag, "wall": run.wall, "peak_mib": run.peak_mib}
                | run.result
            )
            if args.json:
                args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(harness.table(["step board", "wall", "peak RSS"], rows))
    for r in results:
        if r["step"] == "train":
            print(f"\nladder on {r['board']} ({r['splits']} splits, champion {r['champion']}):")
            header = ["rung", *(f"{m}" for m in METRICS)]
            lines = [
                [name, *(f"{v[f'mean_{m}']:.4f}±{v[f'std_{m}']:.4f}" for m in METRICS)]
                for name, v in r["ladder"].items()
            ]
            print(harness.table(header, lines))


if __name__ == "__main__":
    if "--child" in sys.argv:
        harness.child_main(STEPS, sys.argv[1:])
    else:
        main(sys.argv[1:])
