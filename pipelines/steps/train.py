"""``schoolpoort train``: the ladder on forward splits, tracked in MLflow, champion registered."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from features.build import Prepared
from features.catalog import CATALOG
from features.catalog import names as feature_names
from models import drift, ladder, rules
from models.labels import cases_known_before, label_rows, usable_for_training
from models.splits import Split, rolling_splits
from models.training import Scan, TrainingTable
from pipelines import artifacts, tracking
from pipelines.render import plots
from pipelines.settings import TrainSettings
from pipelines.steps.features import FeatureStore, build_features, load_prepared
from pipelines.workspace import Workspace, locked, write_atomic, write_json

Say = Callable[[str], None]

TABLE_METRICS = (
    "precision_at_2",
    "precision_at_5",
    "recall_at_2",
    "recall_at_5",
    "median_lead_weeks",
    "brier",
    "ece",
)


class TrainingError(ValueError):
    """Training cannot go ahead (too little history, no cases...)."""


@dataclass(frozen=True)
class TrainReport:
    """What a training run did (aggregates only)."""

    until: dt.date
    splits: list[Split]
    results: list[ladder.RungResult]
    champion: str
    run_id: str
    model_version: str
    cold_start: str | None = None
    """Why a rule was registered without training, when it was (too little history)."""
    eligibility: dict[str, str] = field(default_factory=dict)
    """Per rung, in words, why it is or is not the champion."""

    def table(self) -> pl.DataFrame:
        """One row per rung: mean of each headline metric over the splits."""
        return pl.DataFrame(
            [
                {
                    "rung": r.rung.name,
                    **{m: r.mean(m) for m in TABLE_METRICS},
                    "selection_score": ladder.selection_score(r),
                }
                for r in self.results
            ]
        )


def training_dates(
    workspace: Workspace, prepared: Prepared, until: dt.date, settings: TrainSettings, say: Say
) -> list[dt.date]:
    """The as-of dates whose label window closed before ``until``, their features built."""
    horizon = dt.timedelta(weeks=settings.horizon_weeks)
    dates = [d for d in prepared.as_of_dates(end=until) if d + horizon < until]
    if not dates:
        raise TrainingError(
            f"no as-of date has its {settings.horizon_weeks}-week label window closed before {until}"
        )
    build_features(workspace, dates, prepared, say=say)
    return dates


def training_scan(workspace: Workspace, until: dt.date, settings: TrainSettings) -> Scan:
    """``scan(dates)``: the usable labelled rows of some as-of dates, read lazily from the
    workspace's feature tables (nothing is read until a caller collects)."""
    cases = cases_known_before(pl.scan_parquet(workspace.canonical_table("care_cases")), until)
    store = FeatureStore(workspace)
    usable = usable_for_training(until, settings.horizon_weeks)

    def scan(dates: Sequence[dt.date]) -> pl.LazyFrame:
        return label_rows(store.scan(dates), cases, settings.horizon_weeks).filter(usable)

    return scan


def training_table(
    workspace: Workspace,
    prepared: Prepared,
    until: dt.date,
    settings: TrainSettings,
    say: Say,
    extra: tuple[str, ...] = (),
) -> TrainingTable:
    """The usable rows of every as-of date whose label window closed before ``until``, read
    lazily: fitting sees every case and a seeded share of each school-week's non-cases
    (``settings.negative_fraction``, or less to keep at most ``negatives_per_positive`` of
    them per positive row; reweighted), calibration and test every row; ``extra`` columns
    (``outcome``, say) are read beside the keys, labels and features."""
    dates = training_dates(workspace, prepared, until, settings, say)
    return TrainingTable.over(
        training_scan(workspace, until, settings),
        dates,
        feature_names(),
        fraction=settings.negative_fraction,
        seed=settings.seed,
        extra=extra,
        per_positive=settings.negatives_per_positive,
    )


