"""A small picture per listed pupil: the school year so far, week by week, as inline SVG.

Bars: half-days absent per school week, stacked by group (a parent's note, a certificate, a
B-code, other), inside a light slot as tall as the week's registrable half-days. Below them,
a dot per late arrival and a cross per sick-bay visit; then the pupil's risk on the lists of
recent weeks as a line. A week without school days is a striped band, and no line crosses it.

The groups differ in lightness as well as hue (light, middle, dark, white with an outline),
so the picture reads in grayscale print. No script, no font file, no reference outside the
SVG (no ``id`` either: thirty pictures share one page). Everything written is a number or a
fixed label, escaped all the same; numbers are written with at most one decimal, so the same
input gives the same bytes. About 2-3 KB a picture for a whole school year.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape

import polars as pl

from features.pupil_weeks import GROUPS
from models.reasons import Language
from pipelines.render.reports import percent

WEEK = 6.0
"""Width of one calendar week."""
BAR = 5.0
LEFT = 56.0
"""Room for the row labels."""
RIGHT = 30.0
"""Room for the last risk, right of the weeks."""
MIN_WEEKS = 10
"""The weeks drawn at least: early in the year the picture keeps its size, weeks on the left."""
ABSENT_TOP, ABSENT_BASE = 4.0, 40.0
LATE_Y, VISIT_Y = 47.0, 56.0
RISK_TOP, RISK_BASE = 64.0, 84.0
MONTH_Y = 95.0
HEIGHT = 99.0
MAX_MARKS = 3
"""Late arrivals (or sick-bay visits) in a week drawn one by one; more are written as a number."""

STYLE: dict[str, str] = {
    "parent_note": 'stroke="#8fbfe0" stroke-width="5"',
    "certificate": 'stroke="#2166ac" stroke-width="5"',
    "unexcused": 'stroke="#262626" stroke-width="5"',
    "other": 'fill="#fff" stroke="#555" stroke-width=".6"',
}
"""Each group's look, light to dark, and white with an outline: apart in grayscale too. A bar
piece is a stroke as wide as the bar (half the bytes of a box); the outlined one is a box."""
OUTLINED = ("other",)
STACK = ("parent_note", "certificate", "other", "unexcused")
"""The groups from the bottom of a bar up."""
SLOT = 'stroke="#f0f0f0" stroke-width="5"'
HOLIDAY = 'stroke="#bdbdbd" stroke-dasharray="1 2"'
LATE = 'stroke="#444" stroke-width="2.4" stroke-linecap="round"'
VISIT = 'stroke="#333" stroke-width="1.1"'
RISK = 'fill="none" stroke="#d95f02" stroke-width="1.4" stroke-linejoin="round"'
RISK_DOT = 'stroke="#d95f02" stroke-width="2.6" stroke-linecap="round"'
AXIS = 'stroke="#999" stroke-width=".5"'
LABEL = 'fill="#333"'

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "absent": "afwezig",
        "late": "te laat",
        "visits": "ziekenkamer",
        "risk": "kans",
        "parent_note": "briefje ouders",
        "certificate": "attest",
        "unexcused": "B-code",
        "other": "andere",
        "holiday": "vakantie",
        "half_day": "halve dag",
        "half_days": "halve dagen",
        "absent_year": "{n} {half_days} afwezig dit schooljaar",
        "late_n": "{n} keer te laat",
        "visit_1": "1 bezoek aan de ziekenkamer",
        "visit_n": "{n} bezoeken aan de ziekenkamer",
        "risk_one": "kans {a}",
        "risk_from_to": "kans {a} → {b} over {n} {weeks}",
        "week": "week",
        "weeks": "weken",
        "months": "jan feb mrt apr mei jun jul aug sep okt nov dec",
        "legend_certificate": "attest (of ziek, niet vermeld)",
    },
    "en": {
        "absent": "absent",
        "late": "late",
        "visits": "sick bay",
        "risk": "risk",
        "parent_note": "parent's note",
        "certificate": "certificate",
        "unexcused": "B-code",
        "other": "other",
        "holiday": "holiday",
        "half_day": "half-day",
        "half_days": "half-days",
        "absent_year": "{n} {half_days} absent this school year",
        "late_n": "{n} late arrivals",
        "visit_1": "1 sick-bay visit",
        "visit_n": "{n} sick-bay visits",
        "risk_one": "risk {a}",
        "risk_from_to": "risk {a} → {b} over {n} {weeks}",
        "week": "week",
        "weeks": "weeks",
        "months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
        "legend_certificate": "certificate (or ill, not stated)",
    },
}


def _n(value: float) -> str:
    """A coordinate with at most one decimal, the same text for the same value."""
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class _Week:
    index: int
    start: dt.date
    school_days: int
    half_days: int
    halves: dict[str, int]
    late: int
    visits: int


def _weeks(weeks: pl.DataFrame) -> list[_Week]:
    """The pupil's weeks in order, each with its slot's index from the first week."""
    if weeks.height and weeks["student_key"].n_unique() > 1:
        raise ValueError("a picture shows one pupil: pass the rows of one student_key")
    rows = weeks.sort("week_start").iter_rows(named=True)
    out: list[_Week] = []
    for r in rows:
        first = out[0].start if out else r["week_start"]
        out.append(
            _Week(
                index=(r["week_start"] - first).days // 7,
                start=r["week_start"],
                school_days=int(r["school_days"]),
                half_days=int(r["half_days"]),
                halves={g: int(r[f"{g}_halves"]) for g in GROUPS},
                late=int(r["late_arrivals"]),
                visits=int(r["sick_bay_visits"]),
            )
        )
    return out


def _x(index: float) -> float:
    return LEFT + index * WEEK


@dataclass(frozen=True)
class _Point:
    index: int
    """The slot whose left edge is the list's week: the list saw the weeks before it."""
    risk: float


