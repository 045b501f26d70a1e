from __future__ import annotations

import datetime as dt

import polars as pl

from models.reasons import Reason
from pipelines.render.reports import About, render_html

LISTED = pl.DataFrame(
    {
        "rank": [1],
        "student_id": ["L1"],
        "student_key": ["k1"],
        "class_key": ["1A"],
        "risk": [0.123],
        "change": ["new"],
        "profile": ["unclear"],
    }
)


def test_the_page_names_the_models_horizon_and_the_pupils_reasons() -> None:
    reasons = {"k1": [Reason("late_minutes_4w", 52.0, 0.0, 0.8, "Minuten te laat: 52")]}
    page = render_html("S1", dt.date(2025, 3, 3), LISTED, reasons, "nl", About(horizon_weeks=6))
    assert "binnen 6 weken" in page and "8 weken" not in page
    assert "Minuten te laat: 52" in page and "12.3%" in page
    english = render_html("S1", dt.date(2025, 3, 3), LISTED, reasons, "en", About(horizon_weeks=12))
    assert "within 12 weeks" in english


def test_the_page_names_the_model_and_the_weeks_failed_data_gates_above_the_list() -> None:
    about = About(
        model="schoolpoort-risk v3 (scorecard)",
        until=dt.date(2025, 3, 1),
        notices=("S1: no sick-bay visits in the last 3 school weeks <check>",),
    )
    page = render_html("S1", dt.date(2025, 3, 10), LISTED, {}, "nl", about)
    notice = page.index("Let op, de gegevens van deze week:")
    assert notice < page.index("<table>")  # above the list
    assert "no sick-bay visits in the last 3 school weeks &lt;check&gt;" in page  # as text
    assert (
        "Gemaakt door schoolpoort-risk v3 (scorecard), getraind op gegevens tot 2025-03-01" in page
    )
    rule = render_html(
        "S1",
        dt.date(2025, 3, 10),
        LISTED.with_columns(risk=None),
        {},
        "en",
        About(rule="rule_mzl", model="schoolpoort-risk v1 (rule_mzl)", until=dt.date(2025, 3, 1)),
    )
    assert (
        "This list follows the rule rule_mzl" in rule
        and "Made by schoolpoort-risk v1 (rule_mzl)." in rule
    )
    assert "trained on data" not in rule and "Let op" not in rule