def forward_splits(
    dates: Sequence[dt.date], until: dt.date, settings: TrainSettings
) -> list[Split]:
    """The rolling forward splits over the as-of ``dates`` that hold usable rows (train and
    evaluate use the same ones)."""
    splits = rolling_splits(
        sorted(set(dates)),
        until,
        settings.horizon_weeks,
        settings.calibration_weeks,
        settings.test_weeks,
        settings.min_fit_weeks,
        settings.max_splits,
    )
    if not splits:
        raise TrainingError(
            f"not enough history before {until} for one forward split "
            f"(need {settings.min_fit_weeks} fit weeks + 2 horizons + calibration + test)"
        )
    return splits


def default_until(prepared: Prepared) -> dt.date:
    last = prepared.summary.last
    assert isinstance(last, dt.date)
    return last + dt.timedelta(days=1)


def run_train(workspace: Workspace, settings: TrainSettings, say: Say = print) -> TrainReport:
    """Train, validate forward in time, log everything to MLflow, register the champion.

    Holds the workspace's lock, like every step that writes.
    """
    with locked(workspace, "train", say):
        return _train(workspace, settings, say)


def _train(workspace: Workspace, settings: TrainSettings, say: Say) -> TrainReport:
    prepared = load_prepared(workspace)
    until = settings.until or default_until(prepared)
    features = feature_names()
    try:
        table = training_table(workspace, prepared, until, settings, say)
        del prepared  # the pupil-days are not needed past the feature tables: free them
        splits = forward_splits(table.dates, until, settings)
    except TrainingError as exc:
        return cold_start(workspace, settings, until, str(exc), say)
    cases = table.positives
    if cases < settings.min_cases:
        reason = f"{cases} new care case(s) in the training rows, fewer than {settings.min_cases}"
        return cold_start(workspace, settings, until, reason, say)
    say(
        f"training on {table.rows:,} pupil-weeks, {cases:,} positive (fitted on every positive "
        f"and {table.fraction:.1%} of each school-week's others); "
        f"{len(splits)} forward splits:"
    )
    for split in splits:
        say("  " + split.describe())
    # The drift reference reads every training row, a few features at a time: done first,
    # while nothing else is held (after the fits, their freed memory is not all given back).
    reference = drift.reference(table.scan(table.dates), features)
    options = ladder.FitOptions(negative_fraction=table.fraction, seed=settings.seed)
    rungs = ladder.default_ladder()
    with tempfile.TemporaryDirectory(prefix="scored-") as tmp:
        parts = _ScoredParts(Path(tmp))
        results = ladder.evaluate(
            rungs, table, splits, features, options, progress=say, keep_scored=parts.keep
        )
        champion = ladder.select(results)
        return _finish(
            workspace, settings, until, table, reference, splits, results, champion, parts
        )


def _finish(
    workspace: Workspace,
    settings: TrainSettings,
    until: dt.date,
    table: TrainingTable,
    reference: drift.Reference,
    splits: list[Split],
    results: list[ladder.RungResult],
    champion: ladder.RungResult,
    parts: _ScoredParts,
) -> TrainReport:
    """Fit the champion on everything before ``until``, log the run, register the champion."""
    features = table.features
    options = ladder.FitOptions(negative_fraction=table.fraction, seed=settings.seed)
    try:
        model, final_info = ladder.fit_final(
            champion.rung,
            table,
            until,
            settings.horizon_weeks,
            settings.calibration_weeks,
            features,
            options,
        )
    except ladder.CalibrationError as exc:
        # Nothing is registered: the previous champion, if any, stays.
        raise ladder.CalibrationError(
            f"the champion cannot be fitted on everything before {until} ({exc}); "
            "nothing was registered"
        ) from None
    table.release()
    parts.write(results, workspace.root / "evaluation" / "scored_splits.parquet")
    scored = parts.read(champion.rung.name, ["label", "risk"])
    trained = _Trained(
        until=until,
        table=table,
        reference=reference,
        splits=splits,
        results=results,
        champion=champion,
        model=model,
        final_info=final_info,
        scored=scored,
        features=features,
    )
    run_id, version = _log(workspace, settings, trained)
    words = ladder.eligibility(results, champion)
    return TrainReport(
        until, splits, results, champion.rung.name, run_id, version, eligibility=words
    )


