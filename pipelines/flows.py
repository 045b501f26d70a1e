"""Prefect flows: thin compositions of one-call tasks over the library.

Every flow takes the typed :class:`~pipelines.settings.Settings` as its parameter. The CLI
runs these flows too, so a command and its deployment are the same code. Reading and writing
tasks retry transient system errors only; the score flow maps the per-school lists over the
schools, so one school's failure does not stop the others, and the run ends by naming each
failed school and its reason (and fails).

The task runner is the settings' (:func:`on_runner`): Prefect's thread pool in this process,
or on ``--runner dask`` a Dask cluster, where a large export's events are checked part by
part, and the pupil-days' summary, the feature tables and the week's scores are built school
shard by school shard, and each school's list is its own task. Shard and part tasks take paths
and small arguments and read what they need from the workspace themselves; in the weekly
steps this process reads no pupil-day, and the secrets (the pseudonym key, the identity map)
never leave it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"  # a model file never runs code
os.environ["PREFECT_LOGGING_MARKUP"] = "false"  # data in a log line is text, never styling

import polars as pl
from prefect import Flow, Task, flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.task_runners import TaskRunner

from features.build import Board, DaySummary, Prepared
from features.gates import Gate
from features.school.schooldays import OutsideCalendarError, school_weeks
from models.reasons import Reason
from pipelines.render import reports
from pipelines.settings import RunSettings, Settings
from pipelines.sources.spill import PartMapper
from pipelines.steps import evaluate, features, feedback, ingest, score, train
from pipelines.workspace import Workspace, locked, scratch, staged, write_csv

P = ParamSpec("P")
R = TypeVar("R")

RETRIES = 2
RETRY_DELAY = 5


def _log(message: str) -> None:
    get_run_logger().info(message)


def _transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry only what may go away: a system error reading or writing (a network share that
    hiccups), not bad input, a missing file, a busy or full workspace (these say so in one
    line and would fail the same way again)."""
    error = state.result(raise_on_failure=False)
    permanent = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
    return isinstance(error, OSError) and not isinstance(error, permanent)


_retrying = task(
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAY,
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
)
"""A task that retries transient failures twice, five seconds apart, and caches nothing
(inputs are frames and settings: hashing big frames costs time)."""


def task_runner(run: RunSettings) -> TaskRunner[Any]:
    """The task runner ``run`` asks for: Prefect's thread pool in this process (``local``), or
    Prefect's :class:`~prefect_dask.DaskTaskRunner` on the cluster at ``run.dask_address``,
    else on a :class:`~distributed.LocalCluster` of ``run.dask_workers`` processes."""
    if run.runner == "local":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()
    from prefect_dask import DaskTaskRunner

    if run.dask_address:
        return DaskTaskRunner(address=run.dask_address)
    # The local cluster's own comings and goings (and its 4-second wait for each worker at
    # shutdown, which Prefect's background threads outlast) are not the run's news.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    dask_log = logging.getLogger("prefect.task_runner.dask")
    if not any(isinstance(f, _NoDashboardLink) for f in dask_log.filters):
        dask_log.addFilter(_NoDashboardLink())
    cluster = {
        "n_workers": run.dask_workers,
        "threads_per_worker": 1,
        "dashboard_address": None,
        "silence_logs": logging.WARNING,
        # The workers report their task runs to this process's Prefect server; left alone,
        # each would start a temporary server of its own (seconds per task).
        "env": {"PREFECT_API_URL": _api_url()},
    }
    return DaskTaskRunner(cluster_kwargs=cluster)


class _NoDashboardLink(logging.Filter):
    """Drops prefect-dask's line naming the dashboard's address: it names one even when the
    local cluster has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("The Dask dashboard is available")


class ClusterError(OSError):
    """The Dask scheduler given cannot be reached."""


def check_cluster(run: RunSettings, timeout: float = 10) -> None:
    """Raise :class:`ClusterError`, in one line, when ``run`` names a Dask scheduler that does
    not answer within ``timeout`` seconds (before any work starts)."""
    if run.runner != "dask" or not run.dask_address:
        return
    import asyncio

    from distributed.comm import connect

    async def knock(address: str) -> None:  # a Client would linger as the process's default
        comm = await connect(address, timeout=timeout)
        await comm.close()

    try:
        asyncio.run(knock(run.dask_address))
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterError(
            f"--dask-address {run.dask_address}: no Dask scheduler answers there ({reason})"
        ) from None


def _api_url() -> str:
    """The Prefect API this process reports to: the one configured, else its temporary local
    server, started now (the flow run will use the same one)."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    if url := get_current_settings().api.url:
        return url
    server = SubprocessASGIServer()
    server.start(timeout=get_current_settings().server.ephemeral.startup_timeout_seconds)
    return server.api_url


