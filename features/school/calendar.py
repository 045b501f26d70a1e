"""The built-in Flemish school calendar for secondary education.

Used when an export has no ``calendar`` table. The dates follow the rules of the
Besluit van de Vlaamse Regering van 31 augustus 2001 houdende de organisatie van het
schooljaar in het secundair onderwijs (art. 2 and 7), which still held for school year
2025-26: Flanders did *not* follow the 2022 reform of the French Community (school year
from the last Monday of August, two-week autumn and spring holidays). Later years are
projected with the same rules. docs/calendar.md lists the rules, the checks and sources.

Only calendar facts that hold for every school live here. A school's own free days
(pedagogische studiedagen, facultatieve vrije dagen) are not known centrally and need
the export's own ``calendar`` table.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import polars as pl

__all__ = [
    "KNOWN_SCHOOL_YEARS",
    "flemish_calendar",
    "school_year_bounds",
    "school_year_of",
]

KNOWN_SCHOOL_YEARS: tuple[int, ...] = tuple(range(2018, 2031))
"""First calendar year of each school year the built-in calendar knows (2018-19 .. 2030-31)."""

CALENDAR_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "school_day": pl.Boolean(),
    "periods": pl.Int8(),
    "holiday": pl.String(),
    "school_year": pl.Int16(),
}

_ONE_DAY = dt.timedelta(days=1)
_MONDAY, _WEDNESDAY, _FRIDAY, _SATURDAY, _SUNDAY = 0, 2, 4, 5, 6

# One-off changes decided by the government for a single year, as (school year, holiday)
# -> last day. Only changes that made whole days holidays for every school are listed; the
# COVID-19 suspensions of lessons (spring 2020, 29 March - 2 April 2021) were not holidays
# and differed per grade, so they are left to the export's own calendar (see the docs).
_EXTENDED_HOLIDAYS: dict[tuple[int, str], dt.date] = {
    # Overlegcomité of 30 October 2020: herfstvakantie extended to Sunday 15 November 2020.
    (2020, "herfstvakantie"): dt.date(2020, 11, 15),
}


def _easter_sunday(year: int) -> dt.date:
    """Easter Sunday in the Gregorian calendar (the anonymous 'Meeus/Jones/Butcher' algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _first_school_day(year: int) -> dt.date:
    # Art. 2 and the ministry's rule: 1 September, or the next Monday when it is a weekend day.
    first = dt.date(year, 9, 1)
    if first.weekday() >= _SATURDAY:
        first += dt.timedelta(days=7 - first.weekday())
    return first


def _last_school_day(year: int) -> dt.date:
    # 30 June of the next calendar year, or the Friday before when it is a weekend day.
    last = dt.date(year + 1, 6, 30)
    if last.weekday() >= _SATURDAY:
        last -= dt.timedelta(days=last.weekday() - _FRIDAY)
    return last


def _holiday_periods(year: int) -> list[tuple[str, dt.date, dt.date]]:
    """The vacation periods of school year ``year`` as (name, first day, last day)."""
    easter = _easter_sunday(year + 1)

    nov1 = dt.date(year, 11, 1)
    # The week (Monday-Sunday) holding 1 November; a Sunday 1 November moves it a week on.
    autumn = nov1 + _ONE_DAY if nov1.weekday() == _SUNDAY else nov1 - dt.timedelta(nov1.weekday())

    christmas_day = dt.date(year, 12, 25)
    christmas = (
        christmas_day + dt.timedelta(days=7 - christmas_day.weekday())
        if christmas_day.weekday() >= _SATURDAY
        else christmas_day - dt.timedelta(days=christmas_day.weekday())
    )

    # The 7th Monday before Easter Sunday.
    krokus = easter - dt.timedelta(days=48)

    if easter.month == 3:
        spring = easter + _ONE_DAY
    elif easter.day > 15:
        spring = easter - dt.timedelta(days=13)  # the second Monday before Easter
    else:
        april1 = dt.date(year + 1, 4, 1)
        spring = april1 + dt.timedelta(days=(_MONDAY - april1.weekday()) % 7)

    periods = [
        ("herfstvakantie", autumn, autumn + dt.timedelta(days=6)),
        ("kerstvakantie", christmas, christmas + dt.timedelta(days=13)),
        ("krokusvakantie", krokus, krokus + dt.timedelta(days=6)),
        ("paasvakantie", spring, spring + dt.timedelta(days=13)),
        ("zomervakantie", dt.date(year + 1, 7, 1), dt.date(year + 1, 8, 31)),
    ]
    return [
        (name, first, _EXTENDED_HOLIDAYS.get((year, name), last)) for name, first, last in periods
    ]


def _feestdagen(year: int) -> list[tuple[str, dt.date]]:
    """The recognised single free days of school year ``year`` (art. 7, 6°)."""
    easter = _easter_sunday(year + 1)
    return [
        ("Wapenstilstand", dt.date(year, 11, 11)),
        ("Paasmaandag", easter + dt.timedelta(days=1)),
        ("Dag van de Arbeid", dt.date(year + 1, 5, 1)),
        ("O.L.H. Hemelvaart", easter + dt.timedelta(days=39)),
        # Secondary education: "hemelvaartsdag en de dag nadien" are both free by decree.
        ("dag na O.L.H. Hemelvaart", easter + dt.timedelta(days=40)),
        ("Pinkstermaandag", easter + dt.timedelta(days=50)),
    ]


@lru_cache(maxsize=32)  # 13 known years; a DataFrame per year is small
def _school_year_frame(year: int) -> pl.DataFrame:
    """Every day from the first school day of ``year`` to the day before the next one."""
    first, last = _first_school_day(year), _last_school_day(year)
    until = _first_school_day(year + 1) - _ONE_DAY

    names: dict[dt.date, str] = {}
    # Single free days first, so that a vacation covering one (Easter Monday inside the
    # paasvakantie) names the day after the vacation.
    for name, day in _feestdagen(year):
        names[day] = name
    for name, start, stop in _holiday_periods(year):
        for offset in range((stop - start).days + 1):
            names[start + dt.timedelta(days=offset)] = name

    dates = [first + dt.timedelta(days=offset) for offset in range((until - first).days + 1)]
    holidays = [names.get(day) for day in dates]
    school_days = [
        first <= day <= last and day.weekday() < _SATURDAY and holiday is None
        for day, holiday in zip(dates, holidays, strict=True)
    ]
    # Secondary schools teach 9 half-days a week: Wednesday afternoon is free.
    periods = [
        (1 if day.weekday() == _WEDNESDAY else 2) if is_school else 0
        for day, is_school in zip(dates, school_days, strict=True)
    ]
    return pl.DataFrame(
        {
            "date": dates,
            "school_day": school_days,
            "periods": periods,
            "holiday": holidays,
            "school_year": [year] * len(dates),
        },
        schema=CALENDAR_SCHEMA,
    )


def _known_range() -> tuple[dt.date, dt.date]:
    return (
        _first_school_day(KNOWN_SCHOOL_YEARS[0]),
        _first_school_day(KNOWN_SCHOOL_YEARS[-1] + 1) - _ONE_DAY,
    )


def _as_date(day: dt.date) -> dt.date:
    # A datetime is a date too, but compares with neither dates nor Polars Date columns.
    return day.date() if isinstance(day, dt.datetime) else day


def school_year_of(day: dt.date) -> int:
    """The school year a day belongs to, named by its first calendar year.

    A school year runs from its first school day up to the day before the next school
    year's first school day, so summer days belong to the school year that just ended.

    Parameters
    ----------
    day : datetime.date
        Any day; the rule for the first school day is applied to any year, known or not.

    Returns
    -------
    int
        The first calendar year of the school year, e.g. 2023 for 2023-24.

    Examples
    --------
    >>> school_year_of(dt.date(2023, 9, 1)), school_year_of(dt.date(2023, 8, 31))
    (2023, 2022)
    """
    day = _as_date(day)
    return day.year if day >= _first_school_day(day.year) else day.year - 1


def school_year_bounds(year: int) -> tuple[dt.date, dt.date]:
    """First and last school day of a school year.

    Parameters
    ----------
    year : int
        First calendar year of the school year (2023 for 2023-24).

    Returns
    -------
    tuple of datetime.date
        The first and the last school day, both inclusive.

    Raises
    ------
    ValueError
        If ``year`` is not in `KNOWN_SCHOOL_YEARS`.

    Examples
    --------
    >>> school_year_bounds(2023)
    (datetime.date(2023, 9, 1), datetime.date(2024, 6, 28))
    """
    if year not in KNOWN_SCHOOL_YEARS:
        raise ValueError(
            f"school year {year}-{(year + 1) % 100:02d} is not in the built-in Flemish calendar"
            f" (it knows {_label(KNOWN_SCHOOL_YEARS[0])} to {_label(KNOWN_SCHOOL_YEARS[-1])});"
            " give the export a calendar table"
        )
    return _first_school_day(year), _last_school_day(year)


def _label(year: int) -> str:
    return f"{year}-{(year + 1) % 100:02d}"


def flemish_calendar(start: dt.date, end: dt.date) -> pl.DataFrame:
    """The built-in Flemish secondary-school calendar, one row per day.

    Parameters
    ----------
    start, end : datetime.date
        First and last day, both inclusive. An empty range (``end < start``) gives an
        empty frame.

    Returns
    -------
    polars.DataFrame
        Sorted by ``date``, with columns ``date`` (Date), ``school_day`` (Boolean),
        ``periods`` (Int8: registrable half-days, 2 on a school day, 1 on a Wednesday,
        0 otherwise), ``holiday`` (String: the vacation or feestdag name, null on school
        days and ordinary weekend days) and ``school_year`` (Int16, see `school_year_of`).

    Raises
    ------
    ValueError
        If the range reaches outside `KNOWN_SCHOOL_YEARS` (before the first school day of
        2018-19 or after 31 August 2031).

    Examples
    --------
    >>> flemish_calendar(dt.date(2024, 5, 8), dt.date(2024, 5, 10))["holiday"].to_list()
    [None, 'O.L.H. Hemelvaart', 'dag na O.L.H. Hemelvaart']
    """
    start, end = _as_date(start), _as_date(end)
    lowest, highest = _known_range()
    for day in (start, end):
        if not lowest <= day <= highest:
            raise ValueError(
                f"{day.isoformat()} is outside the built-in Flemish calendar, which knows"
                f" {lowest.isoformat()} to {highest.isoformat()}"
                f" (school years {_label(KNOWN_SCHOOL_YEARS[0])}"
                f" to {_label(KNOWN_SCHOOL_YEARS[-1])}); give the export a calendar table"
            )
    if end < start:
        return pl.DataFrame(schema=CALENDAR_SCHEMA)
    years = range(school_year_of(start), school_year_of(end) + 1)
    # filter() always returns a new frame, so callers never hold the cached ones.
    return pl.concat([_school_year_frame(year) for year in years], rechunk=True).filter(
        pl.col("date").is_between(start, end)
    )
