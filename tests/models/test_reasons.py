from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import shap

from features.catalog import BY_NAME
from models.reasons import (
    Reason,
    format_value,
    is_context,
    school_medians,
    sentence,
    shows,
    top_reasons,
)

SICK_BAY = "sick_bay_visits_4w"  # visits
ABSENCE = "absence_rate_4w"  # share of half-days
FIRST_YEAR = "first_year_secondary"  # yes/no
LATE = "late_arrivals_4w"  # times
CHANGE = "absence_change_vs_year"  # difference in share
FEATURES = [SICK_BAY, ABSENCE, FIRST_YEAR, LATE, CHANGE]


def en(feature: str) -> str:
    return BY_NAME[feature].en


def explanation(
    values: list[list[float]], data: list[list[float]], names: list[str] = FEATURES
) -> shap.Explanation:
    """Contributions (log-odds) and the pupils' values, one row per pupil."""
    return shap.Explanation(
        values=np.array(values),
        base_values=np.full(len(values), -3.0),
        data=np.array(data),
        feature_names=names,
    )


DATA = [4.0, 0.25, 1.0, 2.0, 0.05]  # one pupil's values, in FEATURES order
TYPICAL = np.array([[0.0, 0.05, 0.0, 1.0, 0.0]])  # the school's medians


def test_the_largest_positive_contributions_are_the_reasons_in_order() -> None:
    [reasons] = top_reasons(explanation([[0.2, 0.5, -0.9, 0.0, 0.1]], [DATA]), TYPICAL, "en")
    assert reasons == [
        Reason(ABSENCE, 0.25, 0.05, 0.5, f"{en(ABSENCE)}: 25% (school median 5%)"),
        Reason(SICK_BAY, 4.0, 0.0, 0.2, f"{en(SICK_BAY)}: 4 (school median 0)"),
        Reason(
            CHANGE,
            0.05,
            0.0,
            0.1,
            f"{en(CHANGE)}: +5 percentage points (school median +0 percentage points)",
        ),
    ]


def test_a_signal_that_lowers_the_risk_or_leaves_it_is_never_a_reason() -> None:
    # the 4th best (late arrivals) would fit in three, but its contribution is 0
    contributions = [[0.3, -0.2, -0.1, 0.0, -0.4], [-0.1, -0.2, -0.3, 0.0, -0.4]]
    first, second = top_reasons(explanation(contributions, [DATA, DATA]), np.vstack([TYPICAL] * 2))
    assert [r.feature for r in first] == [SICK_BAY]
    assert second == []


def test_at_most_n_reasons_and_ties_keep_the_features_order() -> None:
    tied = explanation([[0.3, 0.3, 0.0, 0.3, 0.3]], [DATA])
    [three] = top_reasons(tied, TYPICAL, "en")
    assert [r.feature for r in three] == [SICK_BAY, ABSENCE, LATE]
    [one] = top_reasons(tied, TYPICAL, "en", n=1)
    assert [r.feature for r in one] == [SICK_BAY]


def test_a_yes_no_signal_is_named_when_yes_and_skipped_without_taking_a_place_when_no() -> None:
    contributions = [[0.1, 0.2, 0.9, 0.3, 0.4]]
    [yes] = top_reasons(explanation(contributions, [DATA]), TYPICAL, "en")
    assert [(r.feature, r.text) for r in yes] == [
        (FIRST_YEAR, en(FIRST_YEAR)),
        (CHANGE, f"{en(CHANGE)}: +5 percentage points (school median +0 percentage points)"),
        (LATE, f"{en(LATE)}: 2 (school median 1)"),
    ]
    not_first_year = [[*DATA[:2], 0.0, *DATA[3:]]]
    [no] = top_reasons(explanation(contributions, not_first_year), TYPICAL, "en")
    assert [r.feature for r in no] == [CHANGE, LATE, ABSENCE]  # the next three


def test_a_count_of_zero_is_never_a_reason_even_when_it_raises_the_risk() -> None:
    # A model can weigh a pupil's zero late arrivals at a school where the median is 2 (being
    # on time, against the catalog's direction); "late arrivals: 0" is no signal to talk about.
    data = [[*DATA[:3], 0.0, *DATA[4:]]]
    typical = np.array([[0.0, 0.05, 0.0, 2.0, 0.0]])
    [reasons] = top_reasons(explanation([[0.0, 0.0, 0.0, 0.2, 0.0]], data), typical, "nl")
    assert reasons == []


