"""The care team's weekly list: CSV, XLSX and an HTML page that reads well on a laptop and on paper."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, select_autoescape
from xlsxwriter import Workbook

from models.reasons import Reason
from pipelines.workspace import school_folder, write_atomic, write_csv

TEXT: dict[str, dict[str, Any]] = {
    "nl": {
        "title": "Signalenlijst schoolweigering",
        "week": "Week van",
        "intro": [
            "Dit zijn signalen, geen diagnose. Een leerling op deze lijst is een reden om het gesprek aan te gaan, geen label.",
            "Het doel is verbinding en een gesprek met leerling en ouders, niet sanctioneren: straffen werkt niet bij schoolweigering.",
            "Kijk naar alle afwezigheden, niet alleen naar B-codes: te laat komen, halve dagen, de ziekenkamer en patronen tellen mee.",
            "Zoek geen oorzaak in deze lijst; bekijk de leerling samen, vanuit verschillende perspectieven (klastitularis, leerlingbegeleiding, CLB).",
        ],
        "columns": ["#", "Leerling", "Klas", "Kans", "Sinds vorige week", "Profiel", "Signalen"],
        "change": {"new": "nieuw", "rising": "stijgt", "steady": "gelijk", "falling": "daalt"},
        "profile": {
            "refusal-like": "lijkt op schoolweigering",
            "truancy-like": "lijkt op spijbelen",
            "illness-like": "lijkt op ziekte",
            "unclear": "onduidelijk",
        },
        "footer": "Kans = geschatte kans dat binnen {weeks} weken een zorgdossier schoolweigering start. Balkjes: hoeveel elk signaal de kans verhoogt.",
        "rule_footer": "Deze lijst volgt de regel {rule}: er zijn nog te weinig zorgdossiers om een model te trainen, dus er is geen kans (Kans blijft leeg). Balkjes: wat de regel telt.",
        "empty": "Geen leerlingen op de lijst deze week.",
        "notice": "Let op, de gegevens van deze week:",
        "made_by": "Gemaakt door {model}, getraind op gegevens tot {until}; de modelkaart (model_card.md) ligt bij het datateam.",
        "made_by_rule": "Gemaakt door {model}.",
    },
    "en": {
        "title": "School refusal signals list",
        "week": "Week of",
        "intro": [
            "These are signals, not a diagnosis. A pupil on this list is a reason to start a conversation, not a label.",
            "The aim is connection and a conversation with the pupil and parents, not sanctions: punishment does not work for school refusal.",
            "Look at all absences, not only B-codes: late arrivals, partial days, the sick bay and patterns count.",
            "Do not look for a cause in this list; look at the pupil together, from several perspectives (class teacher, pupil guidance, CLB).",
        ],
        "columns": ["#", "Pupil", "Class", "Risk", "Since last week", "Profile", "Signals"],
        "change": {"new": "new", "rising": "rising", "steady": "steady", "falling": "falling"},
        "profile": {
            "refusal-like": "refusal-like",
            "truancy-like": "truancy-like",
            "illness-like": "illness-like",
            "unclear": "unclear",
        },
        "footer": "Risk = estimated chance that a school-refusal care case starts within {weeks} weeks. Bars: how much each signal raises it.",
        "rule_footer": "This list follows the rule {rule}: there are too few care cases yet to train a model, so there is no probability (Risk stays empty). Bars: what the rule counts.",
        "empty": "No pupils on the list this week.",
        "notice": "Mind this week's data:",
        "made_by": "Made by {model}, trained on data before {until}; the model card (model_card.md) is with the data team.",
        "made_by_rule": "Made by {model}.",
    },
}

PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.title }} {{ school }} {{ week }}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 68rem; color: #1f2933; padding: 0 1rem; }
 h1 { font-size: 1.5rem; margin-bottom: .2rem; } .sub { color: #52606d; margin-top: 0; }
 .guide { background: #f0f4f8; border-left: 4px solid #486581; padding: .6rem 1rem; margin: 1rem 0 1.5rem; }
 .guide li { margin: .25rem 0; }
 table { border-collapse: collapse; width: 100%; font-size: .95rem; }
 th, td { text-align: left; vertical-align: top; padding: .45rem .5rem; border-bottom: 1px solid #d9e2ec; }
 th { background: #243b53; color: white; font-weight: 600; }
 td.num { text-align: right; white-space: nowrap; }
 .bar { display: flex; align-items: center; gap: .4rem; margin: .15rem 0; }
 .bar span.b { display: inline-block; flex: none; height: .7rem; background: #d64545; border-radius: 2px; }
 .muted { color: #7b8794; font-size: .85rem; }
 .notice { background: #fffbea; border-left: 4px solid #cb6e17; padding: .6rem 1rem; margin: 1rem 0; }
 @media print { body { margin: 0; max-width: none; } th { background: #ddd; color: black; } .guide { border-left-color: black; } tr { page-break-inside: avoid; } }
</style></head><body>
<h1>{{ t.title }} &mdash; {{ school }}</h1>
<p class="sub">{{ t.week }} {{ week }}</p>
{% if notices %}<div class="notice"><strong>{{ t.notice }}</strong><ul>{% for n in notices %}<li>{{ n }}</li>{% endfor %}</ul></div>{% endif %}
<div class="guide"><ul>{% for line in t.intro %}<li>{{ line }}</li>{% endfor %}</ul></div>
{% if rows %}
<table><thead><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for r in rows %}<tr>
 <td class="num">{{ r.rank }}</td><td>{{ r.student_id }}</td><td>{{ r.class_key }}</td>
 <td class="num">{{ r.risk_pct }}</td><td>{{ r.change }}</td><td>{{ r.profile }}</td>
 <td>{% for s in r.signals %}<div class="bar"><span class="b" style="width: {{ s.width }}px"></span><span>{{ s.text }}</span></div>{% endfor %}</td>
</tr>{% endfor %}
</tbody></table>
{% else %}<p>{{ t.empty }}</p>{% endif %}
<p class="muted">{{ footer }}</p>
{% if made_by %}<p class="muted">{{ made_by }}</p>{% endif %}
</body></html>
"""