def on_runner(chosen: Flow[P, R], settings: Settings) -> Flow[P, R]:
    """``chosen`` with the task runner of ``settings.run`` (:func:`task_runner`); unchanged
    for the local runner."""
    if settings.run.runner == "local":
        return chosen
    return chosen.with_options(task_runner=task_runner(settings.run))


def _sharded(settings: Settings) -> bool:
    """Whether this flow's work is split into shards: when it runs on Dask (``settings`` asked
    for it and the flow was started on it, :func:`on_runner`)."""
    if settings.run.runner != "dask":
        return False
    from prefect.context import FlowRunContext
    from prefect_dask import DaskTaskRunner

    context = FlowRunContext.get()
    return context is not None and isinstance(context.task_runner, DaskTaskRunner)


@_retrying
def ingest_export(export: Path, settings: Settings) -> ingest.IngestReport:
    """Read, validate, pseudonymise and write canonical tables; what the ingest did."""
    return _ingested(export, settings)


@_retrying
def event_part(job: Callable[[int], Any], part: int) -> Any:
    """On a worker: ``job`` (its dates, or its checks) on one part of a large export's
    events, read from the workspace's scratch folder (:mod:`pipelines.sources.spill`)."""
    return job(part)


class PartFailedError(RuntimeError):
    """A part of the events failed on a worker (after its retries)."""


def _on_workers(job: Callable[[int], R], count: int) -> list[R]:
    """``job`` of each of ``count`` parts, as tasks on the task runner's workers, each run
    named after the job and its part (``check_spilled-7``); every part is waited for, then
    the first that failed is said in one line (:class:`PartFailedError`)."""
    name = getattr(job, "func", job).__name__
    parts = event_part.with_options(task_run_name=name + "-{part}")
    futures = parts.map(unmapped(job), list(range(count)))
    futures.wait()  # none still writes into the scratch folder once the run gives up
    results: list[R] = []
    for number, future in enumerate(futures, start=1):
        outcome = future.state.result(raise_on_failure=False)
        if isinstance(outcome, BaseException) or not future.state.is_completed():
            why = f"{type(outcome).__name__}: {outcome}" if outcome else _reason(future.state)
            raise PartFailedError(
                f"{name}: part {number} of {count} failed on a worker: {why.splitlines()[0]}"
            ) from (outcome if isinstance(outcome, BaseException) else None)
        results.append(outcome)
    return results


def _ingested(
    export: Path, settings: Settings, mapper: PartMapper | None = None
) -> ingest.IngestReport:
    """The ingest of ``export``, said in the log; a large export's events checked by ``mapper``."""
    ws = Workspace(settings.workspace)
    report = ingest.run_ingest(export, ws, settings.ingest, say=_log, mapper=mapper)
    for notice in report.notices:
        _log(f"notice: {notice}")
    for rec in report.reconciliation:
        _log(rec.line())
    return report


@_retrying
def load_canonical(settings: Settings) -> Prepared:
    """The canonical tables, prepared for feature building."""
    return features.load_prepared(Workspace(settings.workspace))


@_retrying
def summarise_shard(settings: Settings, schools: list[str]) -> DaySummary:
    """On a worker: the summary of the pupil-days at ``schools``, read from their pupils' rows."""
    return features.summarise_shard(Workspace(settings.workspace), schools)


def load_board(settings: Settings) -> Board:
    """The board the flow works on: prepared whole, or on Dask its enrolments and calendar
    with the pupil-days summarised shard by shard on the workers (the coordinator reads no
    pupil-day row; the workers build the features)."""
    if not _sharded(settings):
        return load_canonical(settings)
    ws = Workspace(settings.workspace)
    shards = features.school_shards(features.board_schools(ws), settings.run.shards)
    parts = summarise_shard.map(unmapped(settings), shards).result()
    return features.load_board(ws, parts)


@_retrying
def build_features(settings: Settings, dates: list[dt.date], prepared: Prepared) -> int:
    """Feature tables for ``dates`` (reused when unchanged)."""
    return len(features.build_features(Workspace(settings.workspace), dates, prepared, say=_log))


