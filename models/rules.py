"""The rules schools use today, as scikit-learn estimators so every rung is scored alike.

Each rule ranks pupils by the quantity it counts; its flag threshold is what schools act on.
``decision_function`` returns that quantity (ties are many: the metrics handle them), and
``predict_proba`` a monotone squashing of it, which the calibration step replaces.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin


class Rule(ClassifierMixin, BaseEstimator):
    """Base class: a fixed score from named feature columns; ``fit`` learns nothing but classes."""

    name = "rule"
    threshold = 1.0
    columns: tuple[str, ...] = ()

    def fit(self, X: pd.DataFrame, y: Any = None) -> Rule:
        """Nothing to learn; checks the columns are there."""
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise ValueError(f"{self.name}: missing feature columns {missing}")
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def score_values(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def parts(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """What each counted column contributes to ``decision_function`` (they add up to it)."""
        return {self.columns[0]: self.decision_function(X)}

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The rule's quantity, scaled so that ``>= 1`` is a flag."""
        return self.score_values(X) / self.threshold

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the rule flags the pupil."""
        return (self.decision_function(X) >= 1.0).astype(int)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Not a probability: a monotone map of the score into (0, 1); calibrate it."""
        p = 1.0 - np.exp(-np.maximum(self.decision_function(X), 0.0))
        return np.column_stack([1.0 - p, p])


class FlemishBRule(Rule):
    """Flanders: act at 5 or more B-code half-days in the school year; rank by the count."""

    name = "rule_flanders_b5"
    threshold = 5.0
    columns = ("b_halfdays_ytd",)

    def score_values(self, X: pd.DataFrame) -> np.ndarray:
        return X["b_halfdays_ytd"].to_numpy(dtype=float)


class DutchMZLRule(Rule):
    """Netherlands, M@ZL: a 4th illness report within 12 school weeks, or 7+ school days ill in a row."""

    name = "rule_mzl"
    threshold = 1.0
    columns = ("illness_reports_12w", "illness_longest_spell_ytd")

    def score_values(self, X: pd.DataFrame) -> np.ndarray:
        reports = X["illness_reports_12w"].to_numpy(dtype=float) / 4.0
        spell = X["illness_longest_spell_ytd"].to_numpy(dtype=float) / 7.0
        return np.maximum(reports, spell)

    def parts(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """The score goes to whichever criterion sets it (the larger of the two)."""
        reports = X["illness_reports_12w"].to_numpy(dtype=float) / 4.0
        spell = X["illness_longest_spell_ytd"].to_numpy(dtype=float) / 7.0
        by_reports = reports >= spell
        return {
            "illness_reports_12w": np.where(by_reports, reports, 0.0),
            "illness_longest_spell_ytd": np.where(by_reports, 0.0, spell),
        }


class AbsenceTenPercentRule(Rule):
    """10% or more of the registrable periods absent this school year, any reason."""

    name = "rule_absence_10pct"
    threshold = 0.10
    columns = ("absence_rate_ytd",)

    def score_values(self, X: pd.DataFrame) -> np.ndarray:
        return X["absence_rate_ytd"].to_numpy(dtype=float)


RULES: tuple[type[Rule], ...] = (FlemishBRule, DutchMZLRule, AbsenceTenPercentRule)