class _ScoredParts:
    """The rungs' scored test rows, one Parquet file per rung and split, instead of in memory
    (seven rungs times every test row would be the largest thing a training run holds)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.paths: dict[str, list[Path]] = {}

    def keep(self, result: ladder.RungResult, scored: pl.DataFrame) -> None:
        paths = self.paths.setdefault(result.rung.name, [])
        path = self.folder / f"{result.rung.name}-{len(paths)}.parquet"
        scored.with_columns(pl.col("student_key", "school_id").cast(pl.String)).write_parquet(path)
        paths.append(path)

    def read(self, rung: str, columns: list[str]) -> pl.DataFrame:
        """The ``columns`` of one rung's scored rows, every split."""
        return pl.concat([pl.read_parquet(p, columns=columns) for p in self.paths[rung]])

    def write(self, results: list[ladder.RungResult], path: Path) -> None:
        """Every rung's scored rows, rung after rung, into one file (streamed)."""
        scored = pl.concat(
            [
                pl.scan_parquet(p).with_columns(rung=pl.lit(r.rung.name))
                for r in results
                for p in self.paths.get(r.rung.name, [])
            ]
        )
        write_atomic(path, lambda p: scored.sink_parquet(p, compression="zstd"))


COLD_START_TEXT = (
    "too little history to train ({reason}): the rule {rule} is registered as champion, "
    "uncalibrated; the lists rank pupils by it and show no probability until a model is trained"
)


def cold_start(
    workspace: Workspace, settings: TrainSettings, until: dt.date, reason: str, say: Say
) -> TrainReport:
    """Register the rule ``settings.cold_start_rule`` as champion, uncalibrated, so that a
    board without care-case history gets lists from its first week; logged as its own run."""
    import mlflow

    rule = next(r for r in rules.RULES if r.name == settings.cold_start_rule)
    features = feature_names()
    model = rule().fit(_synthetic_example(features).to_pandas())
    say(COLD_START_TEXT.format(reason=reason, rule=rule.name))
    experiment = tracking.use_workspace(workspace.root)
    with mlflow.start_run(experiment_id=experiment, run_name=f"cold-start-until-{until}") as run:
        mlflow.log_params({"until": until.isoformat(), "champion": rule.name, "cold_start": True})
        mlflow.set_tags({"cold_start_reason": reason, "champion": rule.name})
        version = register_champion(
            workspace,
            settings.model_name,
            model,
            features,
            tags={
                "rung": rule.name,
                "until": until.isoformat(),
                "horizon_weeks": str(settings.horizon_weeks),
                "calibrated": "false",
                "cold_start": reason,
            },
        )
    return TrainReport(until, [], [], rule.name, run.info.run_id, version, cold_start=reason)


def _synthetic_example(features: list[str]) -> pl.DataFrame:
    """An input example that is nobody's row: zeros, a few plausible small values."""
    row = {name: 0.0 for name in features}
    row.update({"school_weeks_into_year": 10.0, "first_year_secondary": 1.0})
    return pl.DataFrame([row]).select(features)


@dataclass(frozen=True)
class _Trained:
    """What a training run produced, as :func:`_log` records it."""

    until: dt.date
    table: TrainingTable  # the training rows (pupil-weeks with their labels), read lazily
    reference: drift.Reference  # the training rows' feature bins, for the weekly drift check
    splits: list[Split]
    results: list[ladder.RungResult]  # every rung on every split
    champion: ladder.RungResult  # the selected rung's result
    model: object  # the champion refitted on everything before ``until``
    final_info: dict[str, object]  # how that final fit was made (logged as parameters)
    scored: pl.DataFrame  # the champion's scored test slices (``label`` and ``risk``)
    features: list[str]