@_retrying
def build_shard(settings: Settings, dates: list[dt.date], schools: list[str], folder: Path) -> int:
    """On a worker: one shard's rows of the feature tables of ``dates`` (its schools' pupils
    only, read from the workspace), into ``folder``; the rows written."""
    return features.build_shard(Workspace(settings.workspace), dates, schools, folder)


def _build_sharded(
    settings: Settings, cache: features.FeatureCache, dates: list[dt.date]
) -> list[dt.date]:
    """Build the stale tables of ``dates`` shard by shard on the task runner's workers, then
    join each date's shards into its table; the dates built."""
    todo = [d for d in dates if not cache.fresh(d)]
    if not todo:
        return []
    ws = Workspace(settings.workspace)
    shards = features.school_shards(score.schools_of(cache.board.enrolments), settings.run.shards)
    with scratch(ws) as folder:
        folders = [folder / f"shard-{i}" for i in range(len(shards))]
        rows = build_shard.map(unmapped(settings), unmapped(todo), shards, folders).result()
        _log(f"features: {len(todo)} as-of dates built in {len(shards)} shards ({sum(rows)} rows)")
        for as_of in todo:
            features.merge_shards(cache, as_of, folders)
    cache.save()
    return todo


@task(cache_policy=NO_CACHE)
def train_ladder(settings: Settings) -> train.TrainReport:
    """Train and register the champion; the ladder's report."""
    return train.run_train(Workspace(settings.workspace), settings.train, say=_log)


@task(cache_policy=NO_CACHE)
def evaluate_board(settings: Settings) -> evaluate.Evaluation:
    """The research evaluation: its tables, report and extract."""
    return evaluate.run_evaluate(Workspace(settings.workspace), settings, say=_log)


@_retrying
def feature_table(cache: features.FeatureCache, as_of: dt.date) -> pl.DataFrame:
    """The feature table of ``as_of``: built (and cached) when what it sees changed, else read."""
    return cache.table(as_of)


def _feature_table(
    settings: Settings, cache: features.FeatureCache, as_of: dt.date
) -> pl.DataFrame:
    """The feature table of ``as_of``; on Dask, a stale one is built shard by shard."""
    if _sharded(settings):
        _build_sharded(settings, cache, [as_of])
    return feature_table(cache, as_of)


Scored = tuple[pl.DataFrame, dict[str, list[Reason]]]


@_retrying
def score_rows(
    settings: Settings, as_of: dt.date, champion: score.Champion, table: pl.DataFrame
) -> Scored:
    """Risk, rank, profile and reasons of every pupil in the board's feature ``table``."""
    return score.score_week(Workspace(settings.workspace), champion, table, as_of, settings.score)


@_retrying
def score_shard(
    settings: Settings, as_of: dt.date, version: str, schools: list[str], background: Any
) -> Scored:
    """On a worker: :func:`score_rows` of the stored feature rows at ``schools``, with the
    champion ``version`` loaded and checked there, and the board's SHAP ``background``."""
    ws = Workspace(settings.workspace)
    rows = features.FeatureStore(ws).rows(as_of, schools)
    name = settings.score.model_name
    return score.score_shard(ws, name, version, rows, as_of, settings.score, background)


def _score(
    settings: Settings, as_of: dt.date, champion: score.Champion, week: pl.DataFrame
) -> Scored:
    """The week scored in one task, or on Dask shard by shard (whole schools in each)."""
    if not _sharded(settings):
        return score_rows(settings, as_of, champion, week)
    shards = features.school_shards(score.schools_of(week), settings.run.shards)
    background = score.background_of(week, champion)
    results = score_shard.map(  # the workers read their rows: the week's table is stored
        unmapped(settings),
        unmapped(as_of),
        unmapped(champion.version),
        shards,
        unmapped(background),
    ).result()
    reasons = {key: why for _, part in results for key, why in part.items()}
    return pl.concat([scored for scored, _ in results], how="vertical"), reasons


@_retrying
def place_board(
    settings: Settings, as_of: dt.date, scored: pl.DataFrame, folder: Path, memory: Path
) -> tuple[pl.DataFrame, score.Surroundings]:
    """Place each scored pupil on the week's lists, write ``scores.csv`` into the date's staged
    ``folder`` and what the lists remember into ``memory``; the scores table and what the
    lists show besides their rows."""
    ws = Workspace(settings.workspace)
    _, scores, left = score.write_week(ws, as_of, scored, settings.score, folder, memory)
    return scores, score.surroundings(ws, as_of, scores, left)


