"""From SHAP values to reasons a care team can talk about: signals, never causes.

A reason names an observed signal, the pupil's value and what is typical at the school,
e.g. "Visits to the sick bay (last 4 school weeks): 4 (school median 0)". A reason is a
signal that pushes the risk *up* and that the pupil shows (:func:`shows`): a model can give
weight to a pupil's zero late arrivals (being on time, against the school's usual two), but
"late arrivals: 0" is no signal to talk about.

Features without a risk direction describe the pupil's surroundings (the class's and the
school's absence, the week of the school year): they can raise the risk, and are then
named as context ("Context: ...") after the pupil's own signals (:func:`is_context`).
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
_CONTEXT = {"en": "Context: ", "nl": "Context: "}


@dataclass(frozen=True)
class Reason:
    """One signal behind a pupil's risk."""

    feature: str
    value: float
    typical: float
    contribution: float
    text: str
    context: bool = False
    """The signal describes the pupil's class, school or time of year, not the pupil."""


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


def shown(feature: str, value: float) -> float:
    """``value`` as a person reads it, as a number: what :func:`format_value` rounds it to
    (percentages for shares and differences in share, one decimal for a change a week, whole
    numbers for counts, 1 or 0 for yes/no)."""
    unit = BY_NAME[feature].unit
    if unit in ("share of half-days", "share") or unit.startswith("difference in share"):
        return float(round(100 * value))
    if unit == "share per week":
        return float(round(100 * value, 1))
    if unit == "yes/no":
        return 1.0 if value >= 0.5 else 0.0
    return float(round(value))


def is_context(feature: str) -> bool:
    """Whether ``feature`` describes the pupil's surroundings rather than the pupil.

    A feature without a risk direction (catalog direction 0: the class's and the school's
    absence, the school weeks since the year began) has no side on which a pupil shows a
    warning sign; it can only set the scene. The class-relative features (the pupil's own
    absence above the class's) have a direction and are the pupil's own signals.
    """
    return BY_NAME[feature].direction == 0


def shows(feature: str, value: float, typical: float) -> bool:
    """Whether the pupil shows the signal ``feature`` names: a reason a care team can read.

    Every feature in the catalog is 0 when nothing happened (a count, a share, a difference
    from chance or from the class, a weekly change), and a value is read as it is printed
    (:func:`shown`), so no pupil's signal reads "0" or "4% (school median 4%)". Per kind:

    - yes/no with direction +1: the answer is yes (a no is never phrased);
    - direction +1: the printed value is above 0 *and* above the school median, so the
      pupil has the signal and has more of it than is usual at the school;
    - direction -1 (less is riskier): the printed value is below the school median;
    - no direction (context, :func:`is_context`): the printed value is not 0; the model's
      sign is free there, so no side can be checked.
    """
    direction = BY_NAME[feature].direction
    if BY_NAME[feature].unit == "yes/no":
        return direction == 1 and shown(feature, value) == 1.0
    pupil, school = shown(feature, value), shown(feature, typical)
    if direction == 1:
        return pupil > max(0.0, school)
    if direction == -1:
        return pupil < school
    return pupil != 0.0


def sentence(feature: str, value: float, typical: float, language: Language) -> str:
    """'<description>: <value> (school median <typical>)'."""
    spec = BY_NAME[feature]
    description = spec.nl if language == "nl" else spec.en
    if is_context(feature):
        description = _CONTEXT[language] + description
    if spec.unit == "yes/no":
        return description if value >= 0.5 else ""
    return f"{description}: {format_value(feature, value, language)} ({_MEDIAN[language]} {format_value(feature, typical, language)})"


def top_reasons(
    explanation: shap.Explanation, typical: np.ndarray, language: Language = "nl", n: int = 3
) -> list[list[Reason]]:
    """For each row, up to ``n`` signals that raise the risk and that the pupil shows.

    The pupil's own signals come first, largest contribution first; context
    (:func:`is_context`) fills the places left, also largest first. A signal that lowers the
    risk or leaves it, or that the pupil does not show (:func:`shows`), is never a reason.

    Parameters
    ----------
    explanation
        From :func:`models.explain.explain`.
    typical
        Per row and feature, the school's median value (same shape as ``explanation.values``).
    language
        Of the texts.
    n
        Most reasons per row.

    Returns
    -------
    list of list of Reason
        One list per row of ``explanation``, possibly empty.
    """
    names = list(explanation.feature_names)
    values = np.asarray(explanation.values)
    data = np.asarray(explanation.data, dtype=float)
    context = np.array([is_context(name) for name in names], dtype=bool)
    out: list[list[Reason]] = []
    for i in range(values.shape[0]):
        # A stable sort on (context, -contribution): own signals first, ties in catalog order.
        order = np.lexsort((-values[i], context))
        reasons: list[Reason] = []
        for j in order:
            if len(reasons) == n:
                break
            if values[i, j] <= 0 or not shows(names[j], data[i, j], typical[i, j]):
                continue
            text = sentence(names[j], data[i, j], typical[i, j], language)
            reasons.append(
                Reason(
                    names[j],
                    float(data[i, j]),
                    float(typical[i, j]),
                    float(values[i, j]),
                    text,
                    bool(context[j]),
                )
            )
        out.append(reasons)
    return out


def school_medians(frame: pl.DataFrame, features: list[str]) -> np.ndarray:
    """Per row, the median of each feature over the row's school (same as-of date)."""
    medians = frame.select([pl.col(f).median().over("school_id").alias(f) for f in features])
    return medians.to_numpy().astype(float)
