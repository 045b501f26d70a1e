"""One test per flow under Prefect's test harness, and the weekly deployment on a real server."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from functools import partial
from pathlib import Path

import polars as pl
import pytest
from prefect import flow

from pipelines import flows
from pipelines.render import reports
from pipelines.settings import Settings, TrainSettings
from pipelines.steps.train import TrainReport
from pipelines.workspace import KEY_ENV, Workspace
from tests.conftest import BOARD_KEY, BOARD_UNTIL

AS_OF = dt.date(2025, 3, 10)


@pytest.fixture
def board_copy(
    trained_board: tuple[Workspace, TrainReport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private copy of the trained small board's workspace (same key, same registry)."""
    monkeypatch.setenv(KEY_ENV, BOARD_KEY.hex())
    ws, _ = trained_board
    target = tmp_path / "ws"
    shutil.copytree(ws.root, target)
    return target


def test_ingest_and_features_flows(tiny_export: Path, workspace: Path) -> None:
    settings = Settings(workspace=workspace)
    report = flows.ingest_flow(tiny_export, settings)
    lines = [r.line() for r in report.reconciliation]
    assert "absences: read 5 = accepted 5 + quarantined 0 + duplicates 0" in lines
    dates = flows.features_flow(settings, dt.date(2024, 9, 2), dt.date(2024, 9, 30))
    assert dates == [dt.date(2024, 9, 2) + dt.timedelta(weeks=i) for i in range(5)]
    assert len(list((workspace / "features").glob("as_of=*/features.parquet"))) == 5


def _fails_on_the_second_part(ran: list[int], part: int) -> int:
    ran.append(part)
    if part == 1:
        raise ValueError("cannot read the part\nsecond line of the message")
    return part * 10


def test_a_part_that_fails_on_a_worker_is_said_in_one_line_once_every_part_has_run() -> None:
    """The other parts are waited for (none writes into a scratch folder the run removes as
    it gives up), and the first failed part is named, in one line."""
    ran: list[int] = []

    @flow
    def parts() -> list[int]:
        return flows._on_workers(partial(_fails_on_the_second_part, ran), 4)

    with pytest.raises(flows.PartFailedError) as failed:
        parts()
    assert str(failed.value) == (
        "_fails_on_the_second_part: part 2 of 4 failed on a worker: "
        "ValueError: cannot read the part"
    )
    assert sorted(ran) == [0, 1, 2, 3]


def test_train_flow_registers_the_best_eligible_rung(board_copy: Path) -> None:
    from mlflow import MlflowClient

    from models import ladder
    from pipelines import tracking

    settings = Settings(workspace=board_copy, train=TrainSettings(until=BOARD_UNTIL, max_splits=1))
    report = flows.train_flow(settings)
    assert report.champion == ladder.select(report.results).rung.name
    tracking.use_workspace(board_copy)
    version = MlflowClient().get_model_version_by_alias(settings.train.model_name, "champion")
    assert str(version.version) == report.model_version
    assert version.tags["rung"] == report.champion