@pytest.mark.parametrize(
    ("feature", "value", "typical", "expected"),
    [
        (LATE, 0.0, 0.0, False),  # nothing happened
        (LATE, 0.0, 2.0, False),  # on time where others are late: the safe side
        (LATE, 2.0, 2.0, False),  # as usual at the school
        (LATE, 2.4, 2.0, False),  # reads "2 (school median 2)"
        (LATE, 3.0, 2.0, True),
        (SICK_BAY, 1.0, 0.0, True),
        (ABSENCE, 0.004, 0.0, False),  # reads "0%"
        (ABSENCE, 0.25, 0.05, True),
        (ABSENCE, 0.03, 0.04, False),  # below the school's median
        (CHANGE, -0.03, -0.05, False),  # falling absence is no warning sign, whatever the median
        (CHANGE, 0.05, 0.0, True),
        ("absence_slope_8w", 0.0004, 0.0, False),  # reads "+0.0 points a week"
        ("absence_slope_8w", 0.004, 0.0, True),
        (FIRST_YEAR, 1.0, 1.0, True),  # yes/no: the answer, not the median
        (FIRST_YEAR, 0.0, 0.0, False),
        ("class_absence_rate_4w", 0.03, 0.04, True),  # context: no side to check
        ("class_absence_rate_4w", 0.0, 0.04, False),  # but never a 0
        ("school_weeks_into_year", 0.0, 0.0, False),
    ],
)
def test_a_pupil_shows_a_signal_on_the_risky_side_of_both_zero_and_the_school_median(
    feature: str, value: float, typical: float, expected: bool
) -> None:
    assert shows(feature, value, typical) is expected


def test_context_is_named_as_context_after_the_pupils_own_signals() -> None:
    names = ["class_absence_rate_4w", LATE, "school_weeks_into_year"]
    assert [is_context(n) for n in names] == [True, False, True]
    assert not is_context("absence_rate_vs_class_4w")  # the pupil's own absence, against the class
    data = [[0.03, 3.0, 5.0]]
    typical = np.array([[0.04, 1.0, 5.0]])
    [reasons] = top_reasons(explanation([[0.9, 0.1, 0.5]], data, names), typical, "en")
    assert [(r.feature, r.context) for r in reasons] == [
        (LATE, False),
        ("class_absence_rate_4w", True),
        ("school_weeks_into_year", True),
    ]
    assert reasons[1].text == (f"Context: {en('class_absence_rate_4w')}: 3% (school median 4%)")
    [dutch] = top_reasons(explanation([[0.9, 0.1, 0.5]], data, names), typical, "nl")
    assert dutch[1].text.startswith(f"Context: {BY_NAME['class_absence_rate_4w'].nl}: 3%")
    # context takes only the places the pupil's own signals leave
    [one] = top_reasons(explanation([[0.9, 0.1, 0.5]], data, names), typical, "en", n=1)
    assert [r.feature for r in one] == [LATE]


@pytest.mark.parametrize(
    ("feature", "value", "language", "text"),
    [
        (ABSENCE, 0.25, "en", "25%"),
        (ABSENCE, 0.125, "en", "12%"),  # 12.5 rounds half to even
        ("late_start_of_day_share_ytd", 0.5, "nl", "50%"),
        (CHANGE, -0.08, "en", "−8 percentage points"),  # a minus sign, U+2212
        (CHANGE, 0.05, "nl", "+5 procentpunt"),
        (CHANGE, 0.0, "en", "+0 percentage points"),
        ("absence_slope_8w", 0.015, "en", "+1.5 points a week"),
        ("absence_slope_8w", -0.02, "nl", "-2.0 procentpunt per week"),  # a hyphen here
        (FIRST_YEAR, 1.0, "en", "yes"),
        (FIRST_YEAR, 0.5, "nl", "ja"),
        (FIRST_YEAR, 0.0, "nl", "nee"),
        (SICK_BAY, 4.0, "nl", "4"),
        (SICK_BAY, 2.5, "en", "2"),  # a school median between two counts, half to even
        ("late_minutes_4w", 52.4, "en", "52"),
    ],
)
def test_values_read_in_their_units(feature: str, value: float, language: str, text: str) -> None:
    assert format_value(feature, value, language) == text  # type: ignore[arg-type]


def test_a_sentence_quotes_the_value_and_the_school_median_in_the_lists_language() -> None:
    assert sentence(SICK_BAY, 4.0, 0.0, "en") == f"{en(SICK_BAY)}: 4 (school median 0)"
    assert sentence(SICK_BAY, 4.0, 0.0, "nl") == f"{BY_NAME[SICK_BAY].nl}: 4 (mediaan school 0)"
    assert sentence(FIRST_YEAR, 1.0, 0.0, "nl") == BY_NAME[FIRST_YEAR].nl
    assert sentence(FIRST_YEAR, 0.0, 1.0, "en") == ""


def test_school_medians_are_taken_per_school_for_every_row() -> None:
    frame = pl.DataFrame(
        {
            "school_id": ["A", "B", "A", "B", "A"],
            SICK_BAY: [1.0, 10.0, 3.0, 20.0, 2.0],
            LATE: [0.0, 1.0, 0.0, 2.0, 5.0],
        }
    )
    medians = school_medians(frame, [SICK_BAY, LATE])
    assert medians.dtype == np.float64
    assert medians.tolist() == [[2.0, 0.0], [15.0, 1.5], [2.0, 0.0], [15.0, 1.5], [2.0, 0.0]]