def _log(workspace: Workspace, settings: TrainSettings, trained: _Trained) -> tuple[str, str]:
    """Log the run to MLflow (a nested run per rung, the report) and register the champion.

    Returns the parent run's id and the new model version.
    """
    import mlflow

    experiment = tracking.use_workspace(workspace.root)
    manifest = json.loads(workspace.manifest.read_text("utf-8"))
    run_name = f"train-until-{trained.until}"
    with mlflow.start_run(experiment_id=experiment, run_name=run_name) as parent:
        _log_training(settings, trained, manifest)
        words = ladder.eligibility(trained.results, trained.champion)
        mlflow.set_tag("champion_reason", words[trained.champion.rung.name])
        for result in trained.results:
            with mlflow.start_run(experiment_id=experiment, run_name=result.rung.name, nested=True):
                _log_rung(result)
                mlflow.set_tag("eligibility", words[result.rung.name])
        _log_report(trained)
        version = _register(workspace, settings, trained)
        reference = trained.reference
        write_json(reference, workspace.drift_reference(version))
        mlflow.log_dict(reference, "drift_reference.json")
        card = model_card(trained, settings, version, words, manifest)
        mlflow.log_text(card, "model_card.md")
        write_atomic(workspace.root / MODEL_CARD, lambda p: p.write_text(card, encoding="utf-8"))
        from mlflow import MlflowClient

        MlflowClient().update_model_version(
            settings.model_name, version, description=describe_version(trained, settings)
        )
        return parent.info.run_id, version


MODEL_CARD = "model_card.md"
"""The champion's model card in the workspace (also an artifact of its training run)."""


def _best_rule(trained: _Trained) -> ladder.RungResult | None:
    rules_ = [r for r in trained.results if r.rung.kind == "rule" and not r.failures]
    return max(rules_, key=lambda r: r.mean("precision_at_2"), default=None)


def describe_version(trained: _Trained, settings: TrainSettings) -> str:
    """The registered version's description: what it predicts, its horizon, its headline
    precision and lead time against the best rule."""
    champion = trained.champion
    rule = _best_rule(trained)
    against = (
        f" (the best rule, {rule.rung.name}: {rule.mean('precision_at_2'):.3f})"
        if rule is not None and rule is not champion
        else ""
    )
    return (
        "Estimates, for each pupil enrolled on a school week's first day, the chance that a "
        f"school-refusal care case starts within {settings.horizon_weeks} weeks. Rung "
        f"{champion.rung.name}, fitted on everything before {trained.until}. Over "
        f"{len(trained.splits)} forward splits: precision in each school's top 2% "
        f"{champion.mean('precision_at_2'):.3f}{against}; median lead time "
        f"{champion.mean('median_lead_weeks'):.1f} weeks. A conversation starter for the care "
        "team, not a diagnosis."
    )