@_retrying
def write_school_list(
    settings: Settings,
    as_of: dt.date,
    school: str,
    rows: pl.DataFrame,
    reasons: dict[str, list[Reason]],
    around: score.Surroundings,
    folder: Path,
    about: reports.About,
) -> str:
    """One school's care-team list (CSV, XLSX, HTML) from its ``rows`` of the scores table, in
    the date's staged ``folder``, saying ``about`` itself (the model, its window or rule, the
    week's failed data gates)."""
    try:
        score.write_school_list(as_of, school, rows, reasons, around, settings.score, folder, about)
    except Exception:
        score.drop_school(folder, school)  # no half-written list is swapped in
        raise
    return school


@_retrying
def read_feedback(path: Path, settings: Settings) -> feedback.FeedbackReport:
    """One care team's marks on its list, pseudonymised into the workspace."""
    report = feedback.run_feedback(path, Workspace(settings.workspace), say=_log)
    _log(report.line(path.name))
    return report


@flow(name="feedback")
def feedback_flow(paths: list[Path], settings: Settings) -> list[feedback.FeedbackReport]:
    """Read the care teams' ``Status`` columns back from their XLSX lists, one file at a time
    (each file's marks replace what an earlier reading of the same list gave)."""
    return [read_feedback(path, settings) for path in paths]


@flow(name="ingest")
def ingest_flow(export: Path, settings: Settings) -> ingest.IngestReport:
    """Ingest one export folder into the workspace; on Dask, a large export's events are
    checked part by part on the workers (a task each), the rest here."""
    if _sharded(settings):
        return _ingested(export, settings, _on_workers)
    return ingest_export(export, settings)


@flow(name="features")
def features_flow(
    settings: Settings, start: dt.date | None = None, end: dt.date | None = None
) -> list[dt.date]:
    """Build the weekly feature tables between ``start`` and ``end`` (default: the data's
    range); the as-of dates built or found unchanged."""
    with locked(Workspace(settings.workspace), "features", _log):
        board = load_board(settings)
        dates = board.as_of_dates(start, end)
        if not dates:
            raise features.MissingInputError("no school weeks in that range")
        _log(f"building features for {len(dates)} as-of dates, {dates[0]} to {dates[-1]}")
        if isinstance(board, Prepared):
            build_features(settings, dates, board)
        else:
            cache = features.FeatureCache(Workspace(settings.workspace), board)
            built = _build_sharded(settings, cache, dates)
            _log(f"features: {len(built)} built, {len(dates) - len(built)} unchanged")
        return dates


@flow(name="train")
def train_flow(settings: Settings) -> train.TrainReport:
    """Train the ladder on forward splits and register the champion."""
    return train_ladder(settings)


@flow(name="evaluate")
def evaluate_flow(settings: Settings) -> evaluate.Evaluation:
    """Signals, ablations, lead time, calibration, fairness and errors, in a report."""
    return evaluate_board(settings)


@flow(name="score")
def score_flow(settings: Settings, dates: list[dt.date], skip_holidays: bool = False) -> list[str]:
    """Score the school week of each date with one load of the champion; lists mapped over
    the schools. A date inside a week is scored as of the week's first school day; a week
    without school is refused (:class:`~pipelines.steps.score.NoSchoolWeekError`), or with
    ``skip_holidays`` skipped and said.

    Holds the workspace's lock; each date's folder is written aside and swapped in whole.
    """
    ws = Workspace(settings.workspace)
    with locked(ws, "score flow", _log):
        return _score_dates(settings, dates, skip_holidays, ws)


def _school_weeks(board: Board, asked: list[dt.date], skip_holidays: bool) -> list[dt.date]:
    """The as-of dates of the asked dates' school weeks, saying what moved or was skipped."""
    weeks = school_weeks(board.days, asked)
    if weeks.outside:
        raise OutsideCalendarError(score.outside_calendar(weeks.outside, board.days))
    if weeks.holidays and not skip_holidays:
        raise score.NoSchoolWeekError(score.no_school(weeks.holidays, board.days))
    if weeks.holidays:
        _log(score.skipped_holidays(weeks.holidays))
    if not skip_holidays:
        for day, first in weeks.moved:
            _log(score.moved_to_week(day, first))
    return weeks.dates


