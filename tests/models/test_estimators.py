from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalog import CATALOG, names
from models.estimators import calibrate, monotone_boosting, scorecard, uncalibrated

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