def model_card(
    trained: _Trained,
    settings: TrainSettings,
    version: str,
    words: dict[str, str],
    manifest: dict[str, Any],
) -> str:
    """The champion's model card (Markdown): intended use, data, evaluation, fairness, limits."""
    table = trained.table
    rows = "\n".join(
        f"| {r.rung.name} | {r.mean('precision_at_2'):.3f} | {r.mean('recall_at_2'):.3f} | "
        f"{r.mean('median_lead_weeks'):.1f} | {r.mean('brier'):.4f} | {words[r.rung.name]} |"
        for r in trained.results
    )
    return f"""# Model card: {settings.model_name} version {version} ({trained.champion.rung.name})

{describe_version(trained, settings)}

## Intended use
A weekly, per-school list of pupils whose absences, late arrivals and sick-bay visits look
like the start of school refusal, with the signals behind each place, for the care team
(pupil counsellor, class teacher, pupil guidance centre) to **start a conversation**. It is
not a diagnosis, not a judgement of a pupil or family, and not a ground for sanctions or for
any decision about a pupil without a person who knows the pupil.

## Data
{table.rows:,} pupil-weeks before {trained.until}, {table.positives:,} of them
followed by a new school-refusal case within {settings.horizon_weeks} weeks; code profile
`{manifest["code_profile"]}`; input fingerprint `{manifest["fingerprint"][:16]}`. The label is a
care case *opened* by the school: refusal the school never recorded is invisible to it.
Pupils are pseudonymised at ingest; nothing here or in MLflow identifies a pupil.

## Evaluation
Forward in time, {len(trained.splits)} splits (fit, then calibrate on later weeks, then test
on later weeks still). Means over the splits; precision and recall in each school's top 2%.

| rung | precision top 2% | recall top 2% | median lead (weeks) | Brier | why |
|---|---|---|---|---|---|
{rows}

## Fairness
Not computed by `train`: run `schoolpoort evaluate`, whose report compares precision, recall
and the share listed by gender, low socio-economic status and special educational needs.

## Limits
- Calibrated on the board's own later weeks; a new school year, a new code practice or a
  partial export shifts it: retrain each term, and read the weekly run's warnings.
- Small schools list at least 3 pupils, so their lists hold more pupils who are not at risk.
- Pupils with equal scores (many, under a rule) are listed in the order of their pseudonyms:
  arbitrary, but the same every week.

## EU AI Act and GDPR
The AI Act (Regulation (EU) 2024/1689) lists AI in education among its high-risk uses
(Annex III, point 3: admission, evaluating learning outcomes, the level of education, and
monitoring pupils during tests). An early-warning list for care teams is not named there, but
it profiles minors from health-related data: a board should use it with the high-risk duties
in mind (a person decides, every place on the list explains itself, every run is logged,
data quality is checked every week) and carry out a data-protection impact assessment under
the GDPR (Article 35) before its first list.
"""


def _log_training(settings: TrainSettings, trained: _Trained, manifest: dict[str, Any]) -> None:
    """The parent run's parameters (settings, inputs, champion, final fit), tags and counts."""
    import mlflow

    mlflow.log_params(
        {
            **{f"train.{k}": v for k, v in settings.model_dump(mode="json").items()},
            "until": trained.until.isoformat(),
            "input_fingerprint": manifest["fingerprint"],
            "code_profile": manifest["code_profile"],
            "git_commit": tracking.git_commit(),
            "features": len(trained.features),
            "selection_rule": ladder.SELECTION_RULE,
            "champion": trained.champion.rung.name,
            "negatives_kept": trained.table.fraction,
            **trained.final_info,
        }
    )
    mlflow.set_tags(tracking.package_versions())
    table = trained.table
    mlflow.log_metrics(
        {"rows": table.rows, "positives": table.positives, "splits": len(trained.splits)}
    )


def _log_rung(result: ladder.RungResult) -> None:
    """One rung in the active (nested) run: its metrics per split, their means, its selection
    score and its calibration failures."""
    import mlflow

    mlflow.log_params(
        {
            "rung": result.rung.name,
            "kind": result.rung.kind,
            "description": result.rung.description,
        }
    )
    for step, metrics in enumerate(result.metrics):
        mlflow.log_metrics({k: v for k, v in metrics.items() if not np.isnan(v)}, step=step)
    mlflow.log_metrics(
        {f"mean_{m}": result.mean(m) for m in TABLE_METRICS if not np.isnan(result.mean(m))}
    )
    mlflow.log_metric("selection_score", ladder.selection_score(result))
    if result.failures:
        mlflow.set_tag("calibration_failures", " | ".join(result.failures))


def _log_report(trained: _Trained) -> None:
    """The run's ``report`` artifacts: split, precision and calibration plots, the feature
    catalog and the splits as text."""
    import mlflow

    splits, champion = trained.splits, trained.champion
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plots.splits_plot(splits, folder / "splits.png")
        plots.precision_at_k_plot(trained.results, folder / "precision_at_k.png")
        plots.calibration_plot(
            trained.scored, folder / "calibration.png", title=f"{champion.rung.name} (test slices)"
        )
        _catalog_table().write_csv(folder / "feature_catalog.csv")
        (folder / "splits.txt").write_text("\n".join(s.describe() for s in splits) + "\n")
        mlflow.log_artifacts(str(folder), artifact_path="report")


