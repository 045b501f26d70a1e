"""Shared fixtures: a tiny hand-written export, a fresh workspace per test, and the session's
simulated board."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from features.canonical import contract
from features.canonical.tables import RawTable
from features.canonical.validate import ROW

# Never let a test phone home, whatever the caller's environment says.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["MPLBACKEND"] = "Agg"

TINY = {
    # Three pupils at one school in 2024-25. Monday 2 September 2024 is the first school day;
    # Wednesday 4 September has no afternoon; Saturday 7 September is no school day.
    "enrolments.csv": (
        "student_id;school_id;grade;start_date;class_id;end_date\n"
        "L1;S1;1;2024-09-02;1A;\n"
        "L2;S1;2;02/09/2024;2B;2024-12-20\n"
        "L3;S1;1;2024-09-02;1A;\n"
    ),
    "absences.csv": (
        "student_id;date;period;code;minutes\n"
        "L1;2024-09-03;AM;Z;\n"
        "L1;2024-09-03;PM;Z;\n"
        "L2;2024-09-05;AM;B;\n"
        "L3;2024-09-09;1;D;50\n"
        "L3;2024-09-09;6;D;50\n"
    ),
    "late_arrivals.csv": ("student_id;date;time;minutes_late\nL1;2024-09-10;08:40;10\n"),
    "sick_bay_visits.csv": (
        "student_id;date;time;minutes;outcome\nL1;2024-09-12;10:15;30;sent_home\n"
    ),
    "students.csv": "student_id;gender;ses_low;sen\nL1;F;false;true\nL2;M;true;false\nL3;V;0;0\n",
    "care_cases.csv": (
        "student_id;opened_on;case_type;onset_on\nL1;2024-11-04;school_refusal;2024-10-01\n"
    ),
}


TWO_NUMBERINGS = {
    # Two schools that each number their pupils from L1: four pupils, two ids (ingest them
    # with --ids per-school). The same calendar weeks as TINY.
    "enrolments.csv": (
        "student_id;school_id;grade;start_date;class_id;end_date\n"
        "L1;S1;1;2024-09-02;1A;\n"
        "L2;S1;2;2024-09-02;2B;\n"
        "L1;S2;3;2024-09-02;3X;\n"
        "L2;S2;1;2024-09-02;1Y;\n"
    ),
    "absences.csv": (
        "student_id;school_id;date;period;code;minutes\n"
        "L1;S1;2024-09-03;AM;Z;\n"
        "L1;S2;2024-09-03;AM;B;\n"
        "L1;S2;2024-09-03;PM;B;\n"
    ),
    "students.csv": "student_id;school_id;gender\nL1;S1;F\nL1;S2;M\nL2;S2;X\n",
    "care_cases.csv": (
        "student_id;school_id;opened_on;case_type\nL1;S2;2024-11-04;school_refusal\n"
    ),
}


def write_export(folder: Path, files: dict[str, str], encoding: str = "utf-8") -> Path:
    """Write literal CSV texts into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode(encoding))
    return folder


BOARD_FIXTURES = {"small_board", "trained_board", "evaluated_board"}
"""The session's simulated board, trained and evaluated: minutes of work, done once."""


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest --numprocesses N --dist loadgroup`` (``make test``), every test on the
    simulated board runs in one process, so the board is trained and evaluated only once."""
    for item in items:
        if BOARD_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("board"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Fail loudly, not slowly, when pytest-xdist could not mark the groups (pytest 9.2's node
    ids: see the pin in ``pyproject.toml``)."""
    if getattr(session.config.option, "loadgroup", False):
        grouped = [i.nodeid for i in session.items if i.get_closest_marker("xdist_group")]
        if any("@" not in nodeid for nodeid in grouped):
            raise pytest.UsageError("pytest-xdist did not group the simulated board's tests")


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    """One Prefect test server for the session: ``schoolpoort score`` and the tests run flows
    in-process, and the server stops while pytest still owns the console."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120), pytest.MonkeyPatch.context() as mp:
        # ``schoolpoort`` run as a child process uses it too, rather than starting its own.
        mp.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
        yield


@pytest.fixture
def tiny_export(tmp_path: Path) -> Path:
    return write_export(tmp_path / "export", TINY)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SCHOOLPOORT_PSEUDONYM_KEY", raising=False)
    return tmp_path / "ws"


def raw_tables(files: dict[str, str]) -> dict[str, RawTable]:
    """Literal ';'-separated CSV texts as the raw tables a reader would give."""
    tables = {}
    for filename, text in files.items():
        name = filename.removesuffix(".csv")
        frame = pl.read_csv(
            io.StringIO(text),
            separator=";",
            infer_schema=False,
            row_index_name=ROW,
            row_index_offset=2,
        )
        declared = list(contract.columns(name))
        frame = frame.with_columns(
            [pl.lit(None, dtype=pl.String).alias(c) for c in declared if c not in frame.columns]
        ).select(pl.col(ROW).cast(pl.Int64), *declared)
        tables[name] = RawTable(name, filename, frame)
    return tables


SMALL_BOARD = {"students": 1500, "schools": 2, "years": 3, "last_year": 2024, "seed": 11}
"""Small enough for the test suite, large enough to hold a few dozen refusal cases a year."""


@pytest.fixture(scope="session")
def small_board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated export, written once per test session."""
    from schoolsim import SimulationSettings, simulate
    from schoolsim import write_export as write_simulated

    folder = tmp_path_factory.mktemp("board")
    write_simulated(simulate(SimulationSettings(**SMALL_BOARD)), folder)
    return folder