def _score_dates(
    settings: Settings, asked: list[dt.date], skip_holidays: bool, ws: Workspace
) -> list[str]:
    champion = score.load_champion(ws, settings.score.model_name)
    _log(score.describe(champion, settings.score.model_name))
    board = load_board(settings)
    dates = _school_weeks(board, asked, skip_holidays)
    logger = get_run_logger()
    for warning in score.data_warnings(board, champion, dates):
        logger.warning(warning)
    cache = features.FeatureCache(ws, board)
    failures: list[str] = []
    for as_of in dates:
        week = _feature_table(settings, cache, as_of)
        with staged(ws) as stage:
            folder = stage.path(score.date_folder(ws, as_of))
            memory = stage.path(ws.listed(as_of))
            scored, reasons = _score(settings, as_of, champion, week)
            table, around = place_board(settings, as_of, scored, folder, memory)
            schools = score.schools_of(table)
            shared = score.shared_folders(schools)
            failures += [f"{as_of} {s}: {score.SHARED_FOLDER}" for s in schools if s in shared]
            schools = [s for s in schools if s not in shared]
            _monitor(ws, champion, week, as_of, folder)
            gates = _gate(board, week, as_of, folder)
            held = [s for s in schools if score.held(gates.get(s, []))]
            schools = [s for s in schools if s not in held]
            parts = score.by_school(table)
            name = settings.score.model_name
            futures = write_school_list.map(  # each school's task gets its own rows only
                unmapped(settings),
                unmapped(as_of),
                schools,
                [parts[s] for s in schools],
                [score.reasons_of(reasons, parts[s]) for s in schools],
                [around.of(s, parts[s]) for s in schools],
                unmapped(folder),
                [score.about(champion, name, gates.get(s, [])) for s in schools],
            )
            for school, future in zip(schools, futures, strict=True):
                future.wait()
                if not future.state.is_completed():
                    failures.append(f"{as_of} {school}: {_reason(future.state)}")
        kept = f"; held: {', '.join(held)} (see held.txt)" if held else ""
        _log(f"{as_of}: lists for {len(schools)} schools -> {score.date_folder(ws, as_of)}{kept}")
    if failures:
        raise score.ListsFailedError("care-team lists failed for " + "; ".join(failures))
    return [(score.date_folder(ws, d) / "scores.csv").as_posix() for d in dates]


def _monitor(
    ws: Workspace, champion: score.Champion, week: pl.DataFrame, as_of: dt.date, folder: Path
) -> None:
    """The week's drift against the champion's training rows (``drift.csv`` beside the
    scores, a warning per shifted school) and how the earlier lists turned out, kept in a
    monitoring run in MLflow."""
    shift = score.drift_table(ws, champion, week)
    if shift is not None:
        write_csv(shift.with_columns(pl.col("psi").round(4)), folder / "drift.csv")
        for warning in score.drift_summary(shift, as_of):
            get_run_logger().warning(warning)
    calibration = score.calibration_table(ws, as_of, champion.horizon_weeks)
    if summary := score.calibration_summary(calibration):
        _log(summary)
    score.log_monitoring(ws, as_of, champion, shift, calibration)


def _gate(board: Board, week: pl.DataFrame, as_of: dt.date, folder: Path) -> dict[str, list[Gate]]:
    """The week's failed data gates per school, each a warning in the log; a held school's
    folder gets ``held.txt`` instead of a list."""
    gates = score.data_gates(board, week, as_of)
    for school, school_gates in gates.items():
        for gate in school_gates:
            get_run_logger().warning(f"{as_of} data gate {gate.name}: {gate.text}")
        if score.held(school_gates):
            score.write_held(folder, school, school_gates)
    return gates


def _reason(state: object) -> str:
    message = str(getattr(state, "message", None) or state)
    return message.splitlines()[0] if message else "unknown error"


@flow(name="weekly")
def weekly_flow(settings: Settings, as_of: dt.date | None = None) -> list[str]:
    """Every Monday: ingest the latest export, then build features, score and write the lists
    of this school week (``as_of``'s, by default today's); a holiday week makes no lists."""
    day = as_of or dt.date.today()  # the flow layer may read the clock; features never do
    with locked(Workspace(settings.workspace), "weekly flow", _log):  # one run: ingest to lists
        if settings.serve.export is None:
            raise ingest.ExportError("the weekly flow needs the export folder: serve --export DIR")
        on_runner(ingest_flow, settings)(settings.serve.export, settings)
        return on_runner(score_flow, settings)(settings, [day], skip_holidays=True)
