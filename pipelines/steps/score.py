"""``schoolpoort score``: the champion's risk for every enrolled pupil, explained, as lists.

The weekly flow (:func:`pipelines.flows.score_flow`, which ``schoolpoort score`` runs too)
composes these functions. Writes, for an as-of date D, ``WS/outputs/D/scores.csv`` (every pupil enrolled on D) and per
school ``WS/outputs/D/<school folder>/risk_list.{csv,xlsx,html}`` (the top of the ranking; the
folder is named by :func:`~pipelines.workspace.school_folder`, never by the raw id). Only
these outputs carry the school's own pupil ids. A date's folder is written aside and swapped
in whole, and every output is a pure function of the workspace's inputs before D and the
champion, so a rerun gives identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from features import gates
from features.build import Board
from features.canonical.pseudonym import id_school, shown_id
from features.catalog import CATALOG
from features.gates import Gate
from features.pupil_weeks import pupil_weeks
from features.school.schooldays import first_school_days, week_of, weeks_into_year
from models import carelist, drift
from models.explain import explain
from models.labels import is_known_case, label_rows
from models.metrics import expected_calibration_error
from models.profile import profile
from models.ranking import rank_in_school
from models.reasons import Reason, school_medians, top_reasons
from pipelines import tracking
from pipelines.render import reports
from pipelines.render.picture import picture_legend, pupil_picture
from pipelines.settings import ScoreSettings
from pipelines.workspace import (
    Workspace,
    inside,
    restore_formulas,
    school_folder,
    write_csv,
    write_parquet,
)

if TYPE_CHECKING:
    import pandas as pd

Say = Callable[[str], None]
N_REASONS = 3
SCORED_COLUMNS = (
    "student_key",
    "school_id",
    "class_key",
    "risk",
    "times_usual",
    "rank",
    "above_cut",
    "known_case",
    "recent_case",
    "profile",
    *(f"signal_{k + 1}" for k in range(N_REASONS)),
)
"""What a scored week holds (:func:`score_week`): what the lists and ``scores.csv`` read, not
the features it was scored from (on Dask every shard's scored rows cross to the coordinator)."""


class NoChampionError(LookupError):
    """No registered champion in the workspace: run ``schoolpoort train`` first."""


class NothingToScoreError(ValueError):
    """No pupil is enrolled on the date."""


class NoSchoolWeekError(ValueError):
    """A date in a week without school days (a holiday): no list belongs to it."""


class ListsFailedError(RuntimeError):
    """Some schools' lists could not be written (the others were); names each and why."""


@dataclass(frozen=True)
class Champion:
    """The registered model and what it needs."""

    model: object
    features: list[str]
    version: str
    rung: str
    until: dt.date | None = None
    """The training cut-off: outcomes before it were seen when the model was fitted."""
    horizon_weeks: int = 8
    """Weeks after the as-of date in which a predicted case starts (the label window)."""
    calibrated: bool = True
    """False for a rule registered at a cold start: it ranks, but its score is no probability."""

    def label(self, name: str) -> str:
        """The champion in a few words for the lists: name, version and rung."""
        return f"{name} v{self.version} ({self.rung})"

    @property
    def rule(self) -> str | None:
        """The rule whose ranking the lists follow, when the champion is an uncalibrated rule."""
        return None if self.calibrated else self.rung


def load_champion(workspace: Workspace, name: str) -> Champion:
    """The model with alias ``champion`` from the workspace's registry, checked before loading.

    The model file is found inside this workspace's artifacts from the path recorded at
    registration, must match the SHA-256 digest recorded then, and is loaded with skops
    trusting only :data:`pipelines.artifacts.TRUSTED`. What the artifact says about itself
    (MLflow's ``MLmodel``: format, trusted types) is never consulted.

    Parameters
    ----------
    workspace : Workspace
        The workspace to score in.
    name : str
        The registered model's name.

    Returns
    -------
    Champion
        The model, its features, version, rung and training cut-off.

    Raises
    ------
    NoChampionError
        No version of ``name`` carries the alias.
    pipelines.artifacts.UntrustedModelError
        The model file is missing, moved outside the artifacts, altered, registered without a
        digest, or holds a type schoolpoort does not trust.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipelines import artifacts

    tracking.use_workspace(workspace.root)
    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(name, tracking.CHAMPION)
    except MlflowException as exc:
        raise NoChampionError(
            f"no model {name!r} with alias {tracking.CHAMPION!r} in {workspace.root}; run `schoolpoort train` first"
        ) from exc
    model = artifacts.load_model_file(
        tracking.artifact_root(workspace.root), dict(version.tags), str(version.version)
    )
    until = version.tags.get("until")
    return Champion(
        model,
        list(model.feature_names_in_),  # type: ignore[attr-defined]
        str(version.version),
        version.tags.get("rung", "?"),
        dt.date.fromisoformat(until) if until else None,
        int(version.tags.get("horizon_weeks", "8")),
        version.tags.get("calibrated", "true") != "false",
    )


RECENT_CASE = dt.timedelta(weeks=52)
"""A school-refusal case opened this long before the list or later puts its pupil in the
list's *followed* section (older cases are not ranked, and not shown)."""


def _known_cases(workspace: Workspace, as_of: dt.date) -> pl.DataFrame:
    """The pupils with a school-refusal case by ``as_of``: ``known_case``, and ``recent_case``
    when the last opened within :data:`RECENT_CASE`."""
    cases = pl.read_parquet(workspace.canonical_table("care_cases"))
    return (
        cases.with_columns(as_of=pl.lit(as_of))
        .filter(is_known_case())
        .group_by("student_key")
        .agg(pl.col("opened_on").max())
        .select(
            "student_key",
            known_case=pl.lit(True),
            recent_case=pl.col("opened_on") > as_of - RECENT_CASE,
        )
    )


def score_week(
    workspace: Workspace,
    champion: Champion,
    features: pl.DataFrame,
    as_of: dt.date,
    settings: ScoreSettings,
    background: pd.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, list[Reason]]]:
    """Risk, rank, profile and reasons for every pupil enrolled on ``as_of``, from the
    feature table of ``as_of`` (:class:`~pipelines.steps.features.FeatureCache`), or from its
    rows of whole schools (a shard) given the board's SHAP ``background`` (:func:`background_of`).

    Returns the scored frame (:data:`SCORED_COLUMNS`, keyed by ``student_key``) and the
    reasons of every explained pupil, by ``student_key`` (their texts are also the frame's
    ``signal_*`` columns).
    """
    if features.is_empty():
        raise NothingToScoreError(f"no pupil is enrolled on {as_of}: nothing to score")
    X = features.select(champion.features).to_pandas()
    if background is None:
        background = background_of(features, champion)
    risk = champion.model.predict_proba(X)[:, 1]  # type: ignore[attr-defined]
    frame = (
        features.with_columns(pl.Series("risk", risk), profile())
        .join(_known_cases(workspace, as_of), on="student_key", how="left")
        .with_columns(pl.col("known_case", "recent_case").fill_null(False))
        .with_row_index("_i")
    )
    ranked = rank_in_school(
        frame.filter(~pl.col("known_case")),
        settings.list_percent,
        settings.list_min,
        settings.explain_percent,
    )
    frame = (
        frame.join(
            ranked.select("_i", "rank", pl.col("listed").alias("above_cut"), "explained"),
            on="_i",
            how="left",
        )
        .with_columns(pl.col("explained").fill_null(False) | pl.col("known_case"))
        .sort("_i")
    )

    keys = frame["student_key"].to_list()
    by_key: dict[str, list[Reason]] = {}
    rows = frame["explained"].to_numpy().nonzero()[0]
    if len(rows):
        explanation = explain(champion.model, X.iloc[rows], background)
        typical = school_medians(frame, champion.features)[rows]
        for i, reasons in zip(
            rows, top_reasons(explanation, typical, settings.language, N_REASONS), strict=True
        ):
            by_key[keys[i]] = reasons
    signals = {
        f"signal_{k + 1}": [
            r[k].text if len(r := by_key.get(key, [])) > k else None for key in keys
        ]
        for k in range(N_REASONS)
    }
    frame = frame.with_columns(
        [pl.Series(name, values, dtype=pl.String) for name, values in signals.items()]
    )
    # Against the school's base rate: its ranked pupils' mean risk this week ("3x the usual").
    usual = pl.col("risk").filter(~pl.col("known_case")).mean().over("school_id")
    frame = frame.with_columns(
        times_usual=pl.when(~pl.col("known_case")).then(pl.col("risk") / usual)
    )
    if not champion.calibrated:  # a rule's score orders pupils; it is no probability
        frame = frame.with_columns(
            risk=pl.lit(None, dtype=pl.Float64), times_usual=pl.lit(None, dtype=pl.Float64)
        )
    return frame.select(SCORED_COLUMNS), by_key