def _points(risk: pl.DataFrame, weeks: list[_Week]) -> list[_Point]:
    """The risks of the lists in the weeks drawn (the current list's at the right edge)."""
    if not weeks or risk.height == 0:
        return []
    first, last = weeks[0].start, weeks[-1].index + 1
    known = (
        risk.select("as_of", pl.col("risk").cast(pl.Float64))
        .filter(pl.col("risk").is_not_null() & pl.col("risk").is_not_nan())
        .sort("as_of")
        .unique("as_of", keep="last", maintain_order=True)
    )
    points = []
    for as_of, value in known.iter_rows():
        index = (as_of - dt.timedelta(days=as_of.weekday()) - first).days // 7
        if 0 <= index <= last:
            points.append(_Point(index, float(value)))
    return points


def _school_slots(weeks: list[_Week]) -> set[int]:
    return {w.index for w in weeks if w.school_days > 0}


def _runs(points: list[_Point], school: set[int]) -> list[list[_Point]]:
    """The points in runs a line may join: no week without school lies between two of a run."""
    runs: list[list[_Point]] = []
    for p in points:
        if runs and all(i in school for i in range(runs[-1][-1].index, p.index)):
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def _summary(weeks: list[_Week], points: list[_Point], t: dict[str, str]) -> str:
    """The picture in one sentence, for a screen reader and a tooltip."""
    total = {g: sum(w.halves[g] for w in weeks) for g in GROUPS}
    absent = sum(total.values())
    text = t["absent_year"].format(
        n=absent, half_days=t["half_day"] if absent == 1 else t["half_days"]
    )
    parts = [f"{total[g]} {t[g]}" for g in GROUPS if total[g]]
    if parts:
        text += f" ({', '.join(parts)})"
    late, visits = sum(w.late for w in weeks), sum(w.visits for w in weeks)
    text += ", " + t["late_n"].format(n=late)
    text += ", " + (t["visit_1"] if visits == 1 else t["visit_n"].format(n=visits))
    if len(points) == 1:
        text += "; " + t["risk_one"].format(a=percent(points[0].risk))
    elif points:
        school = _school_slots(weeks)
        span = sum(1 for i in range(points[0].index, points[-1].index) if i in school)
        text += "; " + t["risk_from_to"].format(
            a=percent(points[0].risk),
            b=percent(points[-1].risk),
            n=span,
            weeks=t["week"] if span == 1 else t["weeks"],
        )
    return text


def _piece(index: int, base: float, height: float, *, outlined: bool) -> str:
    """A piece of the bar of week ``index`` from ``base`` up: a box, or a vertical stroke."""
    middle = _x(index) + WEEK / 2
    if outlined:
        return f"M{_n(middle - BAR / 2)} {_n(base - height)}h{_n(BAR)}v{_n(height)}h-{_n(BAR)}z"
    return f"M{_n(middle)} {_n(base)}V{_n(base - height)}"


