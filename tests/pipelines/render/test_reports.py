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
