"""The picture of one pupil's school year so far: SVG that parses, says itself in words, keeps
holidays as gaps, writes nothing from the data and stays small."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import polars as pl
import pytest

from features.pupil_weeks import WEEK_SCHEMA, year_weeks
from features.school.calendar import flemish_calendar
from pipelines.render.picture import (
    HOLIDAY,
    RISK,
    STYLE,
    picture_legend,
    pupil_picture,
)

D = dt.date
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&'


def weeks(rows: list[tuple[dt.date, int, int, int, int, int, int, int, int]]) -> pl.DataFrame:
    """One pupil's weeks: ``(week_start, school_days, half_days, parent_note, certificate,
    unexcused, other, late_arrivals, sick_bay_visits)``; the pupil and school are hostile text."""
    return pl.DataFrame([(HOSTILE, HOSTILE, *r) for r in rows], schema=WEEK_SCHEMA, orient="row")


# Four weeks of October 2024 and the autumn holiday, then the week after it.
AUTUMN = weeks(
    [
        (D(2024, 10, 7), 5, 9, 2, 0, 1, 0, 1, 0),
        (D(2024, 10, 14), 5, 9, 0, 3, 0, 1, 0, 2),
        (D(2024, 10, 21), 5, 9, 0, 0, 0, 0, 2, 0),
        (D(2024, 10, 28), 0, 0, 0, 0, 0, 0, 0, 0),
        (D(2024, 11, 4), 5, 9, 1, 0, 0, 0, 0, 0),
    ]
)
RISK_WEEKLY = pl.DataFrame(
    {
        "as_of": [D(2024, 10, 14), D(2024, 10, 21), D(2024, 11, 4), D(2024, 11, 12)],
        "risk": [0.08, 0.1, 0.12, 0.14],
    }
)
"""Lists of four school weeks (the last on Tuesday after Armistice Day), not in the holiday."""


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def paths(root: ET.Element, look: str) -> list[ET.Element]:
    """The paths drawn with ``look`` (its attributes as :mod:`picture` writes them)."""
    wanted = dict(re.findall(r'([\w-]+)="([^"]*)"', look))
    return [p for p in root.iter(f"{SVG}path") if wanted.items() <= p.attrib.items()]


def subpaths(d: str) -> list[list[tuple[float, float]]]:
    """The points of each ``M...L...`` subpath of an absolute polyline."""
    return [
        [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+) (-?[\d.]+)", part)]
        for part in d.split("M")
        if part
    ]


def test_the_picture_parses_and_says_itself_in_one_sentence() -> None:
    root = parsed(pupil_picture(AUTUMN, RISK_WEEKLY, "en"))
    summary = (
        "8 half-days absent this school year (3 parent's note, 3 certificate, 1 B-code, "
        "1 other), 3 late arrivals, 2 sick-bay visits; risk 8.0% → 14.0% over 3 weeks"
    )
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == summary
    assert root.get("aria-label") == summary and root.get("role") == "img"
    dutch = parsed(pupil_picture(AUTUMN, RISK_WEEKLY.head(1), "nl")).get("aria-label")
    assert dutch == (
        "8 halve dagen afwezig dit schooljaar (3 briefje ouders, 3 attest, 1 B-code, "
        "1 andere), 3 keer te laat, 2 bezoeken aan de ziekenkamer; kans 8.0%"
    )


def test_each_group_is_one_bar_piece_per_week_it_has_half_days_in() -> None:
    root = parsed(pupil_picture(AUTUMN, RISK_WEEKLY, "en"))
    pieces = {g: len(subpaths(p.get("d", ""))) for g in STYLE for p in paths(root, STYLE[g])}
    assert pieces == {"parent_note": 2, "certificate": 1, "unexcused": 1, "other": 1}


def test_no_line_crosses_a_week_without_school() -> None:
    root = parsed(pupil_picture(AUTUMN, RISK_WEEKLY, "en"))
    (band,) = paths(root, HOLIDAY)
    middle, width = subpaths(band.get("d", ""))[0][0][0], float(band.get("stroke-width", ""))
    left, right = middle - width / 2, middle + width / 2
    (line,) = paths(root, RISK)
    runs = subpaths(line.get("d", ""))
    assert len(runs) == 2  # before the holiday and after it
    for run in runs:
        xs = [x for x, _ in run]
        assert max(xs) <= left or min(xs) >= right, (run, left, right)
    # The list after the holiday sits on its right edge: it saw the weeks before.
    assert runs[1][0][0] == right


@pytest.mark.parametrize(
    "risk",
    [
        RISK_WEEKLY.head(0),
        RISK_WEEKLY.with_columns(risk=pl.lit(None, dtype=pl.Float64)),  # a rule made the lists
        pl.DataFrame({"as_of": [D(2023, 10, 2), D(2025, 1, 6)], "risk": [0.5, 0.5]}),  # outside
    ],
)
def test_without_a_risk_in_the_weeks_drawn_there_is_no_line_and_no_risk_said(
    risk: pl.DataFrame,
) -> None:
    root = parsed(pupil_picture(AUTUMN, risk, "en"))
    assert not paths(root, RISK)
    assert "risk" not in root.get("aria-label", "")


def test_nothing_from_the_data_is_written_and_the_same_input_gives_the_same_bytes() -> None:
    svg = pupil_picture(AUTUMN, RISK_WEEKLY, "nl")
    assert "script" not in svg and "alert" not in svg
    assert svg == pupil_picture(AUTUMN.clone(), RISK_WEEKLY.clone(), "nl")
    parsed(svg)


def test_a_picture_is_of_one_pupil_and_in_a_known_language() -> None:
    two = pl.concat([AUTUMN, AUTUMN.with_columns(student_key=pl.lit("other pupil"))])
    with pytest.raises(ValueError, match="one pupil"):
        pupil_picture(two, RISK_WEEKLY, "en")
    with pytest.raises(ValueError, match="language"):
        pupil_picture(AUTUMN, RISK_WEEKLY, "fr")  # type: ignore[arg-type]


def test_before_the_first_school_week_the_picture_is_empty_but_says_so() -> None:
    root = parsed(pupil_picture(weeks([]), RISK_WEEKLY.head(0), "en"))
    assert root.get("aria-label") == (
        "0 half-days absent this school year, 0 late arrivals, 0 sick-bay visits"
    )


def test_a_busy_full_school_year_stays_within_a_few_kilobytes() -> None:
    calendar = flemish_calendar(D(2024, 9, 1), D(2025, 6, 30)).select(
        pl.lit("S1").alias("school_id"), pl.all()
    )
    year = year_weeks(calendar.lazy(), pl.LazyFrame({"school_id": ["S1"]}), D(2025, 6, 30))
    year = year.collect()
    school = pl.col("school_days") > 0
    busiest = year.select(
        pl.lit(HOSTILE).alias("student_key"),
        pl.lit(HOSTILE).alias("school_id"),
        "week_start",
        "school_days",
        "half_days",
        *(pl.when(school).then(2).otherwise(0).alias(c) for c in WEEK_SCHEMA.names()[5:9]),
        *(pl.when(school).then(3).otherwise(0).alias(c) for c in WEEK_SCHEMA.names()[9:]),
    ).cast(WEEK_SCHEMA)
    risk = pl.DataFrame(
        {"as_of": busiest["week_start"], "risk": [0.01 * (i % 40) for i in range(busiest.height)]}
    )
    svg = pupil_picture(busiest, risk, "nl")
    parsed(svg)
    assert busiest.height == 43 and len(svg.encode()) < 9_000  # every week of it as busy as can be
    quiet = busiest.with_columns(pl.col(WEEK_SCHEMA.names()[5:]) * 0)
    assert len(pupil_picture(quiet, risk.head(8), "en").encode()) < 2_500


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_legend_parses(language: str) -> None:
    root = parsed(picture_legend(language))  # type: ignore[arg-type]
    assert len(list(root.iter(f"{SVG}text"))) == 8
