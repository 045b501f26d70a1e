"""SHAP explanations of the champion, in the model's own log-odds (before calibration).

- Logistic scorecard (free or sign-constrained): exact linear SHAP on the transformed features
  (additive in log-odds), summed back per original feature when a feature expands into several
  columns (splines).
- Monotone boosting: exact TreeSHAP; values add up to ``decision_function``.
- A rule: the rule's own quantity (its score, not log-odds) is its only reason.

Calibration is a monotone map of the log-odds, so what pushes the log-odds up pushes the
calibrated risk up too; the values are not probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shap
from sklearn.calibration import CalibratedClassifierCV

from models.estimators import uncalibrated
from models.rules import Rule

UNITS = "log-odds of the uncalibrated model"


def explain(
    model: CalibratedClassifierCV, X: pd.DataFrame, background: pd.DataFrame
) -> shap.Explanation:
    """SHAP values for every row of ``X``, one column per feature of ``X``.

    Parameters
    ----------
    model
        A calibrated champion (scorecard, monotone boosting or rule).
    X
        Feature rows to explain, in the model's feature order.
    background
        Rows standing for "a typical pupil" (the linear masker's reference); ignored by trees.

    Returns
    -------
    shap.Explanation
        ``values`` (rows x features, log-odds), ``base_values`` (rows), ``data`` (the feature
        values), ``feature_names``; ``base_values + values.sum(1) == decision_function(X)``.
    """
    inner = uncalibrated(model)
    names = list(X.columns)
    if isinstance(inner, Rule):
        values = np.zeros((len(X), len(names)))
        for column, part in inner.parts(X).items():  # the rule's own quantity, by criterion
            values[:, names.index(column)] = part
        base = np.zeros(len(X))
        return shap.Explanation(
            values=values, base_values=base, data=X.to_numpy(), feature_names=names
        )
    steps = dict(inner.steps)
    if "pre" in steps:  # the scorecard
        pre, clf = steps["pre"], steps["clf"]
        masker = shap.maskers.Independent(pre.transform(background), max_samples=len(background))
        explainer = shap.LinearExplainer(clf, masker)
        raw = explainer(pre.transform(X))
        values = _sum_back(raw.values, list(pre.get_feature_names_out()), names)
        base = np.broadcast_to(np.asarray(raw.base_values, dtype=float), (len(X),)).copy()
        return shap.Explanation(
            values=values, base_values=base, data=X.to_numpy(), feature_names=names
        )
    select, clf = steps["select"], steps["clf"]
    tree = shap.TreeExplainer(clf)
    raw = tree(select.transform(X))
    base = np.broadcast_to(np.asarray(raw.base_values, dtype=float).reshape(-1), (len(X),)).copy()
    return shap.Explanation(
        values=np.asarray(raw.values), base_values=base, data=X.to_numpy(), feature_names=names
    )


def _sum_back(values: np.ndarray, columns: list[str], names: list[str]) -> np.ndarray:
    """Add the SHAP values of expanded columns (``feature_sp_0`` ...) back onto their feature."""
    if columns == names:
        return np.asarray(values)
    out = np.zeros((values.shape[0], len(names)))
    for j, column in enumerate(columns):
        base = next(
            n
            for n in sorted(names, key=len, reverse=True)
            if column == n or column.startswith(f"{n}_sp_")
        )
        out[:, names.index(base)] += values[:, j]
    return out


def log_odds(model: CalibratedClassifierCV, X: pd.DataFrame) -> np.ndarray:
    """What the explanation adds up to: the uncalibrated model's decision function."""
    return np.asarray(uncalibrated(model).decision_function(X), dtype=float)
