"""From SHAP values to reasons a care team can talk about: signals, never causes.

A reason names an observed signal, the pupil's value and what is typical at the school,
e.g. "Visits to the sick bay (last 4 school weeks): 4 (school median 0)". Only signals that
push the risk *up* are reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
import shap

from features.catalog import BY_NAME

Language = Literal["nl", "en"]

_MEDIAN = {"en": "school median", "nl": "mediaan school"}
_YES = {"en": ("yes", "no"), "nl": ("ja", "nee")}


@dataclass(frozen=True)
class Reason:
    """One signal behind a pupil's risk."""

    feature: str
    value: float
    typical: float
    contribution: float
    text: str


def format_value(feature: str, value: float, language: Language) -> str:
    """A value in the unit a person reads: shares as percentages, counts as whole numbers."""
    unit = BY_NAME[feature].unit
    if unit in ("share of half-days", "share"):
        return f"{100 * value:.0f}%"
    if unit.startswith("difference in share"):
        sign = "+" if value >= 0 else "−"
        return f"{sign}{abs(100 * value):.0f} {'procentpunt' if language == 'nl' else 'percentage points'}"
    if unit == "share per week":
        return (
            f"{100 * value:+.1f} {'procentpunt per week' if language == 'nl' else 'points a week'}"
        )
    if unit == "yes/no":
        yes, no = _YES[language]
        return yes if value >= 0.5 else no
    return f"{value:.0f}"


def sentence(feature: str, value: float, typical: float, language: Language) -> str:
    """'<description>: <value> (school median <typical>)'."""
    spec = BY_NAME[feature]
    description = spec.nl if language == "nl" else spec.en
    if spec.unit == "yes/no":
        return description if value >= 0.5 else ""
    return f"{description}: {format_value(feature, value, language)} ({_MEDIAN[language]} {format_value(feature, typical, language)})"


def top_reasons(
    explanation: shap.Explanation, typical: np.ndarray, language: Language = "nl", n: int = 3
) -> list[list[Reason]]:
    """For each row, up to ``n`` signals with the largest positive contribution.

    Parameters
    ----------
    explanation
        From :func:`models.explain.explain`.
    typical
        Per row and feature, the school's median value (same shape as ``explanation.values``).
    """
    names = list(explanation.feature_names)
    values = np.asarray(explanation.values)
    data = np.asarray(explanation.data, dtype=float)
    out: list[list[Reason]] = []
    for i in range(values.shape[0]):
        order = np.argsort(-values[i], kind="stable")
        reasons: list[Reason] = []
        for j in order:
            if values[i, j] <= 0 or len(reasons) == n:
                break
            text = sentence(names[j], data[i, j], typical[i, j], language)
            if text:
                reasons.append(
                    Reason(
                        names[j], float(data[i, j]), float(typical[i, j]), float(values[i, j]), text
                    )
                )
        out.append(reasons)
    return out


def school_medians(frame: pl.DataFrame, features: list[str]) -> np.ndarray:
    """Per row, the median of each feature over the row's school (same as-of date)."""
    medians = frame.select([pl.col(f).median().over("school_id").alias(f) for f in features])
    return medians.to_numpy().astype(float)
