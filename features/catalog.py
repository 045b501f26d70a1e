"""The feature catalog: every feature declared once, with words a care team can read.

Each feature is a signal function of :mod:`features.signals` named after its column, whose
inputs are the named helpers of :mod:`features.windows`; the catalog adds its family, its
words (English and Dutch), its unit and its expected direction, in the table's column order.
Nothing is computed that this catalog does not name, and nothing named goes uncomputed
(a test checks the built table against it column for column). Families let an evaluation
drop one group of signals at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal, get_args

import polars as pl

from features.signals import (
    absences,
    context,
    lateness,
    patterns,
    sick_bay,
    spells,
    transition,
    trend,
)
from features.windows import RATE_WINDOWS, counted_column

Family = Literal[
    "absence_all",
    "b_codes",
    "illness",
    "lateness",
    "sick_bay",
    "pattern",
    "trend",
    "context",
    "transition",
]
FAMILIES: tuple[Family, ...] = get_args(Family)
Stage = Literal["pupil", "context"]


@dataclass(frozen=True)
class Feature:
    """One column of the feature table: a signal function (its name is the column's) and the
    words a care team reads."""

    name: str
    family: Family
    en: str
    nl: str
    unit: str
    direction: Literal[1, -1, 0]
    """Expected direction of risk: +1 more is riskier, -1 less is riskier, 0 no expectation."""
    expr: Callable[[], pl.Expr]
    stage: Stage = "pupil"

    def expression(self) -> pl.Expr:
        """The polars expression that computes this column, named after it."""
        return self.expr().alias(self.name)

    def inputs(self) -> tuple[str, ...]:
        """What the feature reads, sorted: day-level columns it counts over windows
        (:func:`features.windows.count`) and the assembler's columns it reads by name."""
        roots = self.expr().meta.root_names()
        return tuple(sorted({counted_column(name) or name for name in roots}))


SHARE = "share of half-days"
_WINDOW_WORDS = {
    "1w": ("last school week", "vorige schoolweek"),
    "2w": ("last 2 school weeks", "laatste 2 schoolweken"),
    "4w": ("last 4 school weeks", "laatste 4 schoolweken"),
    "8w": ("last 8 school weeks", "laatste 8 schoolweken"),
    "ytd": ("this school year", "dit schooljaar"),
}


def _feature(
    signal: Callable[[], pl.Expr],
    family: Family,
    en: str,
    nl: str,
    unit: str,
    direction: Literal[1, -1, 0],
    stage: Stage = "pupil",
) -> Feature:
    """The feature computed by ``signal``, named after it."""
    return Feature(signal.__name__, family, en, nl, unit, direction, signal, stage)


def _windowed(
    signal: Callable[[str], pl.Expr],
    family: Family,
    en: str,
    nl: str,
    unit: str,
    windows: tuple[str, ...],
) -> list[Feature]:
    """``signal`` over each of ``windows``: features named ``<signal>_<window>``, risk
    rising with the count."""
    return [
        Feature(
            f"{signal.__name__}_{w}",
            family,
            f"{en} ({_WINDOW_WORDS[w][0]})",
            f"{nl} ({_WINDOW_WORDS[w][1]})",
            unit,
            1,
            partial(signal, w),
        )
        for w in windows
    ]


CATALOG: tuple[Feature, ...] = (
    # --- all absences ---
    *_windowed(
        absences.absence_rate,
        "absence_all",
        "Share of half-days absent, any reason",
        "Aandeel halve dagen afwezig, om eender welke reden",
        SHARE,
        RATE_WINDOWS,
    ),
    _feature(
        absences.absent_halfdays_ytd,
        "absence_all",
        "Half-days absent this school year, any reason",
        "Halve dagen afwezig dit schooljaar, om eender welke reden",
        "half-days",
        1,
    ),
    *_windowed(
        absences.partial_days,
        "absence_all",
        "Days at school for only part of the day (missed a half-day, left early, sent home)",
        "Dagen maar een deel van de dag op school (halve dag gemist, vroeger weg, naar huis gestuurd)",
        "days",
        ("4w", "ytd"),
    ),
    _feature(
        spells.longest_spell_ytd,
        "absence_all",
        "Longest run of whole school days absent this school year",
        "Langste reeks hele schooldagen afwezig dit schooljaar",
        "school days",
        1,
    ),
    _feature(
        spells.spells_ytd,
        "absence_all",
        "Separate spells of whole days absent this school year",
        "Aantal afwezigheidsperiodes van hele dagen dit schooljaar",
        "spells",
        1,
    ),
    _feature(
        spells.current_spell_days,
        "absence_all",
        "Whole school days absent in a row, up to now",
        "Hele schooldagen op rij afwezig, tot nu",
        "school days",
        1,
    ),
    # --- B-codes only (the rule schools use today) ---
    *_windowed(
        absences.b_rate,
        "b_codes",
        "Share of half-days with a B-code (problematic absence)",
        "Aandeel halve dagen met een B-code (problematische afwezigheid)",
        SHARE,
        RATE_WINDOWS,
    ),
    _feature(
        absences.b_halfdays_ytd,
        "b_codes",
        "Half-days with a B-code this school year",
        "Halve dagen met een B-code dit schooljaar",
        "half-days",
        1,
    ),
    _feature(
        spells.b_longest_spell_ytd,
        "b_codes",
        "Longest run of whole school days with B-codes this school year",
        "Langste reeks hele schooldagen met B-codes dit schooljaar",
        "school days",
        1,
    ),
    # --- illness ---
    *_windowed(
        absences.illness_rate,
        "illness",
        "Share of half-days absent through illness",
        "Aandeel halve dagen afwezig wegens ziekte",
        SHARE,
        ("4w", "8w", "ytd"),
    ),
    _feature(
        absences.parent_note_halfdays_ytd,
        "illness",
        "Half-days ill on a parent's note this school year",
        "Halve dagen ziek met een briefje van de ouders dit schooljaar",
        "half-days",
        1,
    ),
    _feature(
        spells.parent_note_spells_ytd,
        "illness",
        "Separate illness spells on a parent's note this school year",
        "Aantal ziekteperiodes met een briefje van de ouders dit schooljaar",
        "spells",
        1,
    ),
    _feature(
        absences.certified_halfdays_ytd,
        "illness",
        "Half-days ill with a doctor's certificate this school year",
        "Halve dagen ziek met een doktersattest dit schooljaar",
        "half-days",
        1,
    ),
    _feature(
        spells.illness_reports_12w,
        "illness",
        "Separate illness spells that began in the last 12 school weeks",
        "Aantal ziekmeldingen in de laatste 12 schoolweken",
        "spells",
        1,
    ),
    _feature(
        spells.illness_longest_spell_ytd,
        "illness",
        "Longest run of school days ill this school year",
        "Langste reeks schooldagen ziek dit schooljaar",
        "school days",
        1,
    ),
    # --- late arrivals ---
    *_windowed(
        lateness.late_arrivals,
        "lateness",
        "Late arrivals",
        "Keren te laat",
        "times",
        ("4w", "ytd"),
    ),
    _feature(
        lateness.late_minutes_4w,
        "lateness",
        "Minutes late, added up (last 4 school weeks)",
        "Minuten te laat, opgeteld (laatste 4 schoolweken)",
        "minutes",
        1,
    ),
    _feature(
        lateness.late_start_of_day_share_ytd,
        "lateness",
        "Share of late arrivals at the start of the school day (this school year)",
        "Aandeel keren te laat bij het begin van de schooldag (dit schooljaar)",
        "share",
        1,
    ),
    # --- sick bay ---
    *_windowed(
        sick_bay.sick_bay_visits,
        "sick_bay",
        "Visits to the sick bay",
        "Bezoeken aan de ziekenkamer",
        "visits",
        ("4w", "ytd"),
    ),
    _feature(
        sick_bay.sick_bay_sent_home_8w,
        "sick_bay",
        "Sick-bay visits that ended with going home or parents called (last 8 school weeks)",
        "Bezoeken aan de ziekenkamer waarna naar huis of ouders gebeld (laatste 8 schoolweken)",
        "visits",
        1,
    ),
    _feature(
        sick_bay.sick_bay_sent_home_share_ytd,
        "sick_bay",
        "Share of sick-bay visits that ended with going home or parents called (this school year)",
        "Aandeel bezoeken aan de ziekenkamer waarna naar huis of ouders gebeld (dit schooljaar)",
        "share",
        1,
    ),
    # --- patterns ---
    _feature(
        patterns.monday_excess_ytd,
        "pattern",
        "Absent days on Mondays, above what chance would give",
        "Afwezige dagen op maandag, meer dan toeval zou geven",
        "difference in share",
        1,
    ),
    _feature(
        patterns.after_break_excess_ytd,
        "pattern",
        "Absence on the first school day after a weekend or holiday, above other days",
        "Afwezig op de eerste schooldag na een weekend of vakantie, meer dan op andere dagen",
        "difference in share",
        1,
    ),
    _feature(
        patterns.after_holiday_absences_ytd,
        "pattern",
        "Absent on the first school day after a holiday",
        "Afwezig op de eerste schooldag na een vakantie",
        "days",
        1,
    ),
    _feature(
        patterns.first_period_excess_ytd,
        "pattern",
        "Absent days that include the first period, above chance",
        "Afwezige dagen met het eerste lesuur erbij, meer dan toeval zou geven",
        "difference in share",
        1,
    ),
    _feature(
        patterns.weekday_concentration_ytd,
        "pattern",
        "Absent days piling up on one weekday",
        "Afwezige dagen die zich op één weekdag opstapelen",
        "difference in share",
        1,
    ),
    # --- trend ---
    _feature(
        trend.absence_slope_8w,
        "trend",
        "Weekly absence rising over the last 8 school weeks",
        "Wekelijkse afwezigheid die stijgt over de laatste 8 schoolweken",
        "share per week",
        1,
    ),
    _feature(
        trend.absence_change_vs_year,
        "trend",
        "Absence in the last 4 school weeks compared with earlier this school year",
        "Afwezigheid in de laatste 4 schoolweken vergeleken met eerder dit schooljaar",
        "difference in share",
        1,
    ),
    _feature(
        trend.absence_change_vs_last_year,
        "trend",
        "Absence this school year compared with last school year",
        "Afwezigheid dit schooljaar vergeleken met vorig schooljaar",
        "difference in share",
        1,
    ),
    # --- context ---
    _feature(
        context.class_absence_rate_4w,
        "context",
        "Absence in the pupil's class (last 4 school weeks)",
        "Afwezigheid in de klas van de leerling (laatste 4 schoolweken)",
        SHARE,
        0,
        "context",
    ),
    _feature(
        context.school_absence_rate_4w,
        "context",
        "Absence in the pupil's school (last 4 school weeks)",
        "Afwezigheid in de school van de leerling (laatste 4 schoolweken)",
        SHARE,
        0,
        "context",
    ),
    _feature(
        context.absence_rate_vs_class_4w,
        "context",
        "Absence above the class (last 4 school weeks)",
        "Afwezigheid boven die van de klas (laatste 4 schoolweken)",
        "difference in share",
        1,
        "context",
    ),
    _feature(
        context.illness_rate_vs_class_4w,
        "context",
        "Illness above the class (last 4 school weeks)",
        "Ziekte boven die van de klas (laatste 4 schoolweken)",
        "difference in share",
        1,
        "context",
    ),
    # --- transition ---
    _feature(
        transition.first_year_secondary,
        "transition",
        "In the first year of secondary school",
        "In het eerste jaar secundair onderwijs",
        "yes/no",
        1,
    ),
    _feature(
        transition.new_at_school,
        "transition",
        "First school year at this school",
        "Eerste schooljaar op deze school",
        "yes/no",
        1,
    ),
    _feature(
        transition.school_weeks_into_year,
        "transition",
        "School weeks since the school year began",
        "Schoolweken sinds het begin van het schooljaar",
        "school weeks",
        0,
    ),
)

BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOG}


def names(families: tuple[Family, ...] | None = None) -> list[str]:
    """Feature names in catalog order, optionally only those of some families."""
    return [f.name for f in CATALOG if families is None or f.family in families]


def directions(feature_names: list[str]) -> list[int]:
    """Expected risk direction per feature, for monotone constraints."""
    return [BY_NAME[n].direction for n in feature_names]