def _catalog_table() -> pl.DataFrame:
    """The feature catalog as a table: name, family, unit, direction, descriptions EN and NL."""
    return pl.DataFrame(
        [
            {
                "name": f.name,
                "family": f.family,
                "unit": f.unit,
                "direction": f.direction,
                "description_en": f.en,
                "description_nl": f.nl,
            }
            for f in CATALOG
        ]
    )


def _register(workspace: Workspace, settings: TrainSettings, trained: _Trained) -> str:
    """Register the final model as the champion (:func:`register_champion`), with its rung,
    ``until`` and horizon as metadata and tags; returns the new version."""
    rung, until = trained.champion.rung.name, trained.until.isoformat()
    return register_champion(
        workspace,
        settings.model_name,
        trained.model,
        trained.features,
        metadata={
            "features": trained.features,
            "horizon_weeks": settings.horizon_weeks,
            "rung": rung,
            "until": until,
        },
        tags={
            "rung": rung,
            "until": until,
            "horizon_weeks": str(settings.horizon_weeks),
        },
    )


def register_champion(
    workspace: Workspace,
    name: str,
    model: object,
    features: list[str],
    metadata: dict[str, object] | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Log ``model`` to the active run with skops, register it and make it the champion.

    The version is tagged with the model file's path inside the workspace's artifacts and its
    SHA-256 digest, which :func:`pipelines.artifacts.load_model_file` checks before loading;
    the model is loaded back that way before the alias moves, so a champion is always loadable.

    Parameters
    ----------
    workspace : Workspace
        The workspace whose registry and artifacts receive the model.
    name : str
        The registered model's name.
    model : object
        The fitted, calibrated model.
    features : list of str
        Its input columns, in order.
    metadata : dict, optional
        Stored with the logged model.
    tags : dict of str to str, optional
        More model-version tags (rung, until).

    Returns
    -------
    str
        The new model version.

    Raises
    ------
    TrainingError
        The model holds types the loader does not trust, or does not load back the same.
    """
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.sklearn import SERIALIZATION_FORMAT_SKOPS

    foreign = artifacts.untrusted_types(model)
    if foreign:
        # Type names are code, not data: naming them helps whoever extends the ladder.
        raise TrainingError(
            f"the model holds types the loader does not trust: {foreign}; "
            "add them to pipelines/artifacts.py TRUSTED if they are safe to build"
        )
    example = _synthetic_example(features).to_pandas()
    proba = model.predict_proba(example)  # type: ignore[attr-defined]
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        serialization_format=SERIALIZATION_FORMAT_SKOPS,
        # No input_example: MLflow would check it by reloading the model through its own
        # loaders, which refuse here (pickle deserialisation is off) and log a warning; the
        # reload below checks the model through schoolpoort's loader instead.
        signature=infer_signature(example, proba),
        pip_requirements=tracking.pip_requirements(),
        skops_trusted_types=artifacts.skops_types(model),
        metadata=metadata,
    )
    root = tracking.artifact_root(workspace.root)
    folder = artifacts.local_path(mlflow.get_logged_model(info.model_id).artifact_location)
    recorded = artifacts.registration_tags(root, folder)
    loaded = artifacts.load_model_file(root, recorded, "new")
    if not np.array_equal(loaded.predict_proba(example), proba):  # type: ignore[attr-defined]
        raise TrainingError("the logged model does not load back with the same predictions")
    version = mlflow.register_model(info.model_uri, name, tags={**(tags or {}), **recorded})
    # The alias moves last: the champion always has its digest and location tags.
    mlflow.MlflowClient().set_registered_model_alias(name, tracking.CHAMPION, str(version.version))
    return str(version.version)