def _bars(weeks: list[_Week]) -> list[str]:
    """The week slots and the stacked absences, one path per look."""
    top = max([1, *(max(w.half_days, sum(w.halves.values())) for w in weeks)])
    unit = (ABSENT_BASE - ABSENT_TOP) / top
    slots = [
        _piece(w.index, ABSENT_BASE, w.half_days * unit, outlined=False)
        for w in weeks
        if w.half_days
    ]
    paths: dict[str, list[str]] = {g: [] for g in STACK}
    for w in weeks:
        y = ABSENT_BASE
        for g in STACK:
            if height := w.halves[g] * unit:
                paths[g].append(_piece(w.index, y, height, outlined=g in OUTLINED))
                y -= height
    out = [f'<path {SLOT} d="{"".join(slots)}"/>'] if slots else []
    out += [f'<path {STYLE[g]} d="{"".join(paths[g])}"/>' for g in STACK if paths[g]]
    return out


def _holidays(weeks: list[_Week]) -> list[str]:
    """A striped band over each run of weeks without school, drawn as one wide dashed stroke."""
    bands: list[tuple[int, int]] = []
    for w in weeks:
        if w.school_days:
            continue
        if bands and bands[-1][1] == w.index:
            bands[-1] = (bands[-1][0], w.index + 1)
        else:
            bands.append((w.index, w.index + 1))
    return [
        f'<path {HOLIDAY} stroke-width="{_n((b - a) * WEEK)}" '
        f'd="M{_n(_x((a + b) / 2))} {_n(ABSENT_TOP)}V{_n(RISK_BASE)}"/>'
        for a, b in bands
    ]


def _stacked(count: int, middle: float, spacing: float) -> list[float]:
    """The heights of ``count`` marks stacked around ``middle``."""
    return [middle + spacing * (i - (count - 1) / 2) for i in range(count)]


def _marks(weeks: list[_Week]) -> list[str]:
    """A dot per late arrival, a cross per sick-bay visit; past :data:`MAX_MARKS` a number."""
    dots: list[str] = []
    crosses: list[str] = []
    numbers: list[str] = []
    for w in weeks:
        middle = _x(w.index) + WEEK / 2
        for count, y0, drawn, mark in (
            (w.late, LATE_Y, dots, "M{x} {y}h0"),
            (w.visits, VISIT_Y, crosses, "M{left} {y}h3.4M{x} {top}v3.4"),
        ):
            if count > MAX_MARKS:
                numbers.append(f'<text x="{_n(middle)}" y="{_n(y0 + 2)}">{count}</text>')
                continue
            for y in _stacked(count, y0, 3.0):
                drawn.append(
                    mark.format(x=_n(middle), y=_n(y), left=_n(middle - 1.7), top=_n(y - 1.7))
                )
    out = [f'<path {LATE} d="{"".join(dots)}"/>'] if dots else []
    out += [f'<path {VISIT} d="{"".join(crosses)}"/>'] if crosses else []
    if numbers:
        out.append(f'<g font-size="6" text-anchor="middle" {LABEL}>{"".join(numbers)}</g>')
    return out


def _risk_y(risk: float, top: float) -> float:
    return RISK_BASE - (RISK_BASE - RISK_TOP) * min(risk, top) / top


def _risk(points: list[_Point], weeks: list[_Week], right: float) -> list[str]:
    """The risk line (broken where a week without school lies between two lists), a dot on
    each list, the first risk above its dot and the last right of the weeks."""
    if not points:
        return []
    # The scale ends at the next tenth above the highest risk (at least 10%).
    top = max(0.1, math.ceil(round(max(p.risk for p in points) * 10, 9)) / 10)
    xy = [(_x(p.index), _risk_y(p.risk, top)) for p in points]
    lines = "".join(
        "M" + "L".join(f"{_n(_x(p.index))} {_n(_risk_y(p.risk, top))}" for p in run)
        for run in _runs(points, _school_slots(weeks))
        if len(run) > 1
    )
    out = [f'<path {RISK} d="{lines}"/>'] if lines else []
    out.append(f'<path {RISK_DOT} d="{"".join(f"M{_n(x)} {_n(y)}h0" for x, y in xy)}"/>')
    last_y = xy[-1][1]
    labels = [
        f'<text x="{_n(right + 3)}" y="{_n(min(last_y + 2.5, RISK_BASE))}">'
        f"{escape(percent(points[-1].risk))}</text>"
    ]
    if len(points) > 1:
        first_x, first_y = xy[0]
        anchor = "middle" if first_x - LEFT > 12 else "start"  # clear of the row label
        labels.append(
            f'<text x="{_n(first_x)}" y="{_n(first_y - 3)}" text-anchor="{anchor}">'
            f"{escape(percent(points[0].risk))}</text>"
        )
    out.append(f'<g font-size="7" {LABEL}>{"".join(labels)}</g>')
    return out