def background_of(features: pl.DataFrame, champion: Champion) -> pd.DataFrame:
    """The SHAP background of a week: 200 of the board's pupils, drawn the same way each time
    (a shard's reasons use the board's, so they are the reasons of the board's run)."""
    X = features.select(champion.features).to_pandas()
    return X.sample(min(200, len(X)), random_state=0).sort_index()


def score_shard(
    workspace: Workspace,
    name: str,
    version: str,
    features: pl.DataFrame,
    as_of: dt.date,
    settings: ScoreSettings,
    background: pd.DataFrame,
) -> tuple[pl.DataFrame, dict[str, list[Reason]]]:
    """:func:`score_week` of a shard's rows (whole schools) on a worker, with the champion
    loaded and checked here (:func:`load_champion`): it must be ``version``, the one the run
    started with."""
    champion = load_champion(workspace, name)
    if champion.version != version:
        raise NoChampionError(
            f"the champion changed during the run (version {version}, now {champion.version}): "
            "score again"
        )
    return score_week(workspace, champion, features, as_of, settings, background)


def previous_list(workspace: Workspace, as_of: dt.date) -> dt.date | None:
    """The date of the last list made before ``as_of`` (a holiday or a skipped week in
    between does not make every pupil new), or None when there is none."""
    return max((d for d in list_dates(workspace) if d < as_of), default=None)


