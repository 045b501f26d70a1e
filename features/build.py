"""The assembler: canonical tables + an as-of date -> one feature row per enrolled pupil.

For an as-of date ``t``: events strictly before ``t`` only; pupils enrolled on ``t`` only;
each window's counts looked up per pupil in running counts built once for all dates
(:mod:`features.running`); spells from the days of each kind, sorted once; explicit fills (a
count with no events is 0); then the catalog's expressions. Nothing here reads a clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from features.catalog import CATALOG
from features.gates import week_counts
from features.pupil_days import pupil_days
from features.running import look_up, running_counts
from features.school.schooldays import (
    SLOPE_WEEKS,
    OutsideCalendarError,
    as_of_dates,
    school_days,
    windows,
)
from features.signals import patterns, spells
from features.windows import (
    EDGES,
    PREVIOUS_YEAR,
    SLOPE,
    WINDOWS,
    periods_column,
    running_lookups,
    start,
    week_edge,
)

KEY_COLUMNS = ("student_key", "as_of")
META_COLUMNS = ("school_id", "class_key", "grade")
"""Carried beside the features for ranking within a school and for audits; not features."""

_CUMS = ("cum_periods", "cum_days", "cum_after_break", "cum_mondays")


@dataclass(frozen=True)
class DaySummary:
    """The pupil-day frame in aggregate: what the run around the feature building needs of it
    (its dates, the fingerprints of what each date can see, the data gates' weekly counts).

    Rows fall in a summary by their school, so the summaries of a board's shards (each of its
    schools' rows: :func:`prepare` with ``schools``) add up to the board's
    (:meth:`combined`), and a coordinator need not hold the pupil-days to have it.
    """

    by_date: pl.DataFrame
    """``date, hash, rows``: per date, its pupil-day rows and their row hashes summed (wrapping
    at 2**64, so that the sum does not depend on how the rows are split)."""
    by_week: pl.DataFrame
    """:func:`features.gates.week_counts`: per school and week, what was registered."""

    @classmethod
    def of(cls, frame: pl.DataFrame) -> DaySummary:
        """The summary of the pupil-day rows in ``frame``."""
        return cls(_hashes_by_date(frame), week_counts(frame))

    @classmethod
    def combined(cls, parts: Sequence[DaySummary]) -> DaySummary:
        """The summary of the rows of ``parts`` (each school's rows in one part) together."""
        dates = pl.concat([p.by_date for p in parts], how="vertical")
        by_date = (
            dates.group_by("date").agg(pl.col("hash").sum(), pl.col("rows").sum()).sort("date")
        )
        weeks = pl.concat([p.by_week for p in parts], how="vertical")
        return cls(by_date, weeks.sort("school_id", "week_start"))

    @property
    def first(self) -> dt.date | None:
        """The first day with a pupil-day row, if any."""
        first = self.by_date["date"].min()
        assert first is None or isinstance(first, dt.date)
        return first

    @property
    def last(self) -> dt.date | None:
        """The last day with a pupil-day row, if any."""
        last = self.by_date["date"].max()
        assert last is None or isinstance(last, dt.date)
        return last


def _hashes_by_date(frame: pl.DataFrame) -> pl.DataFrame:
    hashes = frame.hash_rows(seed=0) if frame.height else pl.Series("hash", [], pl.UInt64)
    return (
        frame.select(pl.col("date"), hashes.alias("hash"))
        .group_by("date")
        .agg(pl.col("hash").sum(), pl.len().cast(pl.Int64).alias("rows"))
        .sort("date")
    )


@dataclass(frozen=True)
class Board:
    """What the run around the feature building needs of a board: the enrolments, the school
    days per school and the pupil-days in aggregate; no pupil-day rows."""

    enrolments: pl.DataFrame
    days: pl.DataFrame
    summary: DaySummary

    def as_of_dates(
        self, start: dt.date | None = None, end: dt.date | None = None
    ) -> list[dt.date]:
        """The first school day of every school week from ``start``'s week to ``end``'s
        (:func:`features.school.schooldays.school_weeks`).

        By default from the first recorded event's week to the week after the last one.
        """
        lo = start or self.summary.first or self.days["date"].min()
        hi = end or self.summary.last or self.days["date"].max()
        assert isinstance(lo, dt.date) and isinstance(hi, dt.date)
        if end is None:
            hi += dt.timedelta(days=7)
        return as_of_dates(self.days, lo, hi)


@dataclass(frozen=True)
class Prepared(Board):
    """What every as-of date reuses: the board (:class:`Board`), its pupil-day frame, and what
    is derived from it once: pupil numbers, running counts and the days of every spell."""

    pupil_days: pl.DataFrame
    pupils: pl.DataFrame
    """``student_key`` and ``pupil``, a number in the order of the keys, per enrolled pupil."""
    counts: pl.DataFrame | None
    """:func:`features.running.running_counts` of every day-level count the windows add up
    (None when prepared without them: :func:`prepare`, ``derived``)."""
    spell_days: dict[str, pl.DataFrame]
    """:func:`features.signals.spells.spell_days`, collected."""


def board_days(enrolments: pl.LazyFrame, calendar: pl.LazyFrame) -> pl.DataFrame:
    """The school days of every school with enrolments, from the calendar
    (:func:`features.school.schooldays.school_days`)."""
    return school_days(calendar, enrolments.select("school_id").unique()).collect()


def prepare(
    enrolments: pl.LazyFrame,
    absences_: pl.LazyFrame,
    late_arrivals: pl.LazyFrame,
    sick_bay_visits: pl.LazyFrame,
    calendar: pl.LazyFrame,
    schools: Sequence[str] | None = None,
    derived: bool = True,
) -> Prepared:
    """Resolve each school's calendar and build the pupil-day frame, its running counts and
    the days of every spell, once for all dates.

    With ``schools``, a shard of the board: only the pupils ever enrolled at one of them, each
    with every enrolment and event of theirs (so a pupil who moved keeps their history). The
    calendar stays the whole board's, so the shard's feature rows at those schools are the
    whole board's rows (:func:`feature_table`, filtered to the schools).

    The summary (:class:`DaySummary`) is of the pupil-days at the board's schools, or at the
    shard's: the shards' summaries add up to the board's.

    Without ``derived``, the running counts and spells, the bulk of it, are left out: what a
    shard's summary needs.
    """
    days = board_days(enrolments, calendar)
    if schools is not None:
        shard = enrolments.filter(pl.col("school_id").is_in(list(schools)))
        keys = shard.select("student_key").unique()
        enrolments = enrolments.join(keys, on="student_key", how="semi", maintain_order="left")
        absences_, late_arrivals, sick_bay_visits = (
            frame.join(keys, on="student_key", how="semi", maintain_order="left")
            for frame in (absences_, late_arrivals, sick_bay_visits)
        )
    frame = pupil_days(absences_, late_arrivals, sick_bay_visits, days.lazy()).collect()
    at = frame if schools is None else frame.filter(pl.col("school_id").is_in(list(schools)))
    summary = DaySummary.of(at)
    del at
    enrolled = enrolments.collect()
    pupils = enrolled.select(pl.col("student_key").unique().sort()).with_row_index("pupil")
    if not derived:
        return Prepared(enrolled, days, summary, frame, pupils, counts=None, spell_days={})
    numbered = (
        frame.lazy()
        .join(pupils.lazy(), on="student_key", how="inner")
        .with_columns(patterns.day_counts())
    )
    columns = list(dict.fromkeys(column for column, _, _ in running_lookups(_pupil_features())))
    kinds = spells.spell_days(numbered)
    counts, *spell_frames = pl.collect_all([running_counts(numbered, columns), *kinds.values()])
    # One chunk per column: look-ups in a column of many chunks are several times slower.
    return Prepared(
        enrolments=enrolled,
        days=days,
        summary=summary,
        pupil_days=frame,
        pupils=pupils,
        counts=counts.rechunk(),
        spell_days={k: f.rechunk() for k, f in zip(kinds, spell_frames, strict=True)},
    )


def cohort(enrolments: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Pupils enrolled on ``as_of``: school, class and grade of the enrolment covering it.

    Also ``enrolled_since`` (the first enrolment start on the board) and ``first_year_start``
    (when the pupil first enrolled at this school), for denominators and ``new_at_school``.
    """
    started = enrolments.filter(pl.col("start_date") <= as_of)
    current = (
        started.filter(pl.col("end_date").is_null() | (pl.col("end_date") >= as_of))
        .sort("student_key", "start_date")
        .group_by("student_key")
        .agg(pl.all().last())
    )
    since = started.group_by("student_key").agg(pl.col("start_date").min().alias("enrolled_since"))
    at_school = started.group_by("student_key", "school_id").agg(
        pl.col("start_date").min().alias("first_at_school")
    )
    return (
        current.join(since, on="student_key")
        .join(at_school, on=["student_key", "school_id"])
        .select(
            "student_key",
            "school_id",
            pl.coalesce("class_id", pl.format("grade {}", "grade")).alias("class_key"),
            "grade",
            "enrolled_since",
            "first_at_school",
        )
    )


def _cum_at(days: pl.LazyFrame, date_column: str, prefix: str) -> tuple[pl.LazyFrame, list[str]]:
    cols = [pl.col(c).alias(f"{prefix}{c}") for c in _CUMS]
    table = days.select("school_id", pl.col("date").alias(date_column), *cols)
    return table, [f"{prefix}{c}" for c in _CUMS]


def school_windows(days: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Per school: window starts and the running counts (``cum_*``) at each window edge."""
    out = windows(days, as_of).with_columns(as_of=pl.lit(as_of))
    edges = [
        "as_of",
        *[start(w) for w in (*WINDOWS, PREVIOUS_YEAR)],
        *[week_edge(j) for j in range(1, SLOPE_WEEKS + 1)],
    ]
    for edge in edges:
        table, _ = _cum_at(days, edge, f"{edge}__")
        out = out.join(table, on=["school_id", edge], how="left")
    weeks = (
        days.join(out.select("school_id", "start_ytd"), on="school_id")
        .filter(
            pl.col("school_day")
            & (pl.col("date") >= pl.col("start_ytd"))
            & (pl.col("week_start") < pl.lit(as_of).dt.truncate("1w"))
        )
        .group_by("school_id")
        .agg(pl.col("week_start").n_unique().cast(pl.Int32).alias("weeks_into_year"))
    )
    return out.join(weeks, on="school_id", how="left").with_columns(
        pl.col("weeks_into_year").fill_null(0)
    )


def _denominators() -> list[pl.Expr]:
    """Registrable periods (and days) per window, counting only time the pupil was enrolled."""

    def between(lo: str, hi: str, cum: str = "cum_periods") -> pl.Expr:
        upper = pl.col(f"{hi}__{cum}").fill_null(0)
        lower = pl.max_horizontal(
            pl.col(f"{lo}__{cum}").fill_null(0), pl.col(f"enrol__{cum}").fill_null(0)
        )
        return (upper - lower).clip(lower_bound=0)

    exprs = [between(*EDGES[w]).alias(periods_column(w)) for w in (*WINDOWS, *SLOPE)]
    # Last year's periods from its first school day (its events are looked up from the first
    # day seen, which is the same day when the calendar reaches last year).
    exprs.append(between(start(PREVIOUS_YEAR), start("ytd")).alias(periods_column(PREVIOUS_YEAR)))
    exprs += [
        between("start_ytd", "as_of", "cum_days").alias("days_ytd"),
        between("start_ytd", "as_of", "cum_mondays").alias("mondays_ytd"),
        between("start_ytd", "as_of", "cum_after_break").alias("after_break_days_ytd"),
        pl.col("as_of__cum_days").fill_null(0).alias("last_school_index"),
        (pl.col("first_at_school") >= pl.col("start_ytd")).alias("new_at_school"),
    ]
    return exprs


def _pupil_features() -> list[pl.Expr]:
    return [f.expression() for f in CATALOG if f.stage == "pupil"]


def feature_table(prepared: Prepared, as_of: dt.date) -> pl.LazyFrame:
    """The feature row of every pupil enrolled on ``as_of``, from events strictly before it.

    Returns
    -------
    polars.LazyFrame
        ``student_key, as_of, school_id, class_key, grade`` then the catalog's features in
        catalog order, sorted by ``school_id, student_key``.
    """
    if prepared.counts is None:
        raise ValueError("feature_table needs the running counts: prepare(..., derived=True)")
    last_day = prepared.days["date"].max()
    if isinstance(last_day, dt.date) and as_of > last_day:
        raise OutsideCalendarError(
            f"as-of date {as_of} is after the calendar's last day ({last_day}): "
            "add the coming days to the export's calendar"
        )
    days = prepared.days.lazy()
    pupils = (
        cohort(prepared.enrolments.lazy(), as_of)
        .join(prepared.pupils.lazy(), on="student_key", how="inner")
        .sort("pupil")  # in the order of the running counts: see look_up
    )
    per_school = school_windows(days, as_of).collect()
    enrol_cum, _ = _cum_at(days, "enrolled_since", "enrol__")
    earliest = prepared.days["date"].min()
    frame = (
        pupils.join(per_school.lazy(), on="school_id", how="left", maintain_order="left")
        .join(enrol_cum, on=["school_id", "enrolled_since"], how="left", maintain_order="left")
        .with_columns(_denominators())
        .with_columns(start_history=pl.coalesce("start_prev", pl.lit(earliest)))
    )
    first_ytd = per_school["start_ytd"].min()
    assert first_ytd is None or isinstance(first_ytd, dt.date)
    pupil_features = _pupil_features()
    seen = (pl.col("start_history"), pl.lit(as_of))  # events from the previous school year on
    spell_counts = spells.spell_aggregates(
        prepared.spell_days,
        frame.select("pupil", "start_ytd", "start_12w", "last_school_index"),
        first_ytd,
        as_of,
    )
    spell_cols = [c for c in spell_counts.collect_schema().names() if c != "pupil"]
    table = (
        look_up(frame, prepared.counts, running_lookups(pupil_features), seen)
        .join(spell_counts, on="pupil", how="left")
        .with_columns(pl.col(spell_cols).fill_null(0))
        .with_columns(pupil_features)
        .select(
            "pupil", *KEY_COLUMNS, *META_COLUMNS, *[f.name for f in CATALOG if f.stage == "pupil"]
        )
    )
    # Class and school means are taken over one sorted, single-chunk frame, so they add up in
    # the same order every time: the same inputs give the same features to the last bit.
    # Pupil numbers follow the order of the keys: this is the order of ``student_key``.
    pupils_done = table.sort("school_id", "pupil").collect(engine="in-memory").rechunk()
    table = pupils_done.with_columns(
        [f.expression() for f in CATALOG if f.stage == "context"]
    ).lazy()
    return table.select(
        *KEY_COLUMNS, *META_COLUMNS, *[pl.col(f.name).cast(pl.Float64) for f in CATALOG]
    )