@dataclass(frozen=True)
class About:
    """What a list says about itself beside its rows."""

    horizon_weeks: int = 8
    """The model's window: weeks after the list in which a predicted case starts."""
    rule: str | None = None
    """The rule the list follows when no model is trained yet (no probability then)."""
    model: str | None = None
    """The model that made the list (name, version, rung)."""
    until: dt.date | None = None
    """The model's training cut-off."""
    notices: tuple[str, ...] = ()
    """Data gates that failed for this school this week, shown above the list."""


_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _rows(
    listed: pl.DataFrame, reasons: dict[str, list[Reason]], language: str
) -> list[dict[str, Any]]:
    t = TEXT[language]
    top = (
        max(
            (r.contribution for key in listed["student_key"] for r in reasons.get(key, [])),
            default=1.0,
        )
        or 1.0
    )
    rows = []
    for r in listed.iter_rows(named=True):
        signals = [
            {"text": reason.text, "width": max(4, round(120 * reason.contribution / top))}
            for reason in reasons.get(r["student_key"], [])
        ]
        rows.append(
            {
                "rank": r["rank"],
                "student_id": r["student_id"],
                "class_key": r["class_key"] or "",
                "risk_pct": "" if r["risk"] is None else f"{100 * r['risk']:.1f}%",
                "change": t["change"].get(r["change"] or "", ""),
                "profile": t["profile"].get(r["profile"], r["profile"]),
                "signals": signals,
            }
        )
    return rows


def render_html(
    school_id: str,
    as_of: dt.date,
    listed: pl.DataFrame,
    reasons: dict[str, list[Reason]],
    language: str,
    about: About = About(),
) -> str:
    """The care team's page for one school and week, saying what ``about`` says."""
    t = TEXT[language]
    footer = (
        t["rule_footer"].format(rule=about.rule)
        if about.rule
        else t["footer"].format(weeks=about.horizon_weeks)
    )
    return _ENV.from_string(PAGE).render(
        lang=language,
        t=t,
        school=school_id,
        week=as_of.isoformat(),
        rows=_rows(listed, reasons, language),
        footer=footer,
        made_by=_made_by(t, about),
        notices=about.notices,
    )


def _made_by(t: dict[str, Any], about: About) -> str:
    """The line naming the model that made the list (a rule was not trained on anything)."""
    if not about.model:
        return ""
    if about.rule:
        return str(t["made_by_rule"]).format(model=about.model)
    return str(t["made_by"]).format(model=about.model, until=about.until)


def _list_table(listed: pl.DataFrame, language: str) -> pl.DataFrame:
    t = TEXT[language]
    names = t["columns"]
    return listed.select(
        pl.col("rank").alias(names[0]),
        pl.col("student_id").alias(names[1]),
        pl.col("class_key").alias(names[2]),
        (pl.col("risk") * 100).round(1).alias(f"{names[3]} (%)"),
        pl.col("change").replace_strict(t["change"], default=None).alias(names[4]),
        pl.col("profile").replace_strict(t["profile"], default=pl.col("profile")).alias(names[5]),
        pl.col("signal_1").alias(f"{names[6]} 1"),
        pl.col("signal_2").alias(f"{names[6]} 2"),
        pl.col("signal_3").alias(f"{names[6]} 3"),
    )


def write_care_list(
    folder: Path,
    school_id: str,
    as_of: dt.date,
    listed: pl.DataFrame,
    reasons: dict[str, list[Reason]],
    language: str,
    about: About = About(),
) -> list[Path]:
    """Write ``risk_list.csv``, ``risk_list.xlsx`` and ``risk_list.html`` for one school.

    ``listed`` holds the school's listed rows of the scores table (with ``student_key``),
    ``reasons`` their reasons by ``student_key``; ``about`` what the list says of itself.
    """
    table = _list_table(listed, language)
    csv = write_csv(table, folder / "risk_list.csv")
    widths: dict[str | Any, tuple[str, ...] | int] = dict(
        zip(table.columns, (5, 14, 8, 9, 14, 24, 60, 60, 60), strict=True)
    )
    xlsx = write_atomic(
        folder / "risk_list.xlsx", lambda p: _write_xlsx(table, p, school_id, as_of, widths)
    )
    html = render_html(school_id, as_of, listed, reasons, language, about)
    page = write_atomic(folder / "risk_list.html", lambda p: p.write_text(html, encoding="utf-8"))
    return [csv, xlsx, page]


def _write_xlsx(
    table: pl.DataFrame,
    path: Path,
    sheet: str,
    as_of: dt.date,
    widths: dict[str | Any, tuple[str, ...] | int],
) -> None:
    # Text is written as text: no cell from the data becomes a formula, a link or a number.
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    # A fixed creation date keeps reruns byte-identical (xlsxwriter stamps "now" otherwise).
    with Workbook(str(path), options) as workbook:
        workbook.set_properties({"created": dt.datetime.combine(as_of, dt.time())})
        table.write_excel(
            workbook,
            worksheet=school_folder(sheet)[:31],  # sheet names refuse []:*?/\
            column_widths=widths,
            autofit=False,
            header_format={"bold": True},
            freeze_panes=(1, 0),
        )