def _remembered(path: Path, schema: Mapping[str, Any]) -> pl.DataFrame:
    """A file the lists remember, or an empty frame of its ``schema`` before there is one."""
    return pl.read_parquet(path) if path.exists() else pl.DataFrame(schema=schema)


def place_week(
    workspace: Workspace, as_of: dt.date, scored: pl.DataFrame, settings: ScoreSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each pupil's place in this week's lists (:func:`models.carelist.weekly_list`), against
    the last list made before ``as_of`` and the care teams' feedback; and the pupils who left
    the list since (:func:`models.carelist.left_list`)."""
    day = previous_list(workspace, as_of)
    previous = (
        _remembered(workspace.listed(day), carelist.LISTED_SCHEMA)
        if day
        else pl.DataFrame(schema=carelist.LISTED_SCHEMA)
    )
    feedback = _remembered(workspace.feedback, carelist.FEEDBACK_SCHEMA)
    marked = [
        _remembered(workspace.listed(d), carelist.LISTED_SCHEMA).with_columns(list_date=pl.lit(d))
        for d in feedback["list_date"].unique().sort()
        if d < as_of
    ]
    marked_risk = (
        pl.concat(marked).select(list(carelist.MARKED_SCHEMA))
        if marked
        else pl.DataFrame(schema=carelist.MARKED_SCHEMA)
    )
    week = carelist.weekly_list(scored, previous, feedback, marked_risk, as_of, settings.capacity())
    return week, carelist.left_list(previous, week)


SCORE_COLUMNS = (
    "school_id",
    "student_id",
    "class_key",
    "risk",
    "times_usual",
    "rank",
    "listed",
    "change",
    "weeks_on_list",
    "section",
    "status",
    "profile",
    "known_case",
    "signal_1",
    "signal_2",
    "signal_3",
)


def write_week(
    workspace: Workspace,
    as_of: dt.date,
    scored: pl.DataFrame,
    settings: ScoreSettings,
    folder: Path,
    memory: Path,
) -> tuple[Path, pl.DataFrame, pl.DataFrame]:
    """``scores.csv`` for the board in ``folder`` (the date's staged folder), and what the
    lists remember in ``memory`` (the staged :meth:`~pipelines.workspace.Workspace.listed`);
    returns the CSV's path, its table as written (before the CSV makes formula-like text
    inert) with each row's ``student_key`` besides, and the pupils who left the lists."""
    placed, left = place_week(workspace, as_of, scored, settings)
    write_parquet(carelist.listed_of(placed), memory)
    identities = pl.read_parquet(workspace.secrets / "identity_map.parquet")
    frame = placed.join(identities, on="student_key", how="left").with_columns(shown_id())
    table = frame.select(*SCORE_COLUMNS, "student_key").sort(
        ["school_id", "rank", "student_id"], nulls_last=True
    )
    table = table.with_columns(pl.col("risk").round(6), pl.col("times_usual").round(2))
    path = write_csv(table.select(SCORE_COLUMNS), folder / "scores.csv")
    left = left.join(identities, on="student_key", how="left").with_columns(shown_id())
    return path, table, left


def schools_of(table: pl.DataFrame) -> list[str]:
    """The schools of a scores table, in order."""
    return sorted(table["school_id"].unique().to_list())


@dataclass(frozen=True)
class Surroundings:
    """What the week's lists show besides their rows, worked out once for all the schools."""

    left: pl.DataFrame
    """The pupils who left the lists since the last (:func:`write_week`), with their ids."""
    weeks: pl.DataFrame
    """The listed pupils' school year week by week (:func:`features.pupil_weeks.pupil_weeks`)."""
    risks: pl.DataFrame
    """``student_key, as_of, risk``: the listed pupils' risk on the recent lists they were on,
    this week's included."""

    def of(self, school_id: str, rows: pl.DataFrame) -> Surroundings:
        """What the list of one school, whose scores are ``rows``, shows besides them: a
        worker is sent its school's pupils only."""
        here = pl.col("school_id") == school_id
        mine = rows.select("student_key")
        return Surroundings(
            self.left.filter(here),
            self.weeks.filter(here),
            self.risks.join(mine, on="student_key", how="semi", maintain_order="left"),
        )


PICTURE_WEEKS = 12
"""The recent lists whose risk a pupil's picture draws as a line."""

PICTURE_TABLES = ("absences", "late_arrivals", "sick_bay_visits", "calendar")


def surroundings(
    workspace: Workspace, as_of: dt.date, table: pl.DataFrame, left: pl.DataFrame
) -> Surroundings:
    """The week's :class:`Surroundings`, from the board's scores ``table``: one read of the
    canonical events and of the recent lists for every listed pupil of every school."""
    listed = table.filter(pl.col("listed"))
    absences, late, visits, calendar = (
        pl.scan_parquet(workspace.canonical_table(name)) for name in PICTURE_TABLES
    )
    keys = listed.select("student_key", "school_id")
    weeks = pupil_weeks(absences, late, visits, calendar, keys, as_of)
    earlier = [d for d in list_dates(workspace) if d < as_of][-PICTURE_WEEKS + 1 :]
    wanted = listed["student_key"].implode()
    risks = [
        pl.read_parquet(workspace.listed(d))
        .filter(pl.col("student_key").is_in(wanted))
        .select("student_key", pl.lit(d).alias("as_of"), "risk")
        for d in earlier
        if workspace.listed(d).exists()
    ]
    now = listed.select("student_key", pl.lit(as_of).alias("as_of"), "risk")
    return Surroundings(left, weeks, pl.concat([*risks, now], how="vertical_relaxed"))


def reasons_of(reasons: dict[str, list[Reason]], rows: pl.DataFrame) -> dict[str, list[Reason]]:
    """The ``reasons`` of the pupils in ``rows`` (one school's: a worker gets only those)."""
    return {key: reasons[key] for key in rows["student_key"] if key in reasons}


def by_school(table: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The scores table split by school, once (each school's list reads only its own rows)."""
    return {
        str(key[0]): part for key, part in table.partition_by("school_id", as_dict=True).items()
    }


def write_school_list(
    as_of: dt.date,
    school_id: str,
    school: pl.DataFrame,
    reasons: dict[str, list[Reason]],
    around: Surroundings,
    settings: ScoreSettings,
    folder: Path,
    about: reports.About,
) -> list[Path]:
    """The care-team list of one school (CSV, XLSX and HTML), in its own folder of ``folder``.

    ``school`` is the school's rows of the scores table (:func:`write_week`, :func:`by_school`);
    ``reasons`` the explained pupils' reasons by ``student_key`` from :func:`score_week`;
    ``around`` what the lists show besides (:func:`surroundings`); ``about`` what the list
    says of itself (:func:`about`).
    """
    listed = school.filter(pl.col("listed")).sort("rank")
    weeks = around.weeks.filter(pl.col("school_id") == school_id)
    pictures = {
        key: pupil_picture(
            weeks.filter(pl.col("student_key") == key),
            around.risks.filter(pl.col("student_key") == key).select("as_of", "risk"),
            settings.language,
        )
        for key in listed["student_key"]
    }
    care = reports.CareList(
        listed=listed,
        reasons={key: reasons.get(key, []) for key in listed["student_key"]},
        followed=school.filter(pl.col("section") == "followed").sort("rank", nulls_last=True),
        left=around.left.filter(pl.col("school_id") == school_id)
        .join(school.select("student_key", "class_key"), on="student_key", how="left")
        .sort("last_rank"),
        waiting=school.filter(pl.col("section") == "waiting").height,
        resting=school.filter(pl.col("section") == "resting").height,
        max_new=settings.max_new,
        pictures=pictures,
        weeks=weeks,
        legend=picture_legend(settings.language) if pictures else "",
    )
    return reports.write_care_list(
        inside(folder, school_folder(school_id)),
        school_id,
        as_of,
        care,
        settings.language,
        about,
    )


def about(champion: Champion, name: str, gates: list[Gate]) -> reports.About:
    """What a school's list says of itself: the champion's window, its rule when it is one,
    its label, and the school's failed data gates this week."""
    return reports.About(
        horizon_weeks=champion.horizon_weeks,
        rule=champion.rule,
        model=champion.label(name),
        until=champion.until,
        notices=tuple(g.text for g in gates),
    )


def drift_table(
    workspace: Workspace, champion: Champion, features: pl.DataFrame
) -> pl.DataFrame | None:
    """Per school and family, the PSI of ``features`` against the champion's training rows
    (:mod:`models.drift`); None when the champion has no reference (a cold-start rule)."""
    path = workspace.drift_reference(champion.version)
    if not path.exists():
        return None
    reference = json.loads(path.read_text("utf-8"))
    families = {f.name: f.family for f in CATALOG}
    return drift.family_psi(features, reference, families)


def drift_summary(table: pl.DataFrame, as_of: dt.date) -> list[str]:
    """One line per school whose families shifted (PSI over :data:`models.drift.SHIFT`)."""
    shifted = table.filter(pl.col("psi") > drift.SHIFT)
    lines = []
    for (school,), rows in shifted.group_by("school_id", maintain_order=True):
        families = ", ".join(f"{f} {p:.2f}" for f, p in rows.select("family", "psi").iter_rows())
        lines.append(
            f"{as_of} drift at {school}: {families} (PSI against the champion's training rows, "
            f"over {drift.SHIFT}): its probabilities may no longer hold there"
        )
    return lines


def calibration_table(workspace: Workspace, as_of: dt.date, horizon_weeks: int) -> pl.DataFrame:
    """How the earlier lists' probabilities turned out, once their label windows closed.

    For each earlier date D with a ``scores.csv`` and ``D + horizon < as_of``: the pupils
    ranked then (no known or already begun case), their mean ``risk`` and the share of them
    with a school-refusal case whose label date fell in D's window, among the cases the
    workspace knows now; ``ece`` (equal-count bins). Returns ``list_date, pupils, mean_risk,
    observed, ece``, oldest first; empty when no window has closed (or no list had a risk).
    """
    horizon = dt.timedelta(weeks=horizon_weeks)
    closed = [d for d in list_dates(workspace) if d + horizon < as_of]
    schema = {
        "list_date": pl.Date,
        "pupils": pl.Int64,
        "mean_risk": pl.Float64,
        "observed": pl.Float64,
        "ece": pl.Float64,
    }
    if not closed:
        return pl.DataFrame(schema=schema)
    identities = pl.read_parquet(workspace.secrets / "identity_map.parquet").select(
        "student_key", shown_id(), id_school().alias("id_school")
    )
    cases = pl.scan_parquet(workspace.canonical_table("care_cases")).filter(
        pl.col("opened_on") < as_of
    )
    rows = []
    for day in closed:
        path = date_folder(workspace, day) / "scores.csv"
        listed = restore_formulas(pl.read_csv(path, separator=";", infer_schema=False))
        ranked = (
            listed.filter(pl.col("risk").is_not_null() & (pl.col("known_case") != "true"))
            .select("school_id", "student_id", pl.col("risk").cast(pl.Float64))
            .join(identities, on="student_id", how="inner")
            # a pupil keyed per school is the one at the list's school
            .filter(pl.col("id_school").is_null() | (pl.col("id_school") == pl.col("school_id")))
            .with_columns(as_of=pl.lit(day))
        )
        if ranked.is_empty():
            continue
        labelled = label_rows(ranked.lazy(), cases, horizon_weeks).collect()
        labelled = labelled.filter(~pl.col("ambiguous") & ~pl.col("known_case"))
        y, p = labelled["label"].to_numpy(), labelled["risk"].to_numpy()
        ece = expected_calibration_error(y, p)
        rows.append((day, labelled.height, float(p.mean()), float(y.mean()), ece))
    return pl.DataFrame(rows, schema=schema, orient="row")


def list_dates(workspace: Workspace) -> list[dt.date]:
    """The dates of every list made in the workspace (a date's folder with ``scores.csv``;
    a folder without one made no list), in order."""
    dates = []
    for path in workspace.outputs.glob("*/scores.csv"):
        try:
            dates.append(dt.date.fromisoformat(path.parent.name))
        except ValueError:
            continue  # not a date's folder
    return sorted(dates)


def calibration_summary(table: pl.DataFrame) -> str | None:
    """One line on the latest earlier list whose window closed."""
    if table.is_empty():
        return None
    day, pupils, risk, observed, ece = table.row(-1)
    return (
        f"the list of {day} (its window has closed): mean risk {risk:.2%}, observed "
        f"{observed:.2%} of {pupils:,} pupils ranked, calibration error {ece:.4f}"
    )


def log_monitoring(
    workspace: Workspace,
    as_of: dt.date,
    champion: Champion,
    shift: pl.DataFrame | None,
    calibration: pl.DataFrame,
) -> None:
    """A monitoring run in MLflow: each family's PSI over the board's schools (mean and
    largest) and how many schools shifted, and how the latest closed list's probabilities
    turned out; no school or pupil id."""
    import mlflow

    metrics: dict[str, float] = {}
    if shift is not None:
        board = shift.group_by("family").agg(
            pl.col("psi").mean().alias("mean"), pl.col("psi").max().alias("max")
        )
        metrics |= {f"psi_mean_{f}": m for f, m, _ in board.iter_rows()}
        metrics |= {f"psi_max_{f}": x for f, _, x in board.iter_rows()}
        shifted = shift.filter(pl.col("psi") > drift.SHIFT)
        metrics["schools_shifted"] = shifted["school_id"].n_unique()
    if not calibration.is_empty():
        _, pupils, risk, observed, ece = calibration.row(-1)
        metrics |= {
            "calibration_pupils": pupils,
            "calibration_mean_risk": risk,
            "calibration_observed": observed,
            "calibration_ece": ece,
        }
    if not metrics:
        return
    experiment = tracking.use_workspace(workspace.root)
    with mlflow.start_run(experiment_id=experiment, run_name=f"monitor-{as_of}"):
        tags = {"kind": "monitoring", "as_of": as_of.isoformat()}
        mlflow.set_tags({**tags, "champion_version": champion.version})
        mlflow.log_metrics(metrics)
        if not calibration.is_empty():
            mlflow.log_text(calibration.write_csv(separator=";"), "calibration.csv")


def data_gates(board: Board, features: pl.DataFrame, as_of: dt.date) -> dict[str, list[Gate]]:
    """The failed data gates of each school for the list of ``as_of`` (:mod:`features.gates`)."""
    enrolled = features.group_by("school_id").agg(pl.len().alias("pupils"))
    return gates.check(board.summary.by_week, board.days, enrolled, as_of)


def held(school_gates: list[Gate]) -> bool:
    """Whether a school's list is held this week (a gate failed at level ``hold``)."""
    return any(g.level == "hold" for g in school_gates)


def write_held(folder: Path, school_id: str, school_gates: list[Gate]) -> Path:
    """In place of a held school's list: ``held.txt`` saying why, in its own folder."""
    target = inside(folder, school_folder(school_id))
    target.mkdir(parents=True, exist_ok=True)
    path = target / "held.txt"
    path.write_text("".join(g.text + "\n" for g in school_gates), encoding="utf-8")
    return path


def backfill_warning(champion: Champion, dates: list[dt.date]) -> str | None:
    """A warning when dates lie before the champion's training cut-off (a backfill)."""
    seen = [d for d in dates if champion.until is not None and d < champion.until]
    if not seen:
        return None
    return (
        f"{len(seen)} of the dates ({seen[0]}..{seen[-1]}) lie before the champion's "
        f"training cut-off {champion.until}: it was fitted on what followed them, so these "
        "lists are a backfill, not a fair test of the model"
    )


def stale_export_warning(
    newest_event: dt.date | None, days: pl.DataFrame, as_of: dt.date
) -> str | None:
    """A warning when the export has no event since the school week before ``as_of``'s."""
    before = [d for d in first_school_days(days) if d < week_of(as_of)]
    if not before or (newest_event is not None and newest_event >= before[-1]):
        return None
    newest = f"is from {newest_event}" if newest_event else "does not exist"
    return (
        f"the newest event in the export {newest}, before the last school week before "
        f"{as_of} (which began {before[-1]}): is the export up to date? The list leans on "
        "old data"
    )


def early_year_warning(days: pl.DataFrame, dates: list[dt.date]) -> str | None:
    """A warning for dates whose school year has fewer than 2 school weeks behind them."""
    early = [(d, weeks_into_year(days, d)) for d in dates]
    early = [(d, n) for d, n in early if n < 2]
    if not early:
        return None
    which = ", ".join(f"{d} ({n})" for d, n in early)
    return (
        f"{len(early)} list(s) have fewer than 2 school weeks of their school year behind "
        f"them: {which}; their signals rest on last school year and on very few days of this one"
    )


def data_warnings(board: Board, champion: Champion, dates: list[dt.date]) -> list[str]:
    """What to warn of before scoring ``dates``: a backfill; for the latest date, a stale
    export; and lists early in a school year."""
    warnings = [backfill_warning(champion, dates)]
    if dates:
        warnings.append(stale_export_warning(board.summary.last, board.days, dates[-1]))
    warnings.append(early_year_warning(board.days, dates))
    return [w for w in warnings if w]


def moved_to_week(day: dt.date, first: dt.date) -> str:
    """One line: a date inside a school week is scored as of the week's first school day."""
    return f"{day} lies in the school week that begins {first}: scoring as of {first}"


def no_school(holidays: list[dt.date], days: pl.DataFrame) -> str:
    """One line: asked weeks without school, and the next school week after the first."""
    later = [d for d in first_school_days(days) if d > holidays[0]]
    weeks = ", ".join(f"the week of {h}" for h in holidays)
    next_week = f"; the next school week begins {later[0]}" if later else ""
    return f"no school in {weeks} (a holiday at every school): no list{next_week}"


def skipped_holidays(holidays: list[dt.date]) -> str:
    """One line: weeks of a range skipped because nobody had school."""
    return f"skipping {len(holidays)} week(s) without school: " + ", ".join(
        f"the week of {h}" for h in holidays
    )


def outside_calendar(dates: list[dt.date], days: pl.DataFrame) -> str:
    """One line: dates the export's calendar does not reach."""
    lo, hi = days["date"].min(), days["date"].max()
    assert isinstance(lo, dt.date) and isinstance(hi, dt.date)
    return (
        f"{', '.join(str(d) for d in dates)}: outside the calendar ({lo} to {hi}); the "
        "export's calendar must cover the school week scored"
    )


def describe(champion: Champion, name: str) -> str:
    """The champion in one line, for the log."""
    return f"champion: {name} version {champion.version} ({champion.rung})"


def date_folder(workspace: Workspace, as_of: dt.date) -> Path:
    """Where a date's scores and lists live."""
    return workspace.outputs / as_of.isoformat()


SHARED_FOLDER = "its id maps to the same list folder as another school's id; no list written"


def shared_folders(schools: list[str]) -> set[str]:
    """The school ids whose list folder another id maps to as well (only a crafted id can)."""
    folders: dict[str, list[str]] = {}
    for school in schools:
        folders.setdefault(school_folder(school), []).append(school)
    return {s for ids in folders.values() if len(ids) > 1 for s in ids}


def drop_school(folder: Path, school_id: str) -> None:
    """Remove what a failed school's list left in the staged folder."""
    path = inside(folder, school_folder(school_id))
    if path.is_dir():
        shutil.rmtree(path)
