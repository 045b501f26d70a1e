"""The care team's weekly list: CSV, XLSX and an HTML page that reads well on a laptop and on paper."""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import polars as pl
from jinja2 import Environment, select_autoescape
from markupsafe import Markup
from xlsxwriter import Workbook

from models.reasons import Reason
from pipelines.workspace import neutralise_formulas, school_folder, write_atomic

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
        "columns": [
            "#",
            "Leerling",
            "Klas",
            "Kans",
            "× gewoon",
            "Sinds vorige lijst",
            "Weken op de lijst",
            "Profiel",
            "Signalen",
        ],
        "feedback": ["Status", "Datum status"],
        "picture": "Schooljaar",
        "year_sheet": "Schooljaar",
        "year_title": "Halve dagen afwezig per schoolweek (alle redenen), per leerling op de lijst; grijs: een week zonder school.",
        "usual_means": "× gewoon: de kans tegenover de gemiddelde kans van de leerlingen van de school deze week.",
        "status_help": "Zorgteam: kies per leerling een Status en een datum; het datateam leest ze terug (schoolpoort feedback), zodat de volgende lijsten ermee rekening houden.",
        "followed": "Gevolgd: in opvolging, een dossier geopend, of een zorgdossier schoolweigering sinds een jaar. Zij nemen geen plaats op de lijst.",
        "left": "Van de lijst sinds de vorige lijst",
        "left_columns": ["Leerling", "Klas", "Weken op de lijst", "Waarom"],
        "why": {
            "followed": "gevolgd",
            "resting": "geen zorg nu (rust)",
            "below the cut": "kans onder de grens",
            "waiting": "wacht op een plaats",
            "gone": "niet meer ingeschreven",
        },
        "waiting": "{n} leerling(en) boven de grens wachten op een plaats: de lijst neemt hoogstens {max_new} nieuwe namen per week.",
        "resting": "{n} leerling(en) boven de grens rusten na 'geen zorg nu'.",
        "change": {"new": "nieuw", "rising": "stijgt", "steady": "gelijk", "falling": "daalt"},
        "profile": {
            "refusal-like": "lijkt op schoolweigering",
            "truancy-like": "lijkt op spijbelen",
            "illness-like": "lijkt op ziekte",
            "unclear": "onduidelijk",
        },
        "risk_means": "Kans = geschatte kans dat binnen {weeks} weken een zorgdossier schoolweigering start.",
        "bars": "Balkjes: hoeveel elk signaal de kans verhoogt.",
        "signal_columns": "Signalen 1 tot 3: hoeveel elk signaal de kans verhoogt, het sterkste eerst.",
        "rule_means": "Deze lijst volgt de regel {rule}: er zijn nog te weinig zorgdossiers om een model te trainen, dus er is geen kans (Kans blijft leeg).",
        "rule_bars": "Balkjes: wat de regel telt.",
        "rule_signal_columns": "Signalen 1 tot 3: wat de regel telt.",
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
        "columns": [
            "#",
            "Pupil",
            "Class",
            "Risk",
            "× usual",
            "Since last list",
            "Weeks on list",
            "Profile",
            "Signals",
        ],
        "feedback": ["Status", "Status date"],
        "picture": "School year",
        "year_sheet": "School year",
        "year_title": "Half-days absent per school week (any reason), per listed pupil; grey: a week without school.",
        "usual_means": "× usual: the risk against the mean risk of the school's pupils this week.",
        "status_help": "Care team: pick a Status and a date per pupil; the data team reads them back (schoolpoort feedback), and the next lists take them into account.",
        "followed": "Followed: in follow-up, a case file opened, or a school-refusal case in the last year. They take no place on the list.",
        "left": "Off the list since the last list",
        "left_columns": ["Pupil", "Class", "Weeks on list", "Why"],
        "why": {
            "followed": "followed",
            "resting": "no concern now (resting)",
            "below the cut": "risk below the cut",
            "waiting": "waiting for a place",
            "gone": "no longer enrolled",
        },
        "waiting": "{n} pupil(s) above the cut wait for a place: the list takes at most {max_new} new names a week.",
        "resting": "{n} pupil(s) above the cut rest after 'no concern now'.",
        "change": {"new": "new", "rising": "rising", "steady": "steady", "falling": "falling"},
        "profile": {
            "refusal-like": "refusal-like",
            "truancy-like": "truancy-like",
            "illness-like": "illness-like",
            "unclear": "unclear",
        },
        "risk_means": "Risk = estimated chance that a school-refusal care case starts within {weeks} weeks.",
        "bars": "Bars: how much each signal raises it.",
        "signal_columns": "Signals 1 to 3: how much each signal raises the risk, strongest first.",
        "rule_means": "This list follows the rule {rule}: there are too few care cases yet to train a model, so there is no probability (Risk stays empty).",
        "rule_bars": "Bars: what the rule counts.",
        "rule_signal_columns": "Signals 1 to 3: what the rule counts.",
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
 body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 84rem; color: #1f2933; padding: 0 1rem; }
 h1 { font-size: 1.5rem; margin-bottom: .2rem; } .sub { color: #52606d; margin-top: 0; }
 .guide { background: #f0f4f8; border-left: 4px solid #486581; padding: .6rem 1rem; margin: 1rem 0 1.5rem; }
 .guide li { margin: .25rem 0; }
 table { border-collapse: collapse; width: 100%; font-size: .95rem; }
 th, td { text-align: left; vertical-align: top; padding: .45rem .5rem; border-bottom: 1px solid #d9e2ec; overflow-wrap: break-word; }
 th { background: #243b53; color: white; font-weight: 600; }
 td.num { text-align: right; white-space: nowrap; }
 .bar { display: flex; align-items: flex-start; gap: .4rem; margin: .15rem 0; }
 .bar .track { flex: none; width: 120px; }
 .bar span.b { display: block; height: .7em; margin-top: .3em; background: #d64545; border-radius: 2px; }
 .muted { color: #7b8794; font-size: .85rem; }
 .notice { background: #fffbea; border-left: 4px solid #cb6e17; padding: .6rem 1rem; margin: 1rem 0; }
 h2 { font-size: 1.1rem; margin: 1.5rem 0 .4rem; }
 td.pic { width: 210px; } td.pic svg { display: block; width: 210px; height: auto; }
 @page { size: A4 landscape; margin: 12mm 10mm; }
 @media print {
  body { margin: 0; padding: 0; max-width: none; font-size: 9pt; color: black; }
  h1 { font-size: 14pt; }
  .guide, .notice { padding: .2rem .6rem; margin: .4rem 0 .6rem; }
  .guide { background: none; border-left-color: black; }
  .guide li { margin: 0; }
  table { font-size: 9pt; }
  th, td { padding: .2rem .35rem; }
  th { background: #d9e2ec; color: black; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  .bar { margin: 0; }
  .bar .track { width: 80px; }
  td.pic { width: 170px; } td.pic svg { width: 170px; }
  th, .bar span.b, .notice { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
 }
</style></head><body>
<h1>{{ t.title }} &mdash; {{ school }}</h1>
<p class="sub">{{ t.week }} {{ week }}</p>
{% if notices %}<div class="notice"><strong>{{ t.notice }}</strong><ul>{% for n in notices %}<li>{{ n }}</li>{% endfor %}</ul></div>{% endif %}
<div class="guide"><ul>{% for line in t.intro %}<li>{{ line }}</li>{% endfor %}</ul></div>
{% if rows %}
<table><thead><tr>{% for c in t.columns[:8] %}<th>{{ c }}</th>{% endfor %}<th>{{ t.picture }}</th><th>{{ t.columns[8] }}</th></tr></thead><tbody>
{% for r in rows %}<tr>
 <td class="num">{{ r.rank }}</td><td>{{ r.student_id }}</td><td>{{ r.class_key }}</td>
 <td class="num">{{ r.risk_pct }}</td><td class="num">{{ r.usual }}</td><td>{{ r.change }}</td><td class="num">{{ r.weeks }}</td><td>{{ r.profile }}</td>
 <td class="pic">{{ r.picture }}</td>
 <td>{% for s in r.signals %}<div class="bar"><span class="track"><span class="b" style="width: {{ s.width }}%"></span></span><span>{{ s.text }}</span></div>{% endfor %}</td>
</tr>{% endfor %}
</tbody></table>
{% if legend %}<p class="muted">{{ legend }}</p>{% endif %}
{% else %}<p>{{ t.empty }}</p>{% endif %}
{% for line in counts %}<p class="muted">{{ line }}</p>{% endfor %}
{% if followed %}<h2>{{ t.followed }}</h2><table><thead><tr>{% for c in t.columns[:4] %}<th>{{ c }}</th>{% endfor %}<th>{{ t.feedback[0] }}</th></tr></thead><tbody>
{% for r in followed %}<tr><td class="num">{{ r.rank }}</td><td>{{ r.student_id }}</td><td>{{ r.class_key }}</td><td class="num">{{ r.risk_pct }}</td><td>{{ r.status }}</td></tr>{% endfor %}
</tbody></table>{% endif %}
{% if left %}<h2>{{ t.left }}</h2><table><thead><tr>{% for c in t.left_columns %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for r in left %}<tr><td>{{ r.student_id }}</td><td>{{ r.class_key }}</td><td class="num">{{ r.weeks }}</td><td>{{ r.why }}</td></tr>{% endfor %}
</tbody></table>{% endif %}
<p class="muted">{{ footer }}</p>
{% if made_by %}<p class="muted">{{ made_by }}</p>{% endif %}
</body></html>
"""


LIST_PROPERTIES = ("schoolpoort_school", "schoolpoort_list_date")
"""The XLSX list's document properties that say which school's list of which date it is:
they survive a save in Excel and LibreOffice, so the care team's Status column reads back
to the right list (:mod:`pipelines.steps.feedback`)."""

FEEDBACK_HEADERS = {
    language: (text["columns"][1], *text["feedback"]) for language, text in TEXT.items()
}
"""Per language: the XLSX list's pupil, Status and status-date column names."""


TIMES_FORMAT = '[>=10]0"×";0.0"×"'
"""``× gewoon`` in the sheet: as :func:`times` writes it."""


def percent(risk: float | None) -> str:
    """A risk as the lists write it: a percentage with one decimal (blank when none)."""
    return "" if risk is None else f"{100 * risk:.1f}%"


def times(value: float | None) -> str:
    """A risk against the school's usual: ``4.6×``, and from 10 on whole (``808×``), since a
    tenth means nothing there."""
    if value is None:
        return ""
    return f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"


@dataclass(frozen=True)
class CareList:
    """One school's list of one week, and what surrounds it (:mod:`models.carelist`)."""

    listed: pl.DataFrame
    """The listed rows of the scores table (with ``student_key``), by rank."""
    reasons: dict[str, list[Reason]]
    """The listed pupils' reasons by ``student_key``."""
    followed: pl.DataFrame = field(default_factory=pl.DataFrame)
    """The school's followed pupils (rows of the scores table)."""
    left: pl.DataFrame = field(default_factory=pl.DataFrame)
    """The pupils of the last list not on this one: ``student_id, class_key, weeks_on_list, why``."""
    waiting: int = 0
    """Pupils above the cut who wait for a place (the week's new names are taken)."""
    resting: int = 0
    """Pupils above the cut who rest after ``geen zorg nu``."""
    max_new: int = 5
    pictures: dict[str, str] = field(default_factory=dict)
    """Each listed pupil's picture (an SVG text), by ``student_key``."""
    legend: str = ""
    """What the pictures' looks mean (an SVG text)."""
    weeks: pl.DataFrame = field(default_factory=pl.DataFrame)
    """The listed pupils' school year week by week (:func:`features.pupil_weeks.pupil_weeks`),
    the XLSX's second sheet."""


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


def _rows(care: CareList, language: str) -> list[dict[str, Any]]:
    t = TEXT[language]
    listed, reasons = care.listed, care.reasons
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
            {"text": reason.text, "width": max(3, round(100 * reason.contribution / top))}
            for reason in reasons.get(r["student_key"], [])
        ]
        rows.append(
            {
                "rank": r["rank"],
                "student_id": r["student_id"],
                "class_key": r["class_key"] or "",
                "risk_pct": percent(r["risk"]),
                "usual": times(r["times_usual"]),
                "change": t["change"].get(r["change"] or "", ""),
                "weeks": r["weeks_on_list"] or "",
                "picture": Markup(care.pictures.get(r["student_key"], "")),
                "profile": t["profile"].get(r["profile"], r["profile"]),
                "signals": signals,
            }
        )
    return rows


def render_html(
    school_id: str, as_of: dt.date, care: CareList, language: str, about: About = About()
) -> str:
    """The care team's page for one school and week, saying what ``about`` says.

    The pictures are SVG texts :func:`pipelines.render.picture.pupil_picture` made (every
    value in them escaped there); everything else is escaped here.
    """
    t = TEXT[language]
    bars = t["rule_bars"] if about.rule else t["bars"]
    usual = "" if about.rule else f" {t['usual_means']}"
    followed = [
        {
            "rank": r["rank"] or "",
            "student_id": r["student_id"],
            "class_key": r["class_key"] or "",
            "risk_pct": percent(r["risk"]),
            "status": r["status"] or "",
        }
        for r in care.followed.iter_rows(named=True)
    ]
    left = [
        {
            "student_id": r["student_id"],
            "class_key": r["class_key"] or "",
            "weeks": r["weeks_on_list"],
            "why": t["why"].get(r["why"], r["why"]),
        }
        for r in care.left.iter_rows(named=True)
    ]
    return _ENV.from_string(PAGE).render(
        lang=language,
        t=t,
        school=school_id,
        week=as_of.isoformat(),
        rows=_rows(care, language),
        legend=Markup(care.legend),
        counts=_counts(t, care),
        followed=followed,
        left=left,
        footer=f"{_risk_means(t, about)}{usual} {bars}",
        made_by=_made_by(t, about),
        notices=about.notices,
    )


def _counts(t: dict[str, Any], care: CareList) -> list[str]:
    """The lines on who waits for a place and who rests, when anyone does."""
    lines = []
    if care.waiting:
        lines.append(str(t["waiting"]).format(n=care.waiting, max_new=care.max_new))
    if care.resting:
        lines.append(str(t["resting"]).format(n=care.resting))
    return lines


def _risk_means(t: dict[str, Any], about: About) -> str:
    """The line saying what ``Kans`` is: the model's probability, or empty under a rule."""
    if about.rule:
        return str(t["rule_means"]).format(rule=about.rule)
    return str(t["risk_means"]).format(weeks=about.horizon_weeks)


def _made_by(t: dict[str, Any], about: About) -> str:
    """The line naming the model that made the list (a rule was not trained on anything)."""
    if not about.model:
        return ""
    if about.rule:
        return str(t["made_by_rule"]).format(model=about.model)
    return str(t["made_by"]).format(model=about.model, until=about.until)


def _list_table(listed: pl.DataFrame, language: str) -> pl.DataFrame:
    """The list as a table with the care team's column names; ``Kans`` is a fraction here."""
    t = TEXT[language]
    names = t["columns"]
    return listed.select(
        pl.col("rank").alias(names[0]),
        pl.col("student_id").alias(names[1]),
        pl.col("class_key").alias(names[2]),
        pl.col("risk").alias(names[3]),
        pl.col("times_usual").round(1).alias(names[4]),
        pl.col("change").replace_strict(t["change"], default=None).alias(names[5]),
        pl.col("weeks_on_list").alias(names[6]),
        pl.col("profile").replace_strict(t["profile"], default=pl.col("profile")).alias(names[7]),
        pl.col("signal_1").alias(f"{names[8]} 1"),
        pl.col("signal_2").alias(f"{names[8]} 2"),
        pl.col("signal_3").alias(f"{names[8]} 3"),
    )


def write_care_list(
    folder: Path,
    school_id: str,
    as_of: dt.date,
    care: CareList,
    language: str,
    about: About = About(),
) -> list[Path]:
    """Write ``risk_list.csv``, ``risk_list.xlsx`` and ``risk_list.html`` for one school.

    ``care`` holds the school's list and what surrounds it; ``about`` what the list says of
    itself. The XLSX has an empty ``Status`` and status-date column for the care team, read
    back by ``schoolpoort feedback``.
    """
    table = _list_table(care.listed, language)
    csv = write_atomic(folder / "risk_list.csv", lambda p: _write_csv(table, p))
    title = _title_lines(school_id, as_of, language, about, care.listed.height)
    xlsx = write_atomic(
        folder / "risk_list.xlsx",
        lambda p: _write_xlsx(table, p, school_id, as_of, title, language, _year(care)),
    )
    html = render_html(school_id, as_of, care, language, about)
    page = write_atomic(folder / "risk_list.html", lambda p: p.write_text(html, encoding="utf-8"))
    return [csv, xlsx, page]


def _write_csv(table: pl.DataFrame, path: Path) -> None:
    """The list as a CSV for people: what Excel opens right in Belgium and the Netherlands.

    Excel there reads ``;`` as the separator and ``,`` as the decimal sign, so ``Kans (%)`` is
    written ``18,9`` (with ``.`` it would be text and sort wrongly). Excel reads a CSV it opens
    by double-click in the Windows code page (cp1252) unless it starts with a UTF-8 byte order
    mark, so the file starts with one: ``ë`` and ``é`` in names and signals stay themselves.
    ``scores.csv`` is for programs and keeps ``.`` decimals and no mark.
    """
    risk = table.columns[3]
    people = neutralise_formulas(
        table.with_columns((pl.col(risk) * 100).round(1)).rename({risk: f"{risk} (%)"})
    )
    people.write_csv(path, separator=";", decimal_comma=True, include_bom=True)


# The sheet's layout. Its font is Arial 10: Excel has it, and LibreOffice draws it with
# Liberation Sans, which has the same widths, so what is measured here holds in both. Widths
# are in characters (xlsxwriter's ``set_column`` unit, the width of a digit), heights in points.
# Read-only: xlsxwriter adds keys to the default format it is given, and a list written after
# another must come out the same bytes.
FONT = MappingProxyType({"font_name": "Arial", "font_size": 10})
LINE = 12.75  # one line of Arial 10
FILTER_BUTTON = 3  # characters the autofilter's arrow takes beside a column's name
# The widest a column grows before its text wraps: the three signals get the room, the short
# columns wrap instead ("lijkt op schoolweigering", "Sinds vorige week") and leave it to them.
SHORT, SIGNAL = 16, 66
TITLE_GAP = 1  # an empty row between the title block and the table


def _title_lines(
    school_id: str, as_of: dt.date, language: str, about: About, pupils: int
) -> list[str]:
    """What the sheet says above its table: the school, the week, what Kans and the signals
    mean, what the list is (and is not), who made it, this week's data notices, and that the
    list is empty when it has no ``pupils``."""
    t = TEXT[language]
    lines = [
        f"{t['title']} — {school_id}",
        f"{t['week']} {as_of.isoformat()}",
        _risk_means(t, about) + ("" if about.rule else f" {t['usual_means']}"),
        str(t["rule_signal_columns"] if about.rule else t["signal_columns"]),
        str(t["intro"][0]),
        str(t["status_help"]),
    ]
    if made_by := _made_by(t, about):
        lines.append(made_by)
    lines.extend(f"{t['notice']} {notice}" for notice in about.notices)
    if not pupils:
        lines.append(str(t["empty"]))
    return lines


def _shown(value: Any, as_percent: bool) -> str:
    """A cell's text as the sheet shows it."""
    if value is None:
        return ""
    if isinstance(value, float) and not as_percent:
        return times(value)
    return percent(value) if as_percent else str(value)


def _lines(text: str, width: int) -> int:
    """Lines ``text`` takes in a column ``width`` characters wide. Wrapping at a word is
    counted in digit widths; most letters are narrower, so this errs on the high side (a
    row a little too tall, never text cut off)."""
    return max(1, len(textwrap.wrap(text, max(1, width - 1))))


def _layout(table: pl.DataFrame) -> tuple[list[int], float, list[float]]:
    """Each column's width (its longest cell, or its name's longest word beside the filter
    button, up to its cap), the header row's height and each data row's height."""
    risk = table.columns[3]
    caps = [SHORT] * 8 + [SIGNAL] * 3
    shown = {name: [_shown(v, name == risk) for v in table[name]] for name in table.columns}
    widths = []
    for cap, (name, cells) in zip(caps, shown.items(), strict=True):
        word = max(len(w) for w in name.split())  # a name wraps at its spaces
        longest = max((len(v) + 1 for v in cells), default=0)
        widths.append(min(cap, max(word + FILTER_BUTTON, longest)))
    header = LINE * max(
        _lines(n, w - FILTER_BUTTON + 1) for n, w in zip(shown, widths, strict=True)
    )
    rows = [
        LINE * max(_lines(v, w) for v, w in zip(cells, widths, strict=True))
        for cells in zip(*shown.values(), strict=True)
    ]
    return widths, header, rows


def _year(care: CareList) -> pl.DataFrame:
    """The listed pupils' absent half-days per school week, a column per week (``dd/mm`` of
    its Monday; null in a week without school), a row per pupil in the list's order."""
    if care.weeks.is_empty() or care.listed.is_empty():
        return pl.DataFrame()
    halves = pl.sum_horizontal(c for c in care.weeks.columns if c.endswith("_halves"))
    weekly = care.weeks.select(
        "student_key",
        pl.col("week_start").dt.strftime("%d/%m").alias("week"),
        pl.when(pl.col("school_days") > 0).then(halves).alias("absent"),
    )
    wide = weekly.pivot("week", index="student_key", values="absent", sort_columns=False)
    order = care.listed.select("rank", "student_id", "student_key")
    return order.join(wide, on="student_key", how="left").drop("student_key")


def _write_xlsx(
    table: pl.DataFrame,
    path: Path,
    school_id: str,
    as_of: dt.date,
    title: list[str],
    language: str,
    year: pl.DataFrame,
) -> None:
    """The list as a workbook that opens readable and prints on A4 landscape, one page wide."""
    options = {
        # Text is written as text: no cell from the data becomes a formula, a link or a number.
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "default_format_properties": dict(FONT),
        "default_row_height": 17,  # pixels: LINE
    }
    # A fixed creation date keeps reruns byte-identical (xlsxwriter stamps "now" otherwise).
    with Workbook(str(path), options) as workbook:
        workbook.set_properties({"created": dt.datetime.combine(as_of, dt.time())})
        workbook.set_custom_property(LIST_PROPERTIES[0], school_id)
        workbook.set_custom_property(LIST_PROPERTIES[1], as_of.isoformat())
        sheet = workbook.add_worksheet(school_folder(school_id)[:31])  # names refuse []:*?/\
        cell = {**FONT, "valign": "top", "text_wrap": True}
        heading = workbook.add_format({**FONT, "bold": True, "font_size": 14})
        header = workbook.add_format({**cell, "bold": True, "bg_color": "#D9E2EC", "bottom": 1})
        line = {**cell, "border": 1, "border_color": "#BCCCDC"}  # light lines between cells
        # Per column: rank, pupil, class, Kans (the cell holds the fraction and shows it as a
        # percentage), times the usual, change, weeks on the list, profile, the three signals.
        text = workbook.add_format(line)
        whole = workbook.add_format({**line, "num_format": "0", "align": "center"})
        formats = [
            whole,
            text,
            text,
            workbook.add_format({**line, "num_format": "0.0%"}),
            workbook.add_format({**line, "num_format": TIMES_FORMAT}),
            text,
            whole,
            *[text] * 4,
        ]

        sheet.set_row(0, 18)
        for row, words in enumerate(title):
            sheet.write_string(row, 0, words, heading if row == 0 else None)
        top = len(title) + TITLE_GAP
        widths, header_height, heights = _layout(table)
        sheet.set_row(top, header_height)
        for row, height in enumerate(heights, start=top + 1):
            sheet.set_row(row, height)
        for col, (name, width, style) in enumerate(
            zip(table.columns, widths, formats, strict=True)
        ):
            sheet.set_column(col, col, width)
            sheet.write_string(top, col, name, header)
            for row, value in enumerate(table[name], start=top + 1):
                if value is None:
                    sheet.write_blank(row, col, None, style)
                elif isinstance(value, int | float):
                    sheet.write_number(row, col, value, style)
                else:
                    sheet.write_string(row, col, str(value), style)

        _feedback_columns(workbook, sheet, table, top, language, line)
        sheet.freeze_panes(top + 1, 0)
        sheet.autofilter(top, 0, top + max(1, table.height), table.width + 1)
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        sheet.set_margins(left=0.3, right=0.3, top=0.4, bottom=0.5)
        sheet.fit_to_pages(1, 0)  # one page wide, as many long as it takes
        sheet.repeat_rows(top)
        sheet.set_footer("&R&P / &N")
        if year.width > 2:
            _year_sheet(workbook, year, language, line)


STATUS_WIDTH = 16


def _feedback_columns(
    workbook: Workbook, sheet: Any, table: pl.DataFrame, top: int, language: str, line: Any
) -> None:
    """The care team's two columns after the list's: ``Status``, a drop-down of
    :data:`models.carelist.STATUSES`, and the date it was decided (a date, or blank)."""
    from models.carelist import STATUSES

    header = workbook.add_format(
        {
            **FONT,
            "valign": "top",
            "text_wrap": True,
            "bold": True,
            "bg_color": "#FFF3C4",
            "bottom": 1,
        }
    )
    entry = workbook.add_format({**line, "bg_color": "#FFFBEA"})
    day = workbook.add_format({**line, "bg_color": "#FFFBEA", "num_format": "dd/mm/yyyy"})
    status, when = table.width, table.width + 1
    names = TEXT[language]["feedback"]
    for col, name, style in ((status, names[0], entry), (when, names[1], day)):
        sheet.set_column(col, col, STATUS_WIDTH)
        sheet.write_string(top, col, name, header)
        for row in range(top + 1, top + 1 + table.height):
            sheet.write_blank(row, col, None, style)
    if table.height:
        last = top + table.height
        sheet.data_validation(
            top + 1, status, last, status, {"validate": "list", "source": list(STATUSES)}
        )
        sheet.data_validation(
            top + 1,
            when,
            last,
            when,
            {"validate": "date", "criteria": ">", "value": dt.date(2000, 1, 1)},
        )


def _year_sheet(workbook: Workbook, year: pl.DataFrame, language: str, line: Any) -> None:
    """The second sheet: each listed pupil's absent half-days school week by school week, as a
    heat map (the HTML list's picture, as numbers); a week without school is grey."""
    t = TEXT[language]
    sheet = workbook.add_worksheet(str(t["year_sheet"]))
    sheet.write_string(0, 0, str(t["year_title"]), workbook.add_format({**FONT, "bold": True}))
    band = {**FONT, "bold": True, "bg_color": "#D9E2EC", "valign": "bottom"}
    header, upright = workbook.add_format({**band, "rotation": 90}), workbook.add_format(band)
    number = workbook.add_format({**line, "num_format": "0", "align": "center"})
    holiday = workbook.add_format({**line, "bg_color": "#D9D9D9"})
    top = 2
    names = [t["columns"][0], t["columns"][1], *year.columns[2:]]
    for col, name in enumerate(names):
        sheet.write_string(top, col, str(name), header if col > 1 else upright)
        sheet.set_column(col, col, 4 if col != 1 else 12)
        for row, value in enumerate(year[year.columns[col]], start=top + 1):
            if value is None:
                sheet.write_blank(row, col, None, holiday)
            elif col == 1:
                sheet.write_string(row, col, str(value), workbook.add_format(line))
            else:
                sheet.write_number(row, col, value, number)
    last_row, last_col = top + year.height, year.width - 1
    sheet.conditional_format(
        top + 1,
        2,
        last_row,
        last_col,
        {
            "type": "2_color_scale",
            "min_color": "#FFFFFF",
            "max_color": "#D64545",
            "min_type": "num",
            "min_value": 0,
        },
    )
    sheet.freeze_panes(top + 1, 2)
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 0)