BOARD_KEY = bytes(range(100, 132))
"""One pseudonymisation key for every workspace made from the small board."""
BOARD_UNTIL = dt.date(2025, 3, 1)


@pytest.fixture(scope="session")
def trained_board(small_board: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The small board ingested and trained (until 1 March 2025, two splits), once per session."""
    from pipelines.settings import IngestSettings, TrainSettings
    from pipelines.steps.ingest import run_ingest
    from pipelines.steps.train import run_train
    from pipelines.workspace import KEY_ENV, Workspace

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, BOARD_KEY.hex())
        ws = Workspace(tmp_path_factory.mktemp("ws"))
        run_ingest(small_board, ws, IngestSettings(), say=lambda _: None)
        report = run_train(ws, TrainSettings(until=BOARD_UNTIL, max_splits=2), say=lambda _: None)
    return ws, report


EVALUATION = {"bootstrap": 40, "shap_rows": 300}
"""A quick evaluation for tests: fewer resamples and SHAP rows than the defaults."""


@pytest.fixture(scope="session")
def evaluated_board(trained_board):  # type: ignore[no-untyped-def]
    """The trained small board, evaluated once per session (report, tables, extract)."""
    from pipelines.settings import Settings
    from pipelines.steps.evaluate import run_evaluate

    ws, _ = trained_board
    settings = Settings.load(
        workspace=ws.root,
        train__until=BOARD_UNTIL,
        train__max_splits=2,
        **{f"evaluate__{k}": v for k, v in EVALUATION.items()},
    )
    return ws, run_evaluate(ws, settings, say=lambda _: None)


def cut_export(export: Path, folder: Path, day: dt.date) -> Path:
    """The export as it stood on ``day``: no event dated on or after it, no case opened since,
    no enrolment begun after it, and enrolments still running then without an end date."""
    import shutil

    folder.mkdir(parents=True)
    iso = day.isoformat()
    keep = {
        "absences": pl.col("date") < iso,
        "late_arrivals": pl.col("date") < iso,
        "sick_bay_visits": pl.col("date") < iso,
        "care_cases": pl.col("opened_on") < iso,
        "enrolments": pl.col("start_date") <= iso,
    }
    for path in export.iterdir():
        if path.stem not in keep:
            shutil.copy(path, folder / path.name)
            continue
        frame = pl.read_csv(path, separator=";", infer_schema=False).filter(keep[path.stem])
        if path.stem == "enrolments":
            ended_later = pl.col("end_date") >= iso
            frame = frame.with_columns(
                pl.when(ended_later).then(None).otherwise(pl.col("end_date")).alias("end_date")
            )
        frame.write_csv(folder / path.name, separator=";")
    return folder


def score_dates(ws, dates, settings=None):  # type: ignore[no-untyped-def]
    """Score ``dates`` in ``ws`` the way ``schoolpoort score`` does: the Prefect score flow."""
    from pipelines import flows
    from pipelines.settings import ScoreSettings, Settings

    run = Settings(workspace=ws.root, score=settings or ScoreSettings())
    return [Path(p) for p in flows.score_flow(run, list(dates))]
