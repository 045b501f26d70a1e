"""The ``schoolpoort`` command line."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import polars as pl
import typer
from rich.console import Console
from rich.text import Text

from pipelines.settings import Settings, SettingsError
from pipelines.workspace import Workspace, WorkspaceError

# Telemetry off whatever the caller's environment says: these are minors' data.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"  # a model file never runs code
os.environ["PREFECT_LOGGING_MARKUP"] = "false"  # data in a log line is text, never styling

app = typer.Typer(
    name="schoolpoort",
    help="Early warning for school refusal: from all absences, late arrivals and sick-bay visits "
    "to a short weekly risk list per school.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Data (column names, codes, school ids) is printed as plain text: no console markup, no
# emoji codes, no highlighting, so a column named "[/x]" or "[link=...]" is shown as written.
console = Console(stderr=True, highlight=False, markup=False, emoji=False)
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)  # never wrapped

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Folder for everything the pipeline writes.")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Settings file (TOML); flags override it.")
]
RunnerOpt = Annotated[
    str | None,
    typer.Option(
        help="Where the work runs: local (this process, the default) or dask (the workers of a "
        "Dask cluster: see 'Larger boards' in the README)."
    ),
]
DaskAddressOpt = Annotated[
    str | None,
    typer.Option(
        help="With --runner dask: the scheduler of an existing cluster, tcp://host:port "
        "(default: a local cluster of 2 worker processes, for trying it)."
    ),
]
UntilOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"],
        help="Use only what was known before this date (default: after the last event).",
    ),
]


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 2."""
    console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(2)


