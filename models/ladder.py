"""The model ladder: today's rules, a logistic scorecard and monotone boosting, every rung
fitted, calibrated and scored the same way on the same forward splits.

The champion must never contradict the catalog's risk directions (its reasons are read in
those directions), so the scorecard that can be champion is sign-constrained; the free
scorecard runs beside it for comparison only, to show what the constraint costs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from models import estimators, rules
from models.metrics import METRIC_KEYS, summarise
from models.splits import Split, make_split
from models.training import WEIGHT, TrainingTable, sample_fit_rows

Factory = Callable[[list[str]], BaseEstimator]


class CalibrationError(ValueError):
    """A rung that cannot be fitted and calibrated on a split (no case to fit, too few cases to
    calibrate, a Platt fit that reverses the ranking), or a ladder in which no rung can be on
    every split (then nothing can be champion)."""


MIN_CALIBRATION_CASES = 2
"""Fewer cases than this in a calibration slice and a Platt fit means nothing."""


@dataclass(frozen=True)
class Rung:
    """One model of the ladder."""

    name: str
    kind: str  # "rule" or "model"
    make: Factory
    description: str
    comparison_only: str = ""
    """Why the rung is evaluated beside the others but can never be champion ("" if it can)."""


FREE_SCORECARD_NOTE = (
    "its weights are free, so a signal can count against the catalog's risk direction "
    "(being on time raising the risk)"
)


def default_ladder() -> list[Rung]:
    """The ladder of the design: three rules, a scorecard, monotone boosting.

    The scorecard is sign-constrained (:func:`models.estimators.constrained_scorecard`); the
    free scorecard, ``scorecard_free``, is a comparison rung that cannot be champion.
    """
    rungs = [
        Rung(r.name, "rule", lambda _f, r=r: r(), (r.__doc__ or "").strip().splitlines()[0])  # type: ignore[misc]
        for r in rules.RULES
    ]
    rungs.append(
        Rung(
            "scorecard",
            "model",
            estimators.constrained_scorecard,
            "Regularised logistic scorecard, each weight signed as the catalog expects",
        )
    )
    rungs.append(
        Rung(
            "scorecard_free",
            "model",
            estimators.scorecard,
            "Regularised logistic scorecard, weights free (comparison only)",
            comparison_only=FREE_SCORECARD_NOTE,
        )
    )
    rungs.append(
        Rung("monotone_gbm", "model", estimators.monotone_boosting, "Gradient boosting, monotone")
    )
    return rungs


@dataclass(frozen=True)
class FitOptions:
    """Knobs of fitting."""

    negative_fraction: float = 0.25
    """Share of each school-week's label-0 rows kept for fitting (reweighted so that their
    weights add up to the school-week's label-0 rows); all positives are kept
    (:func:`models.training.sample_fit_rows`)."""
    seed: int = 0


def _xy(frame: pl.DataFrame, features: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    return frame.select(features).to_pandas(), frame["label"].to_numpy().astype(int)


def _selects_only(model: Pipeline, features: list[str]) -> bool:
    """Whether ``model`` is a column selection of ``features``, in order, then its estimator."""
    if len(model.steps) != 2 or not isinstance(model.steps[0][1], ColumnTransformer):
        return False
    select = model.steps[0][1]
    return select.remainder == "drop" and [
        (how, list(columns)) for _, how, columns in select.transformers
    ] == [("passthrough", features)]


def _float64(frame: pl.DataFrame, features: list[str]) -> np.ndarray:
    """``frame``'s ``features`` as one C-ordered float64 array, filled a column at a time."""
    X = np.empty((frame.height, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        X[:, j] = frame[name].to_numpy()
    return X


def _fit_weighted(
    model: BaseEstimator, kept: pl.DataFrame, features: list[str], weights: np.ndarray
) -> None:
    """Fit ``model`` on the sampled rows ``kept``, each row weighted.

    A pipeline that only selects the features before its estimator (the boosting rung)
    learns nothing from the rows in that step: the selection is fitted on one row (the
    column names), the estimator on the one float64 array the selection and the estimator's
    own check would have made from a pandas frame, filled from ``kept`` directly. The same
    model, without the frame's three copies on the way (the peak of training on a large
    board).
    """
    if not isinstance(model, Pipeline):
        raise TypeError(f"a learned rung is a scikit-learn Pipeline, not {type(model).__name__}")
    y = kept["label"].to_numpy().astype(int)
    (_, first), (last, estimator) = model.steps[0], model.steps[-1]
    if _selects_only(model, features):
        first.fit(kept.head(1).select(features).to_pandas())
        estimator.fit(_float64(kept, features), y, sample_weight=weights)
    else:
        model.fit(kept.select(features).to_pandas(), y, **{f"{last}__sample_weight": weights})


def _sampled(frame: pl.DataFrame, options: FitOptions) -> tuple[pl.DataFrame, np.ndarray]:
    """``frame``'s fit rows and their weights: as they are when it holds ``weight`` (already
    sampled, :class:`models.training.TrainingTable`), else sampled here."""
    if WEIGHT not in frame.columns:
        # Rows without keys (a hand-made frame) are one school-week, told apart by position.
        missing = {
            "student_key": pl.int_range(pl.len()).cast(pl.String),
            "as_of": pl.lit(None, dtype=pl.Date),
            "school_id": pl.lit(None, dtype=pl.String),
        }
        added = [v.alias(k) for k, v in missing.items() if k not in frame.columns]
        rows = frame.lazy().with_columns(added)
        sampled = sample_fit_rows(rows, options.negative_fraction, options.seed)
        frame = sampled.drop([k for k in missing if k not in frame.columns]).collect()
    return frame, frame[WEIGHT].to_numpy()


def table_of(
    data: pl.DataFrame | TrainingTable, features: list[str], options: FitOptions
) -> TrainingTable:
    """``data`` as a :class:`~models.training.TrainingTable` (rows in memory are wrapped)."""
    if isinstance(data, TrainingTable):
        return data
    return TrainingTable.in_memory(data, features, options.negative_fraction, options.seed)


def fit_calibrated(
    rung: Rung,
    fit: pl.DataFrame,
    calibration: pl.DataFrame,
    features: list[str],
    options: FitOptions,
) -> CalibratedClassifierCV:
    """Fit a rung on ``fit`` and calibrate it on the later ``calibration`` rows.

    ``fit`` is either already sampled, with a ``weight`` column, or every fit row (its
    negatives are then sampled as :func:`models.training.sample_fit_rows` says).

    Raises
    ------
    CalibrationError
        Fewer than :data:`MIN_CALIBRATION_CASES` cases in ``calibration``, no case in ``fit``
        for a learned rung, or a Platt fit that would reverse the ranking.
    """
    # The slices are checked before fitting: boosting takes a while to fit for nothing.
    cases = int(calibration["label"].sum())
    if cases < MIN_CALIBRATION_CASES:
        # A CalibrationError, not a crash: the rung is skipped on this split, as documented.
        raise CalibrationError(
            f"{rung.name}: {cases} case(s) in the calibration slice, "
            f"fewer than {MIN_CALIBRATION_CASES}"
        )
    if rung.kind != "rule" and int(fit["label"].sum()) == 0:
        raise CalibrationError(f"{rung.name}: no case in the fit slice to learn from")
    model = rung.make(features)
    if rung.kind == "rule":
        model.fit(fit.select(features).head(1).to_pandas())
    else:
        kept, weights = _sampled(fit, options)
        _fit_weighted(model, kept, features, weights)
        del kept  # the fit's rows go before the calibration slice's copies are made
    Xc, yc = _xy(calibration, features)
    calibrated = estimators.calibrate(model, Xc, yc)
    # Platt maps the score through 1 / (1 + exp(a * score + b)): a >= 0 would flatten or
    # reverse the ranking that was validated, so such a slice is refused.
    slope = float(calibrated.calibrated_classifiers_[0].calibrators[0].a_)
    if slope >= 0:
        raise CalibrationError(
            f"{rung.name}: calibration on the later weeks would reverse the ranking (a higher "
            f"score would mean a lower risk: Platt's a = {slope:.3g}, not below 0)"
        )
    return calibrated


def score(model: CalibratedClassifierCV, frame: pl.DataFrame, features: list[str]) -> pl.DataFrame:
    """``frame`` with ``score`` (the model's own ranking score) and ``risk`` (calibrated)."""
    X = frame.select(features).to_pandas()
    risk = model.predict_proba(X)[:, 1]
    inner = estimators.uncalibrated(model)
    raw = inner.decision_function(X) if hasattr(inner, "decision_function") else risk
    return frame.with_columns(
        pl.Series("score", np.asarray(raw, dtype=float)), pl.Series("risk", risk)
    )


@dataclass
class RungResult:
    """A rung's metrics per split, and its scored test rows."""

    rung: Rung
    metrics: list[dict[str, float]] = field(default_factory=list)
    scored: list[pl.DataFrame] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    models: list[CalibratedClassifierCV | None] = field(default_factory=list)
    """The calibrated model of each split (``None`` where it could not be calibrated)."""

    def mean(self, metric: str) -> float:
        values = [m[metric] for m in self.metrics if not np.isnan(m[metric])]
        return float(np.mean(values)) if values else float("nan")

    def std(self, metric: str) -> float:
        values = [m[metric] for m in self.metrics if not np.isnan(m[metric])]
        return float(np.std(values)) if values else float("nan")


def evaluate(
    rungs: list[Rung],
    data: pl.DataFrame | TrainingTable,
    splits: list[Split],
    features: list[str],
    options: FitOptions,
    progress: Callable[[str], None] = lambda _m: None,
    keep_scored: Callable[[RungResult, pl.DataFrame], None] | None = None,
) -> list[RungResult]:
    """Fit, calibrate and test every rung on every split.

    Each rung's scored test rows go to :attr:`RungResult.scored`, or, given ``keep_scored``,
    to ``keep_scored(result, scored)`` instead (to write them out rather than hold a scored
    copy of every test slice per rung).

    ``data`` holds the usable rows (labels known, not known or ambiguous cases) with
    ``student_key, as_of, school_id, label, label_date`` and the features: in memory, or a
    :class:`~models.training.TrainingTable` that reads each split's slices when they are
    needed (its sample and seed then hold, not ``options``'). Every rung is fitted on the
    same sampled fit rows, calibrated and tested on every row of the later slices.
    """
    table = table_of(data, features, options)
    results = [RungResult(r) for r in rungs]
    for split in splits:
        fit = table.fit(split)
        calibration = table.part(split, "calibration")
        fitted: list[CalibratedClassifierCV | None] = []
        for result in results:
            try:
                fitted.append(fit_calibrated(result.rung, fit, calibration, features, options))
            except CalibrationError as exc:
                # Recorded, not hidden: the rung has no metrics for this split and cannot win.
                result.failures.append(f"{split.name}: {exc}")
                result.metrics.append(dict.fromkeys(METRIC_KEYS, float("nan")))
                result.models.append(None)
                fitted.append(None)
                progress(f"{split.name} {result.rung.name}: not calibrated ({exc})")
        # The test slice is read once every rung is fitted: never held beside a fit's copies.
        del calibration
        test = table.part(split, "test")
        for result, model in zip(results, fitted, strict=True):
            if model is None:
                continue
            result.models.append(model)
            scored = score(model, test, features).with_columns(split=pl.lit(split.name))
            result.metrics.append(summarise(scored))
            kept = scored.select(
                "split", "student_key", "as_of", "school_id", "label", "label_date", "score", "risk"
            )
            if keep_scored is None:
                result.scored.append(kept)
            else:
                keep_scored(result, kept)
            progress(
                f"{split.name} {result.rung.name}: precision@2% {result.metrics[-1]['precision_at_2']:.3f}"
            )
    return results


def selection_score(result: RungResult, penalty: float = 0.5) -> float:
    """Mean precision in the top 2% over the splits, less ``penalty`` times its spread."""
    return result.mean("precision_at_2") - penalty * result.std("precision_at_2")


SELECTION_RULE = (
    "argmax over rungs of mean(precision_at_2) - 0.5 * std(precision_at_2) across splits"
)


def select(results: list[RungResult], penalty: float = 0.5) -> RungResult:
    """The champion: best penalised precision in the top 2% (learned models and rules alike).

    A comparison rung (:attr:`Rung.comparison_only`) and a rung that could not be calibrated on
    every split are not eligible.
    """
    candidates = [r for r in results if not r.rung.comparison_only]
    eligible = [r for r in candidates if not r.failures]
    if not eligible:
        # Each rung's first failure already names its split and itself.
        raise CalibrationError(
            "no rung that may be champion could be calibrated on every split: "
            + "; ".join(r.failures[0] for r in candidates)
        )
    return max(eligible, key=lambda r: selection_score(r, penalty))


def eligibility(
    results: list[RungResult], champion: RungResult, penalty: float = 0.5
) -> dict[str, str]:
    """Per rung, in words, why it is or is not the champion."""
    best = selection_score(champion, penalty)
    words = {}
    for r in results:
        score = selection_score(r, penalty)
        if r is champion:
            words[r.rung.name] = (
                f"champion: the best selection score of the eligible rungs, {score:.3f} (mean "
                f"precision in the top 2% {r.mean('precision_at_2'):.3f} less half its spread "
                f"{r.std('precision_at_2'):.3f})"
            )
        elif r.rung.comparison_only:
            words[r.rung.name] = (
                f"not eligible: a comparison only, {r.rung.comparison_only}; "
                f"selection score {score:.3f}, the champion's {best:.3f}"
            )
        elif r.failures:
            words[r.rung.name] = (
                f"not eligible: it could not be calibrated on every split ({r.failures[0]})"
            )
        else:
            words[r.rung.name] = (
                f"eligible, selection score {score:.3f}, below the champion's {best:.3f}"
            )
    return words


def fit_final(
    rung: Rung,
    data: pl.DataFrame | TrainingTable,
    until: dt.date,
    horizon_weeks: int,
    calibration_weeks: int,
    features: list[str],
    options: FitOptions,
) -> tuple[CalibratedClassifierCV, dict[str, Any]]:
    """Fit the selected rung on everything known before ``until``, calibrated on its last slice.

    The final model is the split whose test slice would start at ``until`` (the same arithmetic
    as every forward split, :func:`models.splits.make_split`), without a test slice.
    """
    final = make_split("final", until, horizon_weeks, calibration_weeks, test_weeks=0)
    table = table_of(data, features, options)
    calibration = table.part(final, "calibration")
    model = fit_calibrated(rung, table.fit(final), calibration, features, options)
    info = {
        "final_fit_end": final.fit_end.isoformat(),
        "final_calibration_start": final.calibration_start.isoformat(),
        "final_calibration_end": final.calibration_end.isoformat(),
        "final_fit_rows": table.rows_before(final.fit_end),
        "final_calibration_rows": calibration.height,
    }
    return model, info
