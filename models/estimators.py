"""The learned rungs of the ladder, composed from scikit-learn primitives.

- a logistic scorecard: signed log1p, standardised, L2-regularised logistic regression
  (optionally natural-cubic-spline features); additive in log-odds, so exact SHAP values are
  the per-feature terms;
- the same scorecard with each coefficient's sign held to the catalog's risk direction
  (:class:`SignConstrainedLogisticRegression`), so no signal can count against its meaning;
- gradient boosting with monotone constraints from the catalog's risk directions, so more
  sick-bay visits (say) can never lower a pupil's risk.

Every model is then calibrated on a slice of as-of dates later than its training data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from features.catalog import directions


def signed_log1p(x: Any) -> Any:
    """``sign(x) * log(1 + |x|)``: tames counts, keeps shares and differences nearly linear."""
    return np.sign(x) * np.log1p(np.abs(x))


def _scorecard_inputs(features: list[str], splines: bool) -> ColumnTransformer:
    """Signed log1p, standardised, optionally expanded into spline columns."""
    steps: list[tuple[str, Any]] = [
        ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
        ("scale", StandardScaler()),
    ]
    if splines:
        steps.append(("spline", SplineTransformer(n_knots=4, degree=3, include_bias=False)))
    return ColumnTransformer(
        [("num", Pipeline(steps), features)], remainder="drop", verbose_feature_names_out=False
    )


def scorecard(features: list[str], C: float = 0.05, splines: bool = False) -> Pipeline:
    """A regularised logistic scorecard over ``features``, its coefficients free.

    Free coefficients can go against the catalog (a weight that makes being on time raise the
    risk), so the ladder keeps this one for comparison: :func:`constrained_scorecard` is the
    scorecard that can be champion.
    """
    clf = LogisticRegression(C=C, max_iter=5000)
    return Pipeline([("pre", _scorecard_inputs(features, splines)), ("clf", clf)])


def constrained_scorecard(features: list[str], C: float = 0.05) -> Pipeline:
    """The logistic scorecard with each coefficient signed as the catalog's direction says.

    The inputs are transformed one feature to one column by increasing maps (signed log1p,
    then standardising), so a coefficient's sign is the feature's own direction of effect. A
    spline expansion would break that (one feature becomes several basis columns whose signs
    say nothing about the direction), so this scorecard has no spline variant.
    """
    clf = SignConstrainedLogisticRegression(signs=directions(features), C=C, max_iter=5000)
    return Pipeline([("pre", _scorecard_inputs(features, splines=False)), ("clf", clf)])


class SignConstrainedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary L2-regularised logistic regression whose coefficients keep prescribed signs.

    It minimises scikit-learn's :class:`~sklearn.linear_model.LogisticRegression` objective
    (L2 penalty, intercept fitted and not penalised)

        sum_i s_i * logloss(y_i, x_i @ w + b) + ||w||^2 / (2 C)

    with L-BFGS-B under the bounds ``w_j >= 0`` where ``signs[j] == 1``, ``w_j <= 0`` where
    ``signs[j] == -1``, and ``w_j`` free where ``signs[j] == 0``. The problem is convex, so
    where the unconstrained optimum already has the prescribed signs this is the same model;
    otherwise a coefficient that would go against its sign stops at 0 (the signal is left
    out rather than counted against its meaning) and the others refit around it.

    Parameters
    ----------
    signs : sequence of {-1, 0, 1}, optional
        One per input column; ``None`` leaves every coefficient free.
    C : float, default 1.0
        Inverse regularisation strength, as in ``LogisticRegression``.
    max_iter : int, default 1000
        Most L-BFGS-B iterations.
    tol : float, default 1e-4
        Gradient tolerance (L-BFGS-B's ``gtol``), as ``LogisticRegression`` uses it.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    n_iter_ : ndarray of shape (1,)
    n_features_in_ : int
    """

    def __init__(
        self,
        signs: Sequence[int] | None = None,
        C: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-4,
    ) -> None:
        self.signs = signs
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SignConstrainedLogisticRegression:
        """Fit on ``X``, ``y`` (two classes), optionally weighting each row.

        Returns
        -------
        SignConstrainedLogisticRegression
            ``self``, fitted.
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"two classes are needed to fit, got {len(self.classes_)}")
        target = (y == self.classes_[1]).astype(np.float64)
        n, p = X.shape
        weight = (
            np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        )
        if weight.shape != (n,) or (weight < 0).any():
            raise ValueError("sample_weight must hold one non-negative weight per row")
        signs = np.zeros(p, dtype=int) if self.signs is None else np.asarray(self.signs)
        if signs.shape != (p,) or not np.isin(signs, (-1, 0, 1)).all():
            raise ValueError(f"signs must hold one of -1, 0, 1 for each of the {p} columns")
        total = weight.sum()
        l2 = 1.0 / (self.C * total)

        # Divided by the total weight like scikit-learn's own loss: the same optimum, and
        # L-BFGS-B's tolerances mean the same whatever the number of rows.
        def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:p], theta[p]
            z = X @ w + b
            loss = weight @ (np.logaddexp(0.0, z) - target * z) / total + 0.5 * l2 * (w @ w)
            residual = weight * (special.expit(z) - target) / total
            return float(loss), np.append(X.T @ residual + l2 * w, residual.sum())

        lower = np.where(signs > 0, 0.0, -np.inf)
        upper = np.where(signs < 0, 0.0, np.inf)
        result = optimize.minimize(
            loss_and_gradient,
            np.zeros(p + 1),
            method="L-BFGS-B",
            jac=True,
            bounds=optimize.Bounds(np.append(lower, -np.inf), np.append(upper, np.inf)),
            options={
                "maxiter": self.max_iter,
                "maxls": 50,
                "gtol": self.tol,
                "ftol": 64 * np.finfo(float).eps,
            },
        )
        if not result.success:
            warnings.warn(
                f"L-BFGS-B did not converge ({result.message}); raise max_iter or scale the data",
                ConvergenceWarning,
                stacklevel=2,
            )
        # L-BFGS-B keeps its iterates inside the bounds; the clip makes it a property of the
        # fitted model rather than of the optimiser.
        self.coef_ = np.clip(result.x[:p], lower, upper).reshape(1, p)
        self.intercept_ = np.array([result.x[p]])
        self.n_iter_ = np.array([result.nit])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """The log-odds of the second class: ``X @ coef_[0] + intercept_[0]``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.asarray(X @ self.coef_[0] + self.intercept_[0])

    def predict(self, X: Any) -> np.ndarray:
        """The more likely class of each row."""
        return np.asarray(self.classes_[(self.decision_function(X) > 0).astype(int)])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class (columns in the order of ``classes_``)."""
        positive = special.expit(self.decision_function(X))
        return np.column_stack([1.0 - positive, positive])

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))


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
