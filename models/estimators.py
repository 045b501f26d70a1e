"""The learned rungs of the ladder, composed from scikit-learn primitives.

- a logistic scorecard: signed log1p, standardised, L2-regularised logistic regression
  (optionally natural-cubic-spline features); additive in log-odds, so exact SHAP values are
  the per-feature terms;
- gradient boosting with monotone constraints from the catalog's risk directions, so more
  sick-bay visits (say) can never lower a pupil's risk.

Every model is then calibrated on a slice of as-of dates later than its training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler

from features.catalog import directions


def signed_log1p(x: Any) -> Any:
    """``sign(x) * log(1 + |x|)``: tames counts, keeps shares and differences nearly linear."""
    return np.sign(x) * np.log1p(np.abs(x))


def scorecard(features: list[str], C: float = 0.05, splines: bool = False) -> Pipeline:
    """A regularised logistic scorecard over ``features``."""
    steps: list[tuple[str, Any]] = [
        ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
        ("scale", StandardScaler()),
    ]
    if splines:
        steps.append(("spline", SplineTransformer(n_knots=4, degree=3, include_bias=False)))
    pre = ColumnTransformer(
        [("num", Pipeline(steps), features)], remainder="drop", verbose_feature_names_out=False
    )
    clf = LogisticRegression(C=C, max_iter=5000)
    return Pipeline([("pre", pre), ("clf", clf)])


def monotone_boosting(features: list[str], random_state: int = 0) -> Pipeline:
    """Histogram gradient boosting, monotone in each feature as the catalog expects."""
    select = ColumnTransformer(
        [("keep", "passthrough", features)], remainder="drop", verbose_feature_names_out=False
    )
    clf = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=250,
        max_depth=3,
        min_samples_leaf=80,
        l2_regularization=1.0,
        monotonic_cst=directions(features),
        early_stopping=False,
        random_state=random_state,
    )
    return Pipeline([("select", select), ("clf", clf)])


def calibrate(
    fitted: BaseEstimator, X: pd.DataFrame, y: np.ndarray, method: str = "sigmoid"
) -> CalibratedClassifierCV:
    """Calibrate an already fitted model on a later slice (the model itself stays frozen).

    Sigmoid (Platt) by default: with a few dozen positives per slice, isotonic overfits.
    """
    # The folds only decide where the frozen model predicts, which does not depend on them;
    # unstratified folds avoid a warning when a slice holds only a handful of cases.
    splitter = KFold(n_splits=2)
    return CalibratedClassifierCV(FrozenEstimator(fitted), method=method, cv=splitter).fit(X, y)


def uncalibrated(model: CalibratedClassifierCV) -> Any:
    """The fitted model inside a calibrated one (what SHAP explains); a model that was never
    calibrated (a rule registered at a cold start) is itself."""
    if not hasattr(model, "calibrated_classifiers_"):
        return model
    return model.calibrated_classifiers_[0].estimator.estimator