def format_table(frame: pl.DataFrame, digits: int = 3) -> str:
    """A plain fixed-width table: readable in a terminal, a log file and a closing note."""
    cells = [[c for c in frame.columns]]
    for row in frame.iter_rows():
        cells.append([f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join(
            v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    return "\n".join(lines)


def say(message: str, label: str = "", style: str = "") -> None:
    """One progress line on stderr: the time, an optional styled label, the message as plain text."""
    parts: list[str | tuple[str, str]] = [(time.strftime("%H:%M:%S"), "dim"), " "]
    if label:
        parts += [(label, style), " "]
    console.print(Text.assemble(*parts, message), soft_wrap=True)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the export into.")],
    students: Annotated[
        int, typer.Option(help="Pupils on the board in the first year.", min=10)
    ] = 5000,
    schools: Annotated[int, typer.Option(help="Secondary schools on the board.", min=1)] = 4,
    years: Annotated[int, typer.Option(help="School years to simulate.", min=1, max=10)] = 3,
    last_year: Annotated[
        int, typer.Option(help="First calendar year of the last school year (2024 = 2024-25).")
    ] = 2024,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same export.")
    ] = 1,
) -> None:
    """Write a simulated school board's export (CSV with ';', Flemish codes) to --out."""
    from schoolsim import SimulationSettings, write_export
    from schoolsim import simulate as run

    say(
        f"simulating {students:,} pupils in {schools} schools over {years} school years (seed {seed})"
    )
    try:
        sim = run(
            SimulationSettings(
                students=students, schools=schools, years=years, last_year=last_year, seed=seed
            )
        )
    except ValueError as exc:
        fail(str(exc))
    paths = write_export(sim, out_dir)
    for name, path in paths.items():
        out.print(f"{name}: {sim.tables[name].height:,} rows -> {path}")


@app.command()
def ingest(
    export: Annotated[
        Path, typer.Argument(help="Export folder: one file per table (.csv, .parquet, .xlsx).")
    ],
    workspace: WorkspaceOpt = Path("workspace"),
    codes: Annotated[
        str | None, typer.Option(help="Code profile: flanders, netherlands, edfi, or FILE.toml.")
    ] = None,
    allow_unknown_codes: Annotated[
        bool | None,
        typer.Option(
            "--allow-unknown-codes", help="Quarantine rows with unknown codes instead of stopping."
        ),
    ] = None,
    new_key: Annotated[
        bool | None,
        typer.Option(
            "--new-key",
            help="Accept a pseudonym key other than the workspace's (every pupil starts anew).",
        ),
    ] = None,
    accept_quarantine: Annotated[
        bool | None,
        typer.Option(
            "--accept-quarantine",
            help="Write the tables even when a table loses more than the gate's share (5%) of its rows to quarantine.",
        ),
    ] = None,
    drop_table: Annotated[
        list[str] | None,
        typer.Option(
            "--drop-table",
            help="A table the workspace holds that this export leaves out on purpose (it is emptied); repeatable.",
        ),
    ] = None,
    append: Annotated[
        bool | None,
        typer.Option(
            "--append",
            help="The export holds only the events since the last one (absences, late arrivals, sick-bay visits); they are added to the workspace's. Enrolments and the other tables come whole.",
        ),
    ] = None,
    ids: Annotated[
        str | None,
        typer.Option(
            "--ids",
            help="board: pupil ids are unique across the board; per-school: only within a school (pupils are keyed on school and id). Default: the workspace's, else board.",
        ),
    ] = None,
    runner: RunnerOpt = None,
    dask_address: DaskAddressOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Validate an export, map its codes, pseudonymise pupils and write canonical tables.

    The export must be complete (every table the workspace holds, all of the school year so
    far); a table with more than 5% of its rows quarantined stops the ingest (nothing is
    written but the quarantine files).
    """

    settings = load_settings(
        config,
        workspace=workspace,
        ingest__codes=codes,
        ingest__allow_unknown_codes=allow_unknown_codes,
        ingest__new_key=new_key,
        ingest__accept_quarantine=accept_quarantine,
        ingest__drop_tables=tuple(drop_table) if drop_table else None,
        ingest__ids=ids,
        ingest__append=append,
        run__runner=runner,
        run__dask_address=dask_address,
    )
    from pipelines.flows import PartFailedError

    # ExportError, UnknownCodesError, ProfileError, WorkspaceError, a malformed
    # SCHOOLPOORT_PSEUDONYM_KEY: all bad input, all said in one line; and on Dask, a part of
    # the events that failed on a worker.
    report = run_flow("ingest_flow", export, settings, errors=(ValueError, PartFailedError))
    for notice in report.notices:
        say(notice, "notice:", "yellow")
    for example in report.quarantine_examples:
        say(example, "quarantined:", "yellow")
    for line in report.lines():
        out.print(line)
    out.print(f"canonical tables: {Workspace(settings.workspace).canonical}")
    if not all(r.balanced for r in report.reconciliation):
        fail("reconciliation does not balance: rows were lost (a bug; please report it)")


class _WithoutTraceback(logging.Filter):
    """Prefect logs a failed task or flow with its traceback; for the errors schoolpoort says
    in one line (bad input, a busy or full workspace, no champion), the line is enough."""

    def __init__(self, errors: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.errors = errors

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.errors):
            record.exc_info, record.exc_text = None, None
        return True


def run_flow(name: str, *args: Any, errors: tuple[type[BaseException], ...]) -> Any:
    """Run the flow ``name`` of :mod:`pipelines.flows` in this process, the same code as its
    deployment. ``errors`` are what this command says in one line: Prefect logs them without
    a traceback, and they end the command with ``error: ...`` and exit code 2."""
    from pipelines import flows

    chosen = getattr(flows, name)
    settings = next((a for a in args if isinstance(a, Settings)), None)
    if settings is not None:
        try:
            flows.check_cluster(settings.run)
        except flows.ClusterError as exc:
            fail(str(exc))
        chosen = flows.on_runner(chosen, settings)
    quiet = _WithoutTraceback(errors)
    # Prefect's console handler sits on the root logger; its API handler (the UI) keeps the
    # traceback, since it handles a record before the record reaches the root.
    handlers = [*logging.getLogger().handlers, *logging.getLogger("prefect").handlers]
    for handler in handlers:
        handler.addFilter(quiet)
        # Prefect's console handler keeps the stream it was first given: run again in the same
        # process (a notebook, the tests' CLI runner), it would write to a stream since closed.
        if (console := getattr(handler, "console", None)) is not None:
            console.file = sys.stderr
    try:
        return chosen(*args)
    except errors as exc:
        fail(str(exc))
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def _modelling_errors() -> tuple[type[Exception], ...]:
    """What `train` and `evaluate` report in one line (imported late: --help stays quick)."""
    from features.school.schooldays import OutsideCalendarError
    from models.ladder import CalibrationError
    from pipelines.steps.features import MissingInputError
    from pipelines.steps.train import TrainingError

    return (
        MissingInputError,
        TrainingError,
        SettingsError,
        OutsideCalendarError,
        CalibrationError,
        WorkspaceError,
    )


def load_settings(config: Path | None, **overrides: Any) -> Settings:
    """The settings of a command: defaults, then the settings file, then the options given;
    a bad file or value is said in one line."""
    try:
        settings = Settings.load(config, **overrides)
    except SettingsError as exc:
        fail(str(exc))
    if settings.run.runner == "dask":  # workers may start in another folder, or machine
        settings = settings.model_copy(update={"workspace": settings.workspace.resolve()})
    return settings


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


@app.command()
def edfi(
    source: Annotated[
        Path,
        typer.Argument(help="Folder with Ed-Fi XML interchanges (attendance, students, calendar)."),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write the contract export into.")
    ],
) -> None:
    """Convert Ed-Fi XML interchanges into an export in the input contract (then: ingest --codes edfi)."""
    from pipelines.sources.edfi import EdfiError, convert_edfi

    try:
        paths = convert_edfi(source, out_dir, say=say)
    except EdfiError as exc:
        fail(str(exc))
    for name, path in paths.items():
        out.print(f"{name}: {path}")
    out.print(f"next: schoolpoort ingest {out_dir} --codes edfi")


@app.command()
def features(
    workspace: WorkspaceOpt = Path("workspace"),
    from_: Annotated[
        dt.datetime | None,
        typer.Option(
            "--from", formats=["%Y-%m-%d"], help="First as-of date (default: first event)."
        ),
    ] = None,
    to: Annotated[
        dt.datetime | None,
        typer.Option(
            "--to",
            formats=["%Y-%m-%d"],
            help="Last as-of date (default: a week after the last event).",
        ),
    ] = None,
    runner: RunnerOpt = None,
    dask_address: DaskAddressOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Build the weekly feature tables (one per school week's first day) in the workspace."""
    from pipelines.steps.features import MissingInputError

    settings = load_settings(
        config, workspace=workspace, run__runner=runner, run__dask_address=dask_address
    )
    errors = (MissingInputError, WorkspaceError)
    dates = run_flow("features_flow", settings, _day(from_), _day(to), errors=errors)
    out.print(f"feature tables: {Workspace(workspace).features} ({len(dates)} as-of dates)")


@app.command()
def train(
    workspace: WorkspaceOpt = Path("workspace"),
    until: UntilOpt = None,
    horizon_weeks: Annotated[
        int | None,
        typer.Option(help="Weeks after an as-of date in which a new case counts (default 8)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Train the ladder (rules, scorecard, monotone boosting) on forward splits; register the champion."""
    from pipelines.tracking import ui_command

    settings = load_settings(
        config,
        workspace=workspace,
        train__until=_day(until),
        train__horizon_weeks=horizon_weeks,
    )
    report = run_flow("train_flow", settings, errors=_modelling_errors())
    if report.cold_start:
        from pipelines.steps.train import COLD_START_TEXT

        say(COLD_START_TEXT.format(reason=report.cold_start, rule=report.champion), "cold start:")
    else:
        out.print(f"\nladder: mean over {len(report.splits)} forward splits (until {report.until})")
        out.print(format_table(report.table()))
        for rung, why in report.eligibility.items():
            out.print(f"  {rung}: {why}")
    out.print(
        f"champion: {report.champion} -> registered as {settings.train.model_name} "
        f"version {report.model_version}, alias champion (run {report.run_id})"
    )
    out.print(f"MLflow UI: {ui_command(settings.workspace)}")


@app.command()
def score(
    workspace: WorkspaceOpt = Path("workspace"),
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Score this date's school week, as of its first school day (events before it).",
        ),
    ] = None,
    from_: Annotated[
        dt.datetime | None,
        typer.Option(
            "--from",
            formats=["%Y-%m-%d"],
            help="With --to: every school week in the range (holiday weeks are skipped).",
        ),
    ] = None,
    to: Annotated[
        dt.datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last date of the range."),
    ] = None,
    language: Annotated[str | None, typer.Option(help="Language of the lists: nl or en.")] = None,
    runner: RunnerOpt = None,
    dask_address: DaskAddressOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Score every enrolled pupil with the champion; write scores.csv and a list per school.

    Runs the Prefect ``score`` flow, the same code as the weekly deployment: with
    PREFECT_API_URL set it shows in that server's UI, else in a temporary local one.
    """
    from features.school.schooldays import calendar_weeks
    from pipelines.artifacts import UntrustedModelError
    from pipelines.steps.features import MissingInputError
    from pipelines.steps.score import ListsFailedError, NoChampionError

    if as_of is not None and (from_ is not None or to is not None):
        fail("give either --as-of or --from/--to, not both")
    if as_of is None and (from_ is None or to is None):
        fail("give --as-of DATE, or --from D1 --to D2")
    if as_of is not None:
        dates, skip_holidays = [as_of.date()], False
    else:
        dates, skip_holidays = calendar_weeks(from_.date(), to.date()), True  # type: ignore[union-attr]
    if not dates:
        fail("--from is after --to: no school week in that range")
    settings = load_settings(
        config,
        workspace=workspace,
        score__language=language,
        run__runner=runner,
        run__dask_address=dask_address,
    )
    # ValueError: no pupil enrolled, a date outside the calendar or in a holiday week, a busy
    # workspace, a bad key; ListsFailedError: a school's list failed (the others were written).
    errors = (MissingInputError, NoChampionError, UntrustedModelError, ValueError, ListsFailedError)
    paths = [Path(p) for p in run_flow("score_flow", settings, dates, skip_holidays, errors=errors)]
    if not paths:
        fail("no school week in that range: nothing scored")
    for path in paths:
        out.print(f"{path}  (care-team lists: {path.parent}/<school>/risk_list.html)")


@app.command()
def feedback(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="The care teams' risk_list.xlsx files, with their Status column filled in."
        ),
    ],
    workspace: WorkspaceOpt = Path("workspace"),
    config: ConfigOpt = None,
) -> None:
    """Read what the care teams said of their listed pupils (the XLSX list's Status column)
    back into the workspace: next week's lists follow it. Never a model feature."""
    from pipelines.steps.feedback import FeedbackError

    settings = load_settings(config, workspace=workspace)
    errors = (FeedbackError, OSError, ValueError)
    for path, report in zip(
        files, run_flow("feedback_flow", files, settings, errors=errors), strict=True
    ):
        out.print(report.line(path.name))
        if report.unknown_rows:
            rows = ", ".join(str(r) for r in report.unknown_rows[:5])
            say(
                f"{path.name}: rows {rows}: pupil not known in this workspace, left out",
                "notice:",
                "yellow",
            )


@app.command()
def evaluate(
    workspace: WorkspaceOpt = Path("workspace"),
    until: UntilOpt = None,
    model: Annotated[
        str | None,
        typer.Option(help="Learned model refitted for ablations: scorecard or monotone_gbm."),
    ] = None,
    bootstrap: Annotated[
        int | None, typer.Option(help="Pupil bootstrap resamples for the intervals (default 200).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Research evaluation: signals, ablations, lead time, calibration, fairness, errors, extract."""
    settings = load_settings(
        config,
        workspace=workspace,
        train__until=_day(until),
        evaluate__model=model,
        evaluate__bootstrap=bootstrap,
    )
    result = run_flow("evaluate_flow", settings, errors=_modelling_errors())
    k = settings.evaluate.list_percent
    out.print(f"\nablations (top {k:g}% of each school, pooled over {len(result.splits)} splits):")
    out.print(
        format_table(
            result.tables["ablations"].select(
                "features",
                f"precision_at_{k:g}",
                f"precision_at_{k:g}_low",
                f"precision_at_{k:g}_high",
                f"recall_at_{k:g}",
                f"gain_at_{k:g}",
                "flagged_4w_ahead",
            )
        )
    )
    verdicts = result.tables["fairness"].filter(pl.col("verdict") != "reference")
    out.print("\nfairness verdicts (ratio interval against 0.8-1.25):")
    out.print(
        format_table(verdicts.group_by("attribute", "verdict").len().sort("attribute", "verdict"))
    )
    out.print(f"\nreport:  {result.report.with_suffix('.html')}  (and {result.report.name})")
    out.print(f"extract: {result.extract}  (de-identified; not logged to MLflow)")
    out.print(f"MLflow run: {result.run_id}")


@app.command()
def serve(
    workspace: WorkspaceOpt = Path("workspace"),
    export: Annotated[
        Path | None,
        typer.Option(
            help="Folder where the weekly export lands (default: from settings, else the folder "
            "the workspace last ingested)."
        ),
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option(help="When the weekly flow runs (default: '0 6 * * 1', Mondays 06:00)."),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="Time zone of the schedule (default Europe/Brussels).")
    ] = None,
    runner: RunnerOpt = None,
    dask_address: DaskAddressOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Register the flows as Prefect deployments (weekly on a schedule) and serve them.

    Run it next to a Prefect server (`prefect server start`) with PREFECT_API_URL set.
    """
    from prefect import serve as prefect_serve
    from prefect.flows import EntrypointType
    from prefect.schedules import Cron

    from pipelines import flows

    settings = load_settings(
        config,
        workspace=workspace,
        serve__export=export,
        serve__cron=cron,
        serve__timezone=timezone,
        run__runner=runner,
        run__dask_address=dask_address,
    )
    from pipelines.steps.ingest import last_export

    folder = settings.serve.export or last_export(Workspace(settings.workspace))
    if folder is None:
        fail("give --export DIR, the folder where the weekly export lands (no ingest recorded one)")
    if not folder.is_dir():
        fail(f"{folder}: the export folder does not exist (give --export DIR)")
    settings = settings.model_copy(
        update={"serve": settings.serve.model_copy(update={"export": folder})}
    )
    params = {"settings": settings.model_dump(mode="json")}
    # Module paths, not file paths: a deployment runs pipelines.flows as part of the installed
    # package, whatever folder the worker starts in.
    module = EntrypointType.MODULE_PATH
    schedule = Cron(settings.serve.cron, timezone=settings.serve.timezone)
    deployments: list[Any] = [
        flows.weekly_flow.to_deployment(
            name="weekly",
            schedule=schedule,
            parameters=params,
            entrypoint_type=module,
            description="Ingest the latest export, score this week, write the lists.",
        ),
        flows.ingest_flow.to_deployment(
            name="ingest",
            parameters={**params, "export": str(settings.serve.export)},
            entrypoint_type=module,
        ),
        flows.features_flow.to_deployment(
            name="features", parameters=params, entrypoint_type=module
        ),
        flows.train_flow.to_deployment(name="train", parameters=params, entrypoint_type=module),
        flows.evaluate_flow.to_deployment(
            name="evaluate", parameters=params, entrypoint_type=module
        ),
        flows.score_flow.to_deployment(name="score", parameters=params, entrypoint_type=module),
    ]
    say(
        f"serving {len(deployments)} deployments ({', '.join(d.name for d in deployments)}); "
        f"weekly runs on '{settings.serve.cron}' ({settings.serve.timezone}) on the export in "
        f"{folder}; Ctrl-C stops"
    )
    prefect_serve(*deployments)


@app.command()
def demo(
    workspace: WorkspaceOpt = Path("workspace"),
    students: Annotated[int, typer.Option(help="Pupils on the simulated board.", min=10)] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Simulate a school board, then run the pipeline on it end to end."""
    from pipelines.steps.features import load_prepared
    from pipelines.tracking import ui_command

    started = time.monotonic()
    export = workspace / "export"
    simulate(out_dir=export, students=students, schools=4, years=3, last_year=2024, seed=seed)
    ingest(
        export=export,
        workspace=workspace,
        codes=None,
        allow_unknown_codes=None,
        new_key=None,
        accept_quarantine=None,
        drop_table=None,
        config=None,
    )
    features(workspace=workspace, from_=None, to=None)
    train(workspace=workspace, until=None, horizon_weeks=None, config=None)
    latest = load_prepared(Workspace(workspace)).as_of_dates()[-1]
    score(
        workspace=workspace,
        as_of=dt.datetime.combine(latest, dt.time()),
        from_=None,
        to=None,
        language=None,
        config=None,
    )
    evaluate(workspace=workspace, until=None, model=None, bootstrap=None, config=None)
    lists = sorted((workspace / "outputs" / latest.isoformat()).glob("*/risk_list.html"))
    minutes = (time.monotonic() - started) / 60
    out.print(f"\ndemo done in {minutes:.1f} minutes")
    out.print(f"simulated export:   {export}")
    out.print(f"risk lists ({latest}):")
    for page in lists:
        out.print(f"  {page}")
    out.print(f"all scores:         {workspace / 'outputs' / latest.isoformat() / 'scores.csv'}")
    reports = sorted((workspace / "evaluation").glob("until=*/report.html"))
    if reports:
        out.print(f"research report:    {reports[-1]}")
    out.print(
        f"MLflow UI:          .venv/bin/{ui_command(workspace)}  (then open http://127.0.0.1:5000)"
    )
    out.print(
        "Prefect UI:         .venv/bin/prefect server start --host 127.0.0.1  (then open http://127.0.0.1:4200;"
    )
    out.print(
        f"                    PREFECT_API_URL=http://127.0.0.1:4200/api .venv/bin/schoolpoort serve --workspace {workspace})"
    )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