def _months(weeks: list[_Week], t: dict[str, str]) -> str:
    """The month under the week its first day falls in (a week's Thursday names it)."""
    names = t["months"].split()
    spans, shown = [], None
    for w in weeks:
        month = (w.start + dt.timedelta(days=3)).month
        if month != shown:
            spans.append(f'<tspan x="{_n(_x(w.index))}">{escape(names[month - 1])}</tspan>')
            shown = month
    return f'<text y="{_n(MONTH_Y)}" font-size="7" fill="#555">{"".join(spans)}</text>'


def _row_labels(t: dict[str, str]) -> str:
    rows = (
        ("absent", (ABSENT_TOP + ABSENT_BASE) / 2),
        ("late", LATE_Y),
        ("visits", VISIT_Y),
        ("risk", (RISK_TOP + RISK_BASE) / 2),
    )
    spans = "".join(
        f'<tspan x="{_n(LEFT - 4)}" y="{_n(y + 2.5)}">{escape(t[key])}</tspan>' for key, y in rows
    )
    return f'<text text-anchor="end" font-size="7" {LABEL}>{spans}</text>'


def pupil_picture(weeks: pl.DataFrame, risk: pl.DataFrame, language: Language) -> str:
    """One pupil's school year so far as a small SVG picture for the care team's list.

    Parameters
    ----------
    weeks
        The pupil's rows of :func:`features.pupil_weeks.pupil_weeks` (one ``student_key``).
    risk
        ``as_of, risk``: the pupil's risk on the lists of recent weeks, the current one
        included; may be empty, and a risk may be null (a list a rule made). A list's risk is
        drawn at the left edge of its week: it saw the weeks before. Lists outside the weeks
        drawn are left out.
    language
        ``nl`` or ``en``: the labels and the summary.

    Returns
    -------
    str
        An ``<svg>`` element with a ``<title>`` and an ``aria-label`` that say the picture in
        one sentence (half-days absent by group, late arrivals, sick-bay visits, the first and
        last risk). Only numbers and fixed labels are written, all escaped; the same input
        gives the same text.
    """
    if language not in TEXT:
        raise ValueError(f"unknown language {language!r}: nl or en")
    t = TEXT[language]
    rows = _weeks(weeks)
    points = _points(risk, rows)
    slots = max(MIN_WEEKS, rows[-1].index + 1 if rows else 0)
    right = _x(slots)
    width = right + RIGHT
    summary = escape(_summary(rows, points, t))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(HEIGHT)}" '
        f'width="{_n(width)}" height="{_n(HEIGHT)}" role="img" aria-label="{summary}" '
        'font-family="sans-serif" font-size="8">',
        f"<title>{summary}</title>",
        *_holidays(rows),
        *_bars(rows),
        f'<path {AXIS} d="M{_n(LEFT)} {_n(ABSENT_BASE + 0.3)}H{_n(right)}'
        f'M{_n(LEFT)} {_n(RISK_BASE + 0.3)}H{_n(right)}"/>',
        *_marks(rows),
        *_risk(points, rows, right),
        _row_labels(t),
        _months(rows, t),
        "</svg>",
    ]
    return "".join(parts)


def picture_legend(language: Language) -> str:
    """What the looks of :func:`pupil_picture` mean, as one small SVG for the page's footer."""
    if language not in TEXT:
        raise ValueError(f"unknown language {language!r}: nl or en")
    t = TEXT[language]
    items = [
        *(
            (
                f'<path {STYLE[g]} d="{"M{x} 3h5v6h-5z" if g in OUTLINED else "M{m} 3v6"}"/>',
                t["legend_certificate"] if g == "certificate" else t[g],
            )
            for g in STACK
        ),
        (f'<path {LATE} d="M{{m}} 6h0"/>', t["late"]),
        (f'<path {VISIT} d="M{{l}} 6h3.4M{{m}} 4.3v3.4"/>', t["visits"]),
        (f'<path {HOLIDAY} stroke-width="6" d="M{{m}} 2V10"/>', t["holiday"]),
        (f'<path {RISK} d="M{{x}} 8L{{r}} 4"/>', t["risk"]),
    ]
    x, parts = 0.0, []
    for mark, label in items:
        parts.append(mark.format(x=_n(x), m=_n(x + 3), l=_n(x + 1.3), r=_n(x + 6)))
        parts.append(f'<text x="{_n(x + 9)}" y="8.5">{escape(label)}</text>')
        x += 9 + 3.1 * len(label) + 8  # a rough width of the label at this size
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(x)} 12" width="{_n(x)}" '
        f'height="12" font-family="sans-serif" font-size="7" {LABEL}>{"".join(parts)}</svg>'
    )