def test_score_flow_writes_every_list_and_names_a_failed_school(
    board_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(workspace=board_copy)
    [scores] = flows.score_flow(settings, [AS_OF])
    folder = Path(scores).parent
    schools = sorted(pl.read_csv(scores, separator=";")["school_id"].unique())
    assert all((folder / s / "risk_list.html").exists() for s in schools)

    # One school's list fails half-way (its CSV written, then an error): the others still get
    # their lists, and no half-written list of the failed school is swapped in.
    write_care_list = reports.write_care_list

    def failing(folder: Path, school_id: str, *args: object) -> list[Path]:
        if school_id == schools[0]:
            (folder / "risk_list.csv").parent.mkdir(parents=True, exist_ok=True)
            (folder / "risk_list.csv").write_text("half")
            raise OSError("the list could not be written")
        return write_care_list(folder, school_id, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(reports, "write_care_list", failing)
    with pytest.raises(RuntimeError, match=rf"care-team lists failed for {AS_OF} {schools[0]}: "):
        flows.score_flow(settings, [AS_OF])
    assert not (folder / schools[0]).exists()
    for school in schools[1:]:
        assert (folder / school / "risk_list.csv").exists()
    assert not list((board_copy / ".staging").iterdir())


def test_the_score_flow_scores_school_weeks_and_refuses_a_holiday(board_copy: Path) -> None:
    from pipelines.steps.score import NoSchoolWeekError

    settings = Settings(workspace=board_copy)
    outputs = board_copy / "outputs"
    # Wednesday 5 March 2025 lies in the spring holiday: no list, and the next week is named.
    with pytest.raises(NoSchoolWeekError) as refused:
        flows.score_flow(settings, [dt.date(2025, 3, 5)])
    assert str(refused.value) == (
        "no school in the week of 2025-03-03 (a holiday at every school): no list; "
        "the next school week begins 2025-03-10"
    )
    holiday = ("2025-03-03", "2025-03-05")
    assert not any((outputs / day).exists() for day in holiday)
    # Thursday 13 March stands for its week: scored as of Monday 10 March.
    [scores] = flows.score_flow(settings, [dt.date(2025, 3, 13)])
    assert Path(scores).parent.name == "2025-03-10"
    # A range skips the holiday week and scores the school weeks around it.
    paths = flows.score_flow(settings, [dt.date(2025, 2, 24), dt.date(2025, 3, 3)], True)
    assert [Path(p).parent.name for p in paths] == ["2025-02-24"]
    made = {p.name for p in outputs.iterdir()}
    assert {"2025-02-24", "2025-03-10"} <= made and not made & {*holiday, "2025-03-13"}


def test_a_school_whose_week_is_missing_from_the_export_is_held_the_others_listed(
    board_copy: Path,
) -> None:
    # A partial export: the absences of the first school's last school week before the list
    # (24-28 February; 3 March starts the spring holiday) never arrived.
    path = board_copy / "canonical" / "absences.parquet"
    absences = pl.read_parquet(path)
    schools = sorted(absences["school_id"].unique())
    gone = (pl.col("school_id") == schools[0]) & pl.col("date").is_between(
        dt.date(2025, 2, 24), dt.date(2025, 2, 28)
    )
    assert absences.filter(gone).height > 0
    absences.filter(~gone).write_parquet(path)
    [scores] = flows.score_flow(Settings(workspace=board_copy), [AS_OF])
    folder = Path(scores).parent
    held = (folder / schools[0] / "held.txt").read_text("utf-8")
    assert held.startswith(
        f"{schools[0]}: 0.0 absent half-days registered per school day in the week of 2025-02-24"
    )
    assert "a partial export or days not yet registered; list held\n" in held
    assert held.splitlines()[1].startswith(f"{schools[0]}: 9% of its pupils have any event")
    assert not (folder / schools[0] / "risk_list.html").exists()
    for school in schools[1:]:
        assert (folder / school / "risk_list.html").exists()


def test_the_score_flow_measures_drift_against_the_champions_training_rows(
    board_copy: Path,
) -> None:
    import mlflow

    from features.catalog import FAMILIES
    from pipelines import tracking

    [scores] = flows.score_flow(Settings(workspace=board_copy), [AS_OF])
    shift = pl.read_csv(Path(scores).parent / "drift.csv", separator=";")
    schools = sorted(pl.read_csv(scores, separator=";")["school_id"].unique())
    assert shift.columns == ["school_id", "family", "psi", "features"]
    # The context family is all class- or school-level features, left out of drift.
    assert set(shift["family"]) == set(FAMILIES) - {"context"}
    assert shift.height == len(schools) * (len(FAMILIES) - 1)
    assert (shift["psi"] >= 0).all()
    tracking.use_workspace(board_copy)
    run = mlflow.search_runs(  # the newest: the shared board may hold this week's earlier runs
        search_all_experiments=True,
        filter_string=f"tags.kind = 'monitoring' and tags.as_of = '{AS_OF}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )[0]
    metrics = run.data.metrics
    assert {f"psi_mean_{f}" for f in FAMILIES if f != "context"} <= set(metrics)
    assert metrics["schools_shifted"] == shift.filter(pl.col("psi") > 0.25)["school_id"].n_unique()
    assert not any(school in key for key in metrics for school in schools)  # no school id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(1)
    raise TimeoutError(f"{what} did not come up within {seconds:.0f} s")


def _partial_export(board: Path, folder: Path) -> tuple[Path, str]:
    """The board's export with the absences of its first school's last school week before
    AS_OF missing (24-28 February 2025), as an export cut short would be; and that school."""
    shutil.copytree(board, folder)
    enrolments = pl.read_csv(folder / "enrolments.csv", separator=";", infer_schema=False)
    school = sorted(enrolments["school_id"].unique())[0]
    pupils = enrolments.filter(pl.col("school_id") == school)["student_id"].implode()
    absences = pl.read_csv(folder / "absences.csv", separator=";", infer_schema=False)
    gone = pl.col("student_id").is_in(pupils) & pl.col("date").is_between(
        pl.lit("2025-02-24"), pl.lit("2025-02-28")
    )
    absences.filter(~gone).write_csv(folder / "absences.csv", separator=";")
    return folder, school


def test_the_weekly_deployment_runs_on_a_real_prefect_server(
    board_copy: Path, small_board: Path, tmp_path: Path
) -> None:
    export, held_school = _partial_export(small_board, tmp_path / "export")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        KEY_ENV: BOARD_KEY.hex(),
    }
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
    bin_dir = Path(sys.executable).parent
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    server = subprocess.Popen(
        [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    serving = None
    try:
        _wait(
            lambda: urllib.request.urlopen(f"{api}/health", timeout=2).status == 200,
            180,
            "prefect server",
        )
        serving = subprocess.Popen(
            [
                str(bin_dir / "schoolpoort"),
                "serve",
                "--workspace",
                str(board_copy),
                "--export",
                str(export),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        run = subprocess.run(
            [str(bin_dir / "python"), "-c", _RUN_WEEKLY, AS_OF.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert "Completed" in run.stdout
    finally:
        for process in (serving, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    outputs = board_copy / "outputs" / AS_OF.isoformat()
    assert (outputs / "scores.csv").exists()
    # Every flow the README names is deployed.
    assert run.stdout.splitlines()[0] == "evaluate,features,ingest,score,train,weekly"
    # The cut school's list is held with its reason; the other schools' lists are written.
    assert "list held" in (outputs / held_school / "held.txt").read_text("utf-8")
    assert not (outputs / held_school / "risk_list.html").exists()
    listed = sorted(p.parent.name for p in outputs.glob("*/risk_list.html"))
    assert listed and held_school not in listed


_RUN_WEEKLY = """
import sys, time
from prefect.deployments import run_deployment
from prefect.client.orchestration import get_client
from prefect.utilities.asyncutils import run_coro_as_sync

async def deployment_exists():
    async with get_client() as client:
        await client.read_deployment_by_name("weekly/weekly")

deadline = time.monotonic() + 180
while True:
    try:
        run_coro_as_sync(deployment_exists())
        break
    except Exception:
        if time.monotonic() > deadline:
            raise
        time.sleep(2)
async def deployed():
    async with get_client() as client:
        return sorted(d.name for d in await client.read_deployments())

while len(names := run_coro_as_sync(deployed())) < 6 and time.monotonic() < deadline:
    time.sleep(1)  # serve registers its deployments one after another
print(",".join(names))
run = run_deployment("weekly/weekly", parameters={"as_of": sys.argv[1]}, timeout=540)
print(run.state.type.value.title() if run.state else "no state", run.state.message if run.state else "")
"""
