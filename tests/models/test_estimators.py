from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from features.catalog import CATALOG, directions, names
from models.estimators import (
    SignConstrainedLogisticRegression,
    calibrate,
    constrained_scorecard,
    monotone_boosting,
    scorecard,
    uncalibrated,
)

FEATURES = names()


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Random feature rows; the outcome leans on a few signals, with noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.exponential(1.0, size=(n, len(FEATURES))), columns=FEATURES)
    logit = (
        -4
        + 0.8 * X["sick_bay_visits_4w"]
        + 0.6 * X["parent_note_spells_ytd"]
        - 0.3 * X["school_weeks_into_year"]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def monotone() -> object:
    X, y = synthetic(4000, 1)
    model = monotone_boosting(FEATURES).fit(X, y)
    Xc, yc = synthetic(2000, 2)
    return calibrate(model, Xc, yc)


def test_raising_any_plus_one_feature_never_lowers_risk(monotone: object) -> None:
    X, _ = synthetic(300, 3)
    base = monotone.predict_proba(X)[:, 1]  # type: ignore[attr-defined]
    for feature in (f for f in CATALOG if f.direction == 1):
        for step in (0.5, 3.0):
            raised = X.assign(**{feature.name: X[feature.name] + step})
            risk = monotone.predict_proba(raised)[:, 1]  # type: ignore[attr-defined]
            assert (risk >= base - 1e-12).all(), feature.name


def test_the_monotone_model_learns_the_signal_and_calibration_keeps_it_inside(
    monotone: object,
) -> None:
    inner = uncalibrated(monotone)  # type: ignore[arg-type]
    assert inner.named_steps["clf"].monotonic_cst is not None
    X, y = synthetic(3000, 4)
    risk = monotone.predict_proba(X)[:, 1]  # type: ignore[attr-defined]
    assert risk[y == 1].mean() > 2 * risk[y == 0].mean()


def test_the_scorecard_is_additive_in_log_odds() -> None:
    X, y = synthetic(3000, 5)
    model = scorecard(FEATURES).fit(X, y)
    coef = model.named_steps["clf"].coef_[0]
    transformed = model.named_steps["pre"].transform(X.head(5))
    manual = transformed @ coef + model.named_steps["clf"].intercept_[0]
    assert np.allclose(manual, model.decision_function(X.head(5)))
    assert coef[FEATURES.index("sick_bay_visits_4w")] > 0


def against_the_catalog(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows where late arrivals *lower* the risk: the free scorecard learns that being on time
    is a warning sign, against the catalog's direction for late arrivals (+1)."""
    X, _ = synthetic(n, seed)
    rng = np.random.default_rng(seed + 100)
    logit = -3 + 0.8 * X["sick_bay_visits_4w"] - 1.2 * X["late_arrivals_ytd"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_the_constrained_scorecard_never_weighs_a_signal_against_the_catalog() -> None:
    X, y = against_the_catalog(4000, 6)
    late = FEATURES.index("late_arrivals_ytd")
    free = scorecard(FEATURES).fit(X, y).named_steps["clf"].coef_[0]
    assert free[late] < 0  # the data do contradict the catalog
    constrained = constrained_scorecard(FEATURES).fit(X, y).named_steps["clf"].coef_[0]
    signs = np.array(directions(FEATURES))
    assert (constrained[signs == 1] >= 0).all() and (constrained[signs == -1] <= 0).all()
    assert constrained[late] == 0  # left out rather than counted the wrong way
    assert constrained[FEATURES.index("sick_bay_visits_4w")] > 0  # the real signal stays


def test_where_the_free_fit_already_agrees_with_the_signs_the_constrained_fit_is_the_same() -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, 4))
    logit = 1.5 * X[:, 0] - 0.8 * X[:, 1] + 0.1 * X[:, 3] - 1.0
    y = (rng.random(2000) < 1 / (1 + np.exp(-logit))).astype(int)
    weight = rng.uniform(0.5, 4.0, 2000)
    free = LogisticRegression(C=0.05, tol=1e-10, max_iter=10_000).fit(X, y, sample_weight=weight)
    signs = np.sign(free.coef_[0]).astype(int).tolist()
    signs[2] = 0  # a free coefficient among the constrained ones
    constrained = SignConstrainedLogisticRegression(signs=signs, C=0.05, tol=1e-10).fit(
        X, y, sample_weight=weight
    )
    assert np.allclose(constrained.coef_, free.coef_, atol=1e-6)
    assert np.allclose(constrained.intercept_, free.intercept_, atol=1e-6)
    assert np.allclose(constrained.predict_proba(X), free.predict_proba(X), atol=1e-6)
    assert (constrained.predict(X) == free.predict(X)).all()
    assert list(constrained.classes_) == [0, 1]


def test_a_whole_sample_weight_counts_like_repeated_rows() -> None:
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0.5).astype(int)
    weight = rng.integers(1, 4, 300)
    model = SignConstrainedLogisticRegression(signs=[1, -1, 0], C=0.5, tol=1e-10)
    weighted = clone(model).fit(X, y, sample_weight=weight)
    repeated = clone(model).fit(np.repeat(X, weight, axis=0), np.repeat(y, weight))
    assert np.allclose(weighted.coef_, repeated.coef_, atol=1e-6)


def test_signs_must_match_the_columns() -> None:
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="one of -1, 0, 1 for each of the 2 columns"):
        SignConstrainedLogisticRegression(signs=[1]).fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        SignConstrainedLogisticRegression().fit(X, np.zeros(4))


def test_the_constrained_scorecard_calibrates_and_stays_additive_in_log_odds() -> None:
    X, y = against_the_catalog(3000, 9)
    Xc, yc = against_the_catalog(1500, 10)
    model = calibrate(constrained_scorecard(FEATURES).fit(X, y), Xc, yc)
    inner = uncalibrated(model)
    clf = inner.named_steps["clf"]
    manual = inner.named_steps["pre"].transform(X.head(5)) @ clf.coef_[0] + clf.intercept_[0]
    assert np.allclose(manual, inner.decision_function(X.head(5)))
    risk = model.predict_proba(X)[:, 1]
    assert risk[y == 1].mean() > 2 * risk[y == 0].mean()
