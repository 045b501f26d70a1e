"""Raw export tables -> canonical, pseudonymised tables, with quarantine and reconciliation.

Pure: frames and a key in, frames out. Reading files and writing Parquet happen in
:mod:`pipelines.steps.ingest`; for an export too large to hold, the caller hands in its event
tables part by part and a place to keep their canonical rows (:class:`EventParts`,
:class:`RowStore`; :mod:`pipelines.sources.spill` keeps both on disk). A part is checked by
:func:`check_part`, which needs no key and no pseudonym, so that it can run in another
process (the workers of a cluster). Every raw row ends up
in exactly one of three places: the canonical table, the quarantine (with file, row, column,
value and reason), or the count of duplicates (rows whose values, once parsed, an earlier row
has), and :class:`Reconciliation` says so for each table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import polars as pl

from features.canonical import codes, contract
from features.canonical.codes import CodeProfile
from features.canonical.pseudonym import per_school_id, pseudonym_map, pseudonymise, shown_id
from features.canonical.validate import (
    ROW,
    Parsed,
    empty_failures,
    failures_where,
    parse_table,
    position_column,
    repeated_values,
)
from features.school import calendar
from features.school.schooldays import calendar_lookup

CANONICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "enrolments": ("student_key", "school_id", "class_id", "grade", "start_date", "end_date"),
    "absences": (
        "student_key",
        "school_id",
        "date",
        "period",
        "half",
        "code",
        "category",
        "minutes",
    ),
    "late_arrivals": ("student_key", "school_id", "date", "time", "minutes_late", "source"),
    "sick_bay_visits": ("student_key", "school_id", "date", "time", "minutes", "outcome"),
    "calendar": ("school_id", "date", "school_day", "periods", "holiday", "school_year"),
    "students": ("student_key", "gender", "ses_low", "sen"),
    "care_cases": ("student_key", "case_type", "opened_on", "onset_on", "label_date"),
}
"""The columns of each canonical table, in order; rows are sorted by all of them."""


class UnknownCodesError(ValueError):
    """Absence codes the profile does not know: ingest stops unless they are allowed."""


class EmptyTableError(ValueError):
    """A required table whose file has a header but no rows: there is nothing to ingest, and
    going on would quarantine every event as of an unknown pupil, or accept an export with no
    absences as a board where nobody is ever absent."""


SEVERITY = (
    "unexcused",
    "exclusion",
    "illness_certified",
    "illness_parent_note",
    "illness",
    "excused_other",
    "early_departure",
    "late",
    "school_activity",
    "present",
)
"""The canonical categories, most serious first: when one period of a pupil has two codes, the
more serious is kept. An unexcused absence is the one a school must act on; an exclusion keeps
the pupil out as surely; a certificate outweighs a parent's note, which outweighs an illness
not said how; a missed period outweighs part of one, and any absence outweighs presence."""


@dataclass(frozen=True)
class RawTable:
    """One export table as read: text columns of the contract plus ``_row``, and the rows the
    reader could not split into those columns (``rejected``, as failures: a CSV line with more
    fields than its header)."""

    name: str
    source: str
    frame: pl.DataFrame
    rejected: pl.DataFrame = field(default_factory=empty_failures)


@dataclass(frozen=True)
class Reconciliation:
    """Where the rows of one table went: read = accepted + quarantined + duplicates."""

    table: str
    source: str
    read: int
    accepted: int
    quarantined: int
    duplicates: int
    note: str = ""

    @property
    def balanced(self) -> bool:
        """True when no row is unaccounted for."""
        return self.read == self.accepted + self.quarantined + self.duplicates

    def line(self) -> str:
        """The reconciliation as one line for the console and the manifest."""
        text = (
            f"{self.table}: read {self.read:,} = accepted {self.accepted:,} "
            f"+ quarantined {self.quarantined:,} + duplicates {self.duplicates:,}"
        )
        return text + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class IngestOptions:
    """What canonicalisation needs besides the tables."""

    profile: CodeProfile
    key: bytes
    allow_unknown_codes: bool = False
    morning_lessons: int = 4  # lessons 1-4 are the morning half-day
    ids: IdScope = "board"
    append: bool = False
    """An incremental export (see :mod:`features.canonical.append`): a week may bring no absences."""
    partition_rows: int = 1_000_000
    """The most event rows checked at once: the event tables are checked in as many parts,
    by a hash of the pupil id (:func:`pupil_partitions`), as this takes."""

    def without_key(self) -> IngestOptions:
        """These options with no key: what checking a part of the events needs
        (:func:`check_part`), which keys no pupil, and which may be sent to another process."""
        return replace(self, key=b"")

    def __getstate__(self) -> dict[str, object]:
        """Pickled (to be sent to a worker) only without the key: :meth:`without_key`."""
        if self.key:
            raise TypeError("IngestOptions with the pseudonym key are not pickled: without_key()")
        return dict(self.__dict__)


Say = Callable[[str], None]
"""Where progress is said: a line of text, no data in it."""

IdScope = Literal["board", "per-school"]
"""Whom a pupil id is unique among: the whole board (``board``), or only its school
(``per-school``: pupils are keyed on ``(school_id, student_id)``, see :func:`_per_school`)."""

PUPIL_TABLES = ("absences", "late_arrivals", "sick_bay_visits", "students", "care_cases")
"""The tables whose rows are a pupil's, besides the enrolments: with ``--ids per-school`` each
names its pupil's school in a ``school_id`` column."""


class MissingSchoolIdError(ValueError):
    """Pupils are keyed per school, but a table does not say which school a row's pupil is at."""


@dataclass(frozen=True)
class Canonical:
    """The result of :func:`canonicalise`."""

    tables: dict[str, pl.DataFrame]
    quarantine: dict[str, pl.DataFrame]
    reconciliation: list[Reconciliation]
    identities: pl.DataFrame
    notices: list[str] = field(default_factory=list)
    shared_ids: int = 0
    """Pupil ids enrolled at two schools at once (:func:`shared_ids`): ids unique per school?"""
    spilled: dict[str, pl.LazyFrame] = field(default_factory=dict)
    """The event tables a :class:`RowStore` kept out of memory (not in ``tables`` then): each
    a scan of its sorted rows in the store's files, to be written as it is read while those
    files are there."""


@dataclass
class _Step:
    """A table on its way: typed rows still in play, and the failures found so far.

    ``distinct`` holds the distinct values parsing kept for some columns (see
    :data:`_KEPT_POSITIONS`); the rows carry their positions among them until they are used.
    """

    raw: RawTable
    rows: pl.DataFrame
    failures: list[pl.DataFrame]
    duplicates: int
    distinct: dict[str, pl.Series] = field(default_factory=dict)
    keyed_per_school: int | None = None
    """With pupils keyed per school, how many failures were found before (later ones name the
    per-school id, shown without its school in the quarantine: see :func:`_finish`)."""

    def reject(self, found: pl.DataFrame) -> None:
        if found.height:
            self.failures.append(found)
            self.rows = self.rows.filter(~pl.col(ROW).is_in(found[ROW].implode()))

    def distinct_values(self, column: str) -> tuple[pl.Series, pl.Series]:
        """The distinct values of ``column`` as parsing found them (possibly some of rows no
        longer in play), and each row's position among them; the positions leave the rows."""
        positions = self.rows[position_column(column)]
        self.rows = self.rows.drop(position_column(column))
        return self.distinct.pop(column), positions


_KEPT_POSITIONS = {
    "absences": ("student_id", "period", "code"),
    "late_arrivals": ("student_id",),
    "sick_bay_visits": ("student_id",),
}
"""Columns whose distinct values later steps map (the pupils, the codes, the periods): parsing
has found them once already, so each row keeps its position among them."""


def _require_rows(name: str, source: str, rows: int) -> None:
    """Stop on a required table whose file has a header but no rows (see
    :class:`EmptyTableError`)."""
    if rows == 0:
        raise EmptyTableError(
            f"{name}: the file {source} has a header but no rows "
            "(a required table needs at least one)"
        )


def _start(raw: RawTable) -> _Step:
    parsed: Parsed = parse_table(raw.frame, raw.name, _KEPT_POSITIONS.get(raw.name, ()))
    failures = [f for f in (raw.rejected, parsed.failures) if f.height]
    return _Step(raw, parsed.rows, failures, parsed.duplicates, parsed.distinct)


def _shown_values(step: _Step) -> list[pl.DataFrame]:
    """The failures of ``step``, each pupil id as its school wrote it (see :func:`_per_school`)."""
    if step.keyed_per_school is None:
        return step.failures
    before, after = step.failures[: step.keyed_per_school], step.failures[step.keyed_per_school :]
    shown = pl.when(pl.col("column") == "student_id").then(shown_id("value")).otherwise("value")
    return [*before, *(f.with_columns(shown.alias("value")) for f in after)]


def _finish(
    step: _Step, canonical: pl.DataFrame, note: str = ""
) -> tuple[pl.DataFrame, Reconciliation]:
    failures = pl.concat(_shown_values(step)) if step.failures else empty_failures()
    # The failed rows are picked out first: joining the raw table itself hashes all its rows.
    failed = step.raw.frame.filter(pl.col(ROW).is_in(failures[ROW].implode()))
    quarantined = (
        failures.join(failed, on=ROW, how="left")
        .sort(ROW)
        .select(
            pl.lit(step.raw.source).alias("file"), pl.col(ROW).alias("row"), pl.all().exclude(ROW)
        )
    )
    rec = Reconciliation(
        table=step.raw.name,
        source=step.raw.source,
        read=step.raw.frame.height + step.raw.rejected.height,
        accepted=step.rows.height,
        quarantined=quarantined.height,
        duplicates=step.duplicates,
        note=note,
    )
    return quarantined, rec


def _order_code(column: pl.Series) -> tuple[pl.Series, int]:
    """Integers that sort like ``column`` (ascending, nulls last), and how many there can be.

    Equal values get equal codes and different values different codes, so sorting rows by the
    codes of every column gives the same order as sorting them by the columns themselves.
    Text is ranked among its distinct values; dates, booleans, enums (by their category order)
    and integers are offset from their smallest value.
    """
    if column.dtype == pl.String:  # an enum of the sorted distinct texts orders like them
        distinct = column.drop_nulls().unique().sort()
        code = column.cast(pl.Enum(distinct)).to_physical().cast(pl.UInt64)
        top = distinct.len()
    else:
        physical = column.to_physical()
        low, high = physical.min(), physical.max()
        if not isinstance(low, int) or not isinstance(high, int):  # only nulls
            low = high = 0
        low, high = int(low), int(high)  # a boolean's are bools
        code = _offset(physical, low)
        top = high - low + 1
    return code.fill_null(top), top + 1


def _offset(physical: pl.Series, low: int) -> pl.Series:
    """``physical - low`` as unsigned 64-bit integers, for integers none of which is below ``low``.

    Integers that are not negative are widened straight to UInt64 (twice as quick as through
    Int64, which only negative ones need).
    """
    if low < 0:
        return (physical.cast(pl.Int64) - low).cast(pl.UInt64)
    widened = physical.cast(pl.UInt64)
    return widened - low if low else widened


def _sort_order(frame: pl.DataFrame) -> pl.Series:
    """The row order of ``frame`` sorted by all its columns, nulls last.

    The columns' order codes are packed into one 64-bit key when they fit (a single-key sort
    is many times faster than a sort over several text columns); otherwise by the key of the
    columns that fit and then the codes of the others, column by column. Each column's code
    is folded into the key as soon as it is found, so that only the key and one column's
    code are held at a time while they fit.
    """
    codes: list[pl.Series] = []
    key: pl.Series | None = None
    width = 0
    for name in frame.columns:
        code, count = _order_code(frame[name])
        bits = (count - 1).bit_length()
        codes.append(code)
        width += bits
        if width <= 64:  # still one key: fold this column in and let its code go
            key = code if key is None else key * (1 << bits) + code
            codes = [key]
    if width > 64:
        keys = pl.DataFrame([code.alias(str(i)) for i, code in enumerate(codes)])
        return keys.select(pl.arg_sort_by(keys.columns)).to_series()
    assert key is not None
    return key.arg_sort()


_FOLLOWS = {"half": "period", "category": "code"}
"""Columns whose value follows from a column sorted before them (the half-day from the period,
the category from the code): they can never break a tie, so sorting leaves them out."""


def sorted_table(frame: pl.DataFrame, table: str, keys: pl.Series | None = None) -> pl.DataFrame:
    """The canonical columns of ``table``, rows sorted by all of them (nulls last).

    An :data:`ORDER_OF` column, when ``frame`` has one, stands in for its column in the sort:
    it orders the same and spares ranking millions of texts. A ``frame`` without
    ``student_key`` takes it from ``keys`` (the distinct pupil keys, sorted) by its
    :data:`KEY_ORDER`, once sorted: the keys' text is then made only for the result.
    """
    columns = CANONICAL_COLUMNS[table]
    keyless = "student_key" not in frame.columns
    if frame.height < 2:
        order = pl.int_range(frame.height, dtype=pl.UInt32, eager=True)
    else:
        by = [_sorted_by(c, frame.columns) for c in columns if c not in _FOLLOWS]
        order = _sort_order(frame.select(by))

    def sorted_column(column: str) -> pl.Series:
        # Filtered many times: gathering from one chunk is much faster. Column by column, so
        # that only one column is held twice (as read and in one chunk) besides the result.
        if column == "student_key" and keyless:
            assert keys is not None
            return keys.gather(frame[KEY_ORDER].rechunk().gather(order) - 1)
        return frame[column].rechunk().gather(order)

    return pl.DataFrame([sorted_column(column) for column in columns])


def _sorted_by(column: str, present: list[str]) -> str:
    """The column to sort by for ``column``: its :data:`ORDER_OF` stand-in when present."""
    stand_in = ORDER_OF.get(column, column)
    return stand_in if stand_in in present else column


KEY_ORDER = "_key_order"
"""Each pupil's rank by pseudonym: sorts like ``student_key``, ranked once per pupil."""

SCHOOL_ORDER = "_school_order"
"""Each school's rank among the enrolments' schools: sorts like ``school_id``."""

PERIOD_ORDER = "_period_order"
"""Each period's rank among the distinct periods: sorts like ``period``."""

CODE_ORDER = "_code_order"
"""Each code's rank among the distinct codes: sorts like ``code``."""

ORDER_OF = {
    "student_key": KEY_ORDER,
    "school_id": SCHOOL_ORDER,
    "period": PERIOD_ORDER,
    "code": CODE_ORDER,
}
"""The column that stands in for a canonical column in the sort, when a table has it."""


def _with_key_order(identities: pl.DataFrame) -> pl.DataFrame:
    """The identity map plus :data:`KEY_ORDER`."""
    return identities.with_columns(
        pl.col("student_key").rank("dense").cast(pl.UInt32).alias(KEY_ORDER)
    )


PUPIL = "_pupil"
"""Each event's pupil as a position in the identity map, found by the enrolment lookup."""


def _enrolment_spans(enrolments: pl.DataFrame, pupils: pl.Series) -> pl.DataFrame:
    """The enrolments as :func:`_check_enrolled` searches them: sorted by pupil and start.

    ``pupils`` are the sorted distinct ids of ``enrolments`` (the identity map's); each span
    has its pupil's position among them (:data:`PUPIL`) and its school's :data:`SCHOOL_ORDER`.
    """
    return enrolments.select(
        pl.col("student_id").cast(pl.Enum(pupils)).to_physical().alias(PUPIL),
        "school_id",
        _rank(SCHOOL_ORDER, "school_id"),
        "start_date",
        "end_date",
    ).sort(PUPIL, "start_date", maintain_order=True)


def _check_enrolled(step: _Step, spans: pl.DataFrame, pupils: pl.Series) -> None:
    """Attach the enrolment covering each event; reject unknown pupils and dates outside it.

    ``spans`` come from :func:`_enrolment_spans` with the same ``pupils``: the event keeps its
    pupil's position as :data:`PUPIL` (looked up once per distinct id that parsing found), and
    gets the enrolment's school and its :data:`SCHOOL_ORDER`.

    The covering enrolment is the pupil's last one to start on or before the event's date. With
    the spans sorted by pupil and start, it is found by a binary search for the key
    ``(pupil, date)`` among the keys ``(pupil, start_date)``, each packed into one integer.
    """
    distinct, positions = step.distinct_values("student_id")
    pupil = _positions_among(distinct, pupils).gather(positions)
    step.rows = step.rows.with_columns(pupil.alias(PUPIL))
    step.reject(
        failures_where(
            step.rows, pl.col(PUPIL).is_null(), "student_id", "unknown pupil (not in enrolments)"
        )
    )
    span_pupil = spans[PUPIL]
    span_keys = _pupil_day(span_pupil, spans["start_date"])
    found = span_keys.search_sorted(_pupil_day(step.rows[PUPIL], step.rows["date"]), "right")
    span = (found.cast(pl.Int64) - 1).clip(lower_bound=0)
    same_pupil = (found > 0) & (span_pupil.gather(span) == step.rows[PUPIL])
    covering = spans.drop(PUPIL)[span].select(
        pl.col("school_id", SCHOOL_ORDER),
        pl.when(same_pupil).then(pl.col("start_date", "end_date")),
    )
    step.rows = step.rows.with_columns(covering)
    outside = pl.col("start_date").is_null() | (pl.col("date") > pl.col("end_date"))
    step.reject(failures_where(step.rows, outside, "date", "outside the pupil's enrolment"))
    step.rows = step.rows.drop("start_date", "end_date")


def _positions_among(values: pl.Series, pupils: pl.Series) -> pl.Series:
    """Each of ``values``' position among ``pupils`` (sorted, distinct), null when it is not
    one of them: the numbers a cast to ``pl.Enum(pupils)`` gives, found by a binary search,
    which spares building that cast's lookup of every enrolled id anew for each part of the
    events (a second or more for a million pupils)."""
    if pupils.is_empty():  # every enrolment quarantined: no event has a pupil
        return pl.repeat(None, values.len(), dtype=pl.UInt32, eager=True)
    found = pupils.search_sorted(values.fill_null(""), side="left")
    last = pupils.len() - 1
    hit = (found <= last) & (pupils.gather(found.clip(upper_bound=last)) == values)
    return pl.select(pl.when(hit).then(found).cast(pl.UInt32)).to_series()


EPOCH = dt.date(1970, 1, 1)
"""Day 0 of a polars date."""

OTHER_SCHOOL_OVERLAP = "starts while this pupil is still enrolled at another school"


SHARED_IDS = (
    "{n} pupil id(s) are enrolled at two schools at once (the later enrolments are quarantined): "
    "if your pupil numbers are unique only within a school, these are different pupils merged "
    "into one; ingest with --ids per-school (every table then needs a school_id column)"
)


def shared_ids(enrolments: pl.DataFrame) -> int:
    """How many pupil ids are enrolled at two schools at once (the same start day at another
    school, or a start while enrolled at another): a sign that ids are unique per school only."""
    same_day = pl.col("school_id").n_unique().over("student_id", "start_date") > 1
    both = enrolments.filter(same_day | _overlaps_another_school(enrolments))
    return both["student_id"].n_unique()


def _overlaps_another_school(enrolments: pl.DataFrame) -> pl.Series:
    """True for each enrolment that starts while an earlier one of the same pupil at another
    school has not ended (no end date, or an end after this start).

    Left in, the later enrolment would take every event of the pupil from its start (the
    covering enrolment is the last to start, see :func:`_check_enrolled`): the pupil would
    silently change school. An end on the very day the other starts is a move that day. At
    the same school enrolments may overlap: a class change, or a new school year written
    without ending the last, is the later enrolment covering the pupil from its start, as the
    cohort reads it too. Each enrolment is judged against every earlier one still in play,
    itself quarantined or not: two open enrolments at two schools contradict each other
    whichever came first. Only pupils at more than one school are paired up.
    """
    spans = enrolments.select(ROW, "student_id", "school_id", "start_date", "end_date")
    movers = spans.filter(pl.col("school_id").n_unique().over("student_id") > 1)
    pairs = movers.join(movers, on="student_id", suffix="_other").filter(
        pl.col("start_date_other") < pl.col("start_date"),
        pl.col("school_id_other") != pl.col("school_id"),
        pl.col("end_date_other").is_null() | (pl.col("end_date_other") > pl.col("start_date")),
    )
    return enrolments[ROW].is_in(pairs[ROW].implode())


def _one_code_per_period(step: _Step) -> None:
    """Keep one code per pupil, date and period, the most serious (:data:`SEVERITY`; among
    equals the first in the file), and quarantine the others, naming the kept category.

    Two codes for one period contradict each other, and both would count the period twice.
    """
    shared = _same_period(step.rows)
    if not shared.any():
        return
    slot = [PUPIL, "date", PERIOD_ORDER]
    severity = pl.col("category").cast(pl.String).cast(pl.Enum(SEVERITY)).to_physical()
    judged = (
        step.rows.filter(shared)
        .sort(*slot, severity, ROW)
        .with_columns(
            pl.col("category").first().over(slot).alias("_kept"),
            pl.col(ROW).first().over(slot).alias("_first"),
        )
    )
    kept = pl.col("_kept").cast(pl.String)
    reason = (
        pl.when(pl.col("category") == pl.col("_kept"))
        .then(
            pl.format(
                "another row for this pupil's period, of the same category, was kept: {}", kept
            )
        )
        .otherwise(
            pl.format("another code for this pupil's period is more serious and was kept: {}", kept)
        )
    )
    step.reject(
        judged.filter(pl.col(ROW) != pl.col("_first")).select(
            pl.col(ROW),
            pl.lit("code").alias("column"),
            pl.col("code").alias("value"),
            reason.alias("reason"),
        )
    )


def _same_period(rows: pl.DataFrame) -> pl.Series:
    """True for each event (with :data:`PUPIL` and :data:`PERIOD_ORDER`) whose pupil, date and
    period another row has.

    Pupil, day and period are packed into one integer when they fit, so that a clean export,
    where no key repeats, costs one sort (a hash of millions of rows takes a few times longer).
    """
    if rows.height < 2:
        return pl.repeat(False, rows.height, eager=True)
    pupils, periods = rows[PUPIL].max(), rows[PERIOD_ORDER].max()
    first, last = rows["date"].min(), rows["date"].max()
    assert isinstance(pupils, int) and isinstance(periods, int)  # positions and ranks
    assert isinstance(first, dt.date) and isinstance(last, dt.date)
    days = (last - first).days + 1
    if (pupils + 1) * days * (periods + 1) >= 1 << 63:
        return rows.select(pl.struct(PUPIL, "date", PERIOD_ORDER).is_duplicated()).to_series()
    day = pl.col("date").to_physical().cast(pl.Int64) - (first - EPOCH).days
    key = rows.select(
        (pl.col(PUPIL).cast(pl.Int64) * days + day) * (periods + 1) + pl.col(PERIOD_ORDER)
    ).to_series()
    repeated = repeated_values(key)
    if repeated.is_empty():  # the usual case: no need to look each row up
        return pl.repeat(False, rows.height, eager=True)
    return key.is_in(repeated.implode())


def _pupil_day(pupil: pl.Series, day: pl.Series) -> pl.Series:
    """``(pupil, day)`` as one integer that sorts like the pair (a date is a 32-bit day number)."""
    return pupil.cast(pl.Int64) * (1 << 32) + day.to_physical().cast(pl.Int64)


def _calendar_flags(events: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    """For each ``(school_id, date)`` of ``events``, in order: whether the calendar has the date
    (``_in_calendar``), whether it is a school day and how many half-days it registers, by
    :func:`features.school.schooldays.calendar_lookup` (a school's own row wins)."""
    looked_up = calendar_lookup(events.lazy().select("school_id", "date"), days.lazy()).collect()
    return looked_up.select(
        _in_calendar=pl.col("in_calendar"),
        _school_day=pl.col("school_day").fill_null(False),
        _periods=pl.col("periods").fill_null(0),
    )


def _event_calendar_flags(
    rows: pl.DataFrame, days: pl.DataFrame, schools: pl.Series
) -> pl.DataFrame:
    """:func:`_calendar_flags` for events, looked up once per school and day.

    ``schools`` are the enrolments' sorted distinct schools (whose rank is :data:`SCHOOL_ORDER`).
    The calendar is read for every school on every day from the first event to the last, and
    each event takes its cell of that grid; should the grid have more cells than there are
    events, the events are looked up themselves.
    """
    if rows.is_empty():
        return _calendar_flags(rows, days)
    first, last = rows["date"].min(), rows["date"].max()
    assert isinstance(first, dt.date) and isinstance(last, dt.date)
    day_count = (last - first).days + 1
    if schools.len() * day_count >= rows.height:
        return _calendar_flags(rows, days)
    cell = pl.int_range(schools.len() * day_count, eager=True)
    grid = pl.DataFrame(
        {
            "school_id": schools.gather(cell // day_count),
            "date": pl.date_range(first, last, eager=True).gather(cell % day_count),
        }
    )
    day = (rows["date"] - first).dt.total_days()
    return _calendar_flags(grid, days)[(rows[SCHOOL_ORDER].cast(pl.Int64) - 1) * day_count + day]


def _check_school_day(step: _Step, days: pl.DataFrame, schools: pl.Series) -> None:
    """Reject events on days without school, and afternoon periods on half days."""
    joined = step.rows.with_columns(_event_calendar_flags(step.rows, days, schools))
    step.rows = joined
    step.reject(
        failures_where(joined, ~pl.col("_in_calendar"), "date", "no calendar for this date")
    )
    # Only the rows still in play: a date missing from the calendar is rejected once, above.
    step.reject(failures_where(step.rows, ~pl.col("_school_day"), "date", "not a school day"))
    if "half" in joined.columns:
        step.reject(
            failures_where(
                step.rows,
                (pl.col("half") == "PM") & (pl.col("_periods") < 2),
                "period",
                "no afternoon registration that day",
            )
        )
    step.rows = step.rows.drop("_in_calendar", "_school_day", "_periods")


def builtin_calendar(event_dates: pl.Series) -> pl.DataFrame:
    """The built-in Flemish calendar over the school years of ``event_dates``, through the
    summer after the last (the calendar of an export that has none)."""
    known = calendar.KNOWN_SCHOOL_YEARS
    if event_dates.is_empty():
        return pl.DataFrame(schema=_calendar_schema())
    lo, hi = event_dates.min(), event_dates.max()
    assert isinstance(lo, dt.date) and isinstance(hi, dt.date)
    first = min(max(calendar.school_year_of(lo), known[0]), known[-1])
    last = max(min(calendar.school_year_of(hi), known[-1]), first)
    start = calendar.school_year_bounds(first)[0]
    # Through the summer after the last school year, so that summer dates get a row.
    end = min(
        calendar.school_year_bounds(last)[1] + dt.timedelta(days=75), dt.date(known[-1] + 1, 8, 31)
    )
    frame = calendar.flemish_calendar(start, end)
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias("school_id")).select(
        _calendar_schema().keys()
    )


def _calendar_schema() -> dict[str, pl.DataType]:
    return {
        "school_id": pl.String(),
        "date": pl.Date(),
        "school_day": pl.Boolean(),
        "periods": pl.Int8(),
        "holiday": pl.String(),
        "school_year": pl.Int16(),
    }


SUMMER_GAP_DAYS = 35
"""A school day after this many days without school, in a break centred between 15 June and
15 September, starts a school year (Christmas and Easter take two weeks, autumn and winter
breaks one or two; a closure in spring, such as March-May 2020, is not a summer)."""
_GENERAL = "\x00general"  # the rows for every school, as a join key


def _own_school_years(rows: pl.DataFrame) -> pl.Series:
    """Each row's school year, read off the export's own calendar, school by school.

    A school year starts on the first school day after a summer break (:data:`SUMMER_GAP_DAYS`
    days or more, centred in the summer) and is named by that day's calendar year; the days up to the next start
    belong to it (summer to the year that ended). Dates before the calendar's first such
    start belong to the year before it. A calendar with no summer in it falls back to the
    Flemish rule (:func:`features.school.calendar.school_year_of`).
    """
    keyed = rows.select(
        pl.col("school_id").fill_null(_GENERAL), "date", "school_day"
    ).with_row_index("_order")
    school_days = keyed.filter("school_day").sort("school_id", "date")
    previous = pl.col("date").shift(1).over("school_id")
    middle = previous + (pl.col("date") - previous) / 2
    month_day = middle.dt.month().cast(pl.Int32) * 100 + middle.dt.day().cast(pl.Int32)
    in_summer = month_day.is_between(615, 915)
    long_break = (pl.col("date") - previous).dt.total_days() >= SUMMER_GAP_DAYS
    starts = school_days.filter(long_break & in_summer).select(
        "school_id", pl.col("date").alias("_start"), pl.col("date").dt.year().alias("_year")
    )
    firsts = starts.group_by("school_id").agg((pl.col("_year").min() - 1).alias("_before"))
    years = (
        keyed.sort("date")
        .join_asof(
            starts.sort("_start"),
            left_on="date",
            right_on="_start",
            by="school_id",
            check_sortedness=False,  # sorted by date, so within every school too
        )
        .join(firsts, on="school_id", how="left")
        .sort("_order")
        .select(
            pl.coalesce(
                "_year",
                "_before",
                pl.col("date").map_elements(calendar.school_year_of, return_dtype=pl.Int32),
            ).cast(pl.Int16)
        )
    )
    return years.to_series().alias("school_year")


def _export_calendar(rows: pl.DataFrame) -> pl.DataFrame:
    # A calendar without periods: two half-days on a school day, as Flemish registration has.
    return rows.with_columns(
        periods=pl.coalesce("periods", pl.when("school_day").then(2).otherwise(0)).cast(pl.Int8),
        school_year=_own_school_years(rows),
    ).select(_calendar_schema().keys())


def _half(morning_lessons: int) -> pl.Expr:
    lesson = pl.col("period").cast(pl.Int32, strict=False)
    return (
        pl.when(pl.col("period").is_in(["AM", "PM"]))
        .then(pl.col("period"))
        .when(lesson <= morning_lessons)
        .then(pl.lit("AM"))
        .otherwise(pl.lit("PM"))
        .alias("half")
    )


def _with_half(step: _Step, morning_lessons: int) -> None:
    """Add each period's half-day and :data:`PERIOD_ORDER`, worked out once per distinct period."""
    distinct, positions = step.distinct_values("period")
    halves = distinct.to_frame().select(_rank(PERIOD_ORDER, "period"), _half(morning_lessons))
    step.rows = step.rows.with_columns(halves[c].gather(positions) for c in halves.columns)


def _rank(name: str, column: str) -> pl.Expr:
    """Each value's rank among the distinct values of ``column``, as ``name`` (an order column)."""
    return pl.col(column).rank("dense").cast(pl.UInt32).alias(name)


def _short(value: str, keep: int = 40) -> str:
    """``value`` cut to ``keep`` characters for a message (a code may be a whole pasted text)."""
    return value if len(value) <= keep else value[:keep] + "…"


def _map_codes(step: _Step, options: IngestOptions) -> pl.DataFrame:
    """Normalise the codes, map them to categories and add :data:`CODE_ORDER`, once per code.

    Rows with a code the profile does not know are quarantined; those codes are returned with
    their counts (none when ``options.allow_unknown_codes``), for
    :func:`_stop_on_unknown_codes` once every part of the table has been read.
    """
    distinct, positions = step.distinct_values("code")
    mapped = (
        distinct.to_frame()
        .select(codes.normalised_code())
        .with_columns(codes.category(options.profile), _rank(CODE_ORDER, "code"))
    )
    step.rows = step.rows.with_columns(mapped[c].gather(positions) for c in mapped.columns)
    if not step.rows["category"].has_nulls():
        return _NO_UNKNOWN_CODES
    unknown = codes.unknown_codes(step.rows["code"], options.profile)
    step.reject(
        failures_where(
            step.rows,
            pl.col("category").is_null(),
            "code",
            f"unknown code for profile {options.profile.name}",
        )
    )
    return _NO_UNKNOWN_CODES if options.allow_unknown_codes else unknown


_NO_UNKNOWN_CODES = pl.DataFrame(schema={"code": pl.String, "count": pl.UInt32})


def _stop_on_unknown_codes(
    unknown: list[pl.DataFrame], source: str, options: IngestOptions
) -> None:
    """Stop (:class:`UnknownCodesError`) on the codes that :func:`_map_codes` found unknown in
    the parts of the absences, listing each with its count over the whole table."""
    counts = (
        pl.concat(unknown)
        .group_by("code")
        .agg(pl.col("count").sum().cast(pl.UInt32))
        .sort(["count", "code"], descending=[True, False])
    )
    if counts.height:
        listed = ", ".join(f"{_short(c)!r} ({n:,} rows)" for c, n in counts.iter_rows())
        raise UnknownCodesError(
            f"{source}: {counts.height} unknown absence code(s) for profile "
            f"{options.profile.name!r}: {listed}; map them in a profile (--codes FILE.toml) "
            "or pass --allow-unknown-codes to quarantine those rows"
        )


def canonicalise(
    raw: Mapping[str, RawTable],
    options: IngestOptions,
    events: EventParts | None = None,
    say: Say = lambda _: None,
) -> Canonical:
    """Validate, map codes, check against enrolment and calendar, and pseudonymise.

    Parameters
    ----------
    raw
        The export's tables by contract name; ``enrolments`` and ``absences`` are required.
    options
        Code profile, pseudonymisation key and the other ingest knobs.
    events
        The event tables in parts by pupil, when they are not in ``raw`` (which then has none
        of them): read part by part, so that only one part's rows are held at a time. By
        default the event tables of ``raw``, in parts of ``options.partition_rows``.
    say
        Progress, a line per part when there are several (no data in it).

    Returns
    -------
    Canonical
        Canonical tables keyed by ``student_key``, quarantined rows per table, one
        reconciliation per table and the identity map (``student_id -> student_key``). The
        event tables a store of ``events`` keeps out of memory are in ``spilled``, not in
        ``tables``: scans of the store's files, to be written before the store is removed.

    Raises
    ------
    EmptyTableError
        When a required table has a header but no rows.
    UnknownCodesError
        When absence codes are not in the profile and unknown codes are not allowed.
    """
    if events is None:
        events = HeldEvents.of(raw, options.partition_rows)
    tables = {n: t for n, t in raw.items() if n not in contract.EVENT_TABLES}
    facts = {**{n: TableFacts.of(t) for n, t in tables.items()}, **events.tables}
    for name in ("enrolments",) if options.append else contract.REQUIRED_TABLES:
        _require_rows(name, facts[name].source, facts[name].rows)
    out = _Output()
    _school_columns(facts, options.ids, out)
    tables = {name: _as_mapped(table, options) for name, table in tables.items()}
    enrol = _checked_enrolments(tables["enrolments"], options.ids, out)
    enrolments = enrol.rows
    identities = _event_tables(tables, events, enrolments, options, out, say)
    ordered_identities = _with_key_order(identities)
    out.account("enrolments", enrol, enrolments, first=True)
    out.tables["enrolments"] = sorted_table(_keyed(enrolments, ordered_identities), "enrolments")
    for name in ("students", "care_cases"):
        _pupil_table(name, tables.get(name), ordered_identities, options.ids, out)
    return Canonical(
        out.tables,
        out.quarantine,
        out.reconciliation,
        identities,
        out.notices,
        out.shared_ids,
        out.spilled,
    )


@dataclass
class _Output:
    """What :func:`canonicalise` returns besides the identities, filled in table by table."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    quarantine: dict[str, pl.DataFrame] = field(default_factory=dict)
    reconciliation: list[Reconciliation] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    shared_ids: int = 0

    spilled: dict[str, pl.LazyFrame] = field(default_factory=dict)

    def keep(self, name: str, table: pl.DataFrame | pl.LazyFrame) -> None:
        """Add a table, in memory or (a scan) out of it."""
        if isinstance(table, pl.LazyFrame):
            self.spilled[name] = table
        else:
            self.tables[name] = table

    def account(
        self,
        name: str,
        step: _Step,
        canonical: pl.DataFrame,
        note: str = "",
        *,
        first: bool = False,
    ) -> None:
        """Quarantine the failed rows of ``step`` as table ``name``'s and add its
        reconciliation (at the front of the list when ``first``)."""
        self.quarantine[name], rec = _finish(step, canonical, note)
        if first:
            self.reconciliation.insert(0, rec)
        else:
            self.reconciliation.append(rec)


def _school_columns(facts: Mapping[str, TableFacts], ids: IdScope, out: _Output) -> None:
    """Check the pupil tables' ``school_id`` columns against ``ids`` (:func:`_as_mapped` then
    leaves them out when the board keys the pupils).

    Keyed on the board, an event's school is its enrolment's: a ``school_id`` column of the
    other tables is left out (with a notice), so that it can neither change nor quarantine a row.
    Keyed per school, every pupil table must have one (:class:`MissingSchoolIdError`).
    """
    for name in PUPIL_TABLES:
        table = facts.get(name)
        if table is None:
            continue
        if ids == "per-school" and not table.has_school and table.rows:
            raise MissingSchoolIdError(
                f"{name}: the file {table.source} has no school_id column (or it is empty), which "
                "pupils keyed per school (--ids per-school) need in every table; add it, or "
                "ingest with --ids board if pupil ids are unique across the board"
            )
        if ids == "board" and table.has_school:
            out.notices.append(
                f"{name}: column school_id left out (pupils are keyed on the board, and each "
                "event's school is its enrolment's; --ids per-school keys them per school)"
            )


def _as_mapped(table: RawTable, options: IngestOptions) -> RawTable:
    """``table`` with its values mapped by the code profile, and without its ``school_id``
    when it is a pupil table and the board keys the pupils (:func:`_school_columns`)."""
    frame = codes.mapped_values(table.frame, options.profile)
    if options.ids == "board" and table.name in PUPIL_TABLES:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("school_id"))
    return replace(table, frame=frame)


def _per_school(step: _Step, ids: IdScope) -> _Step:
    """With ``ids`` ``per-school``, key each row's pupil on ``(school_id, student_id)``
    (:func:`~features.canonical.pseudonym.per_school_id`); a row without a school is quarantined.

    The pupil's pseudonym is then the keyed hash of both, so that pupil 17 of one school and
    pupil 17 of another are two pupils; a pupil who moves school starts anew at the new one.
    """
    if ids == "board":
        return step
    step.reject(
        failures_where(
            step.rows,
            pl.col("school_id").is_null(),
            "school_id",
            "missing value (pupils are keyed per school)",
        )
    )
    step.rows = step.rows.with_columns(per_school_id().alias("student_id"))
    step.keyed_per_school = len(step.failures)
    positions = position_column("student_id")
    if positions in step.rows.columns:  # parsing's distinct ids are the school's, not these
        distinct = step.rows["student_id"].unique().sort()
        step.distinct["student_id"] = distinct
        step.rows = step.rows.with_columns(
            pl.col("student_id").cast(pl.Enum(distinct)).to_physical().alias(positions)
        )
    return step


def _checked_enrolments(raw: RawTable, ids: IdScope, out: _Output) -> _Step:
    """The enrolments, parsed, without those that contradict themselves or another one; a
    notice in ``out`` when pupil ids look unique per school only (:func:`shared_ids`)."""
    enrol = _per_school(_start(raw), ids)
    if shared := shared_ids(enrol.rows):
        out.notices.append(SHARED_IDS.format(n=shared))
        out.shared_ids = shared
    enrol.reject(
        failures_where(
            enrol.rows,
            pl.col("end_date") < pl.col("start_date"),
            "end_date",
            "ends before it starts",
        )
    )
    # Two enrolments of one pupil from the same day contradict each other: the first in the
    # file is kept (otherwise the later one would silently take every event of that pupil).
    enrol.reject(
        failures_where(
            enrol.rows,
            ~pl.struct("student_id", "start_date").is_first_distinct(),
            "start_date",
            "another enrolment of this pupil starts the same day",
        )
    )
    enrol.reject(
        failures_where(
            enrol.rows, _overlaps_another_school(enrol.rows), "start_date", OTHER_SCHOOL_OVERLAP
        )
    )
    return enrol


def pupil_partitions(frame: pl.DataFrame, count: int) -> pl.Series:
    """Each row's part (``0 .. count - 1``), by a hash of its pupil id as parsing reads it.

    Every row of a pupil falls in one part (blanks around an id do not matter, as they do not
    when parsing compares rows), so that what is judged per pupil (duplicates, two codes for
    one period, the enrolment covering an event) is judged within a part as over the whole.
    """
    pupil = pl.col("student_id").str.strip_chars().replace("", None)
    return frame.select((pupil.hash(seed=0) % count).cast(pl.UInt32)).to_series()


def _event_parts(raw: Mapping[str, RawTable], count: int) -> Iterator[dict[str, RawTable]]:
    """The event tables of ``raw`` in ``count`` parts by pupil (:func:`pupil_partitions`), one
    part at a time, each row in the order of its file; the rows the reader set aside (which
    have no pupil) go with the first part."""
    tables = {name: raw[name] for name in contract.EVENT_TABLES if name in raw}
    if count == 1:
        yield tables
        return
    parts = {name: pupil_partitions(table.frame, count) for name, table in tables.items()}
    for i in range(count):
        yield {
            name: replace(
                table,
                frame=table.frame.filter(parts[name] == i),
                rejected=table.rejected if i == 0 else empty_failures(),
            )
            for name, table in tables.items()
        }


@dataclass(frozen=True)
class TableFacts:
    """What :func:`canonicalise` needs to know of a table before it reads its rows (of an
    event table, before it reads any part)."""

    name: str
    source: str
    rows: int
    """Rows read, the reader's rejected ones included."""
    has_school: bool
    """Whether a row names a school (a ``school_id`` that is not blank)."""

    @classmethod
    def of(cls, table: RawTable) -> TableFacts:
        frame = table.frame
        has_school = "school_id" in frame.columns and bool(frame["school_id"].is_not_null().any())
        rows = table.frame.height + table.rejected.height
        return cls(table.name, table.source, rows, has_school)


class EventParts(Protocol):
    """The event tables, read part by part: every row of a pupil (by :func:`pupil_partitions`
    over ``count`` parts) in one part, each part's rows in the order of their file, and the
    rows the reader set aside with the first part; and where their canonical rows wait.

    Each part's work is done by :func:`part_dates` and :func:`check_part`: in turn in this
    process (:func:`dates_in_turn`, :func:`checked_in_turn`), or by whatever the parts are
    handed to (:mod:`pipelines.sources.spill` can hand them to the workers of a cluster).
    """

    @property
    def tables(self) -> Mapping[str, TableFacts]: ...

    @property
    def count(self) -> int: ...

    @property
    def store(self) -> RowStore: ...

    def parts(self) -> Iterator[dict[str, RawTable]]: ...

    def dates(self, options: IngestOptions) -> Iterator[pl.Series]:
        """Each part's :func:`part_dates`."""
        ...

    def checked(
        self, lookups: EventLookups, options: IngestOptions, say: Say
    ) -> Iterator[PartCheck]:
        """Each part's :func:`check_part`, in the order of the parts, its canonical rows kept
        in :attr:`store` by the time it is given."""
        ...


class RowStore(Protocol):
    """Where the events' canonical rows wait until their table is sorted: in ``buckets`` of
    pupils by key order (:data:`KEY_ORDER`, :attr:`EventLookups.buckets`), so that each
    bucket, sorted, follows the one before in the sorted table, and only one bucket is sorted
    at a time."""

    @property
    def buckets(self) -> int: ...

    def put(self, table: str, rows: Sequence[pl.DataFrame]) -> None:
        """Keep rows of ``table``: ``rows[i]`` in bucket ``i``, for every bucket."""

    def take(self, table: str, bucket: int) -> pl.DataFrame | None:
        """The rows kept in ``bucket`` of ``table``, or None when none were put."""

    def table(self, table: str, chunks: Iterator[pl.DataFrame]) -> pl.DataFrame | pl.LazyFrame:
        """``table`` made of its sorted ``chunks``, one after the other: a frame in memory,
        or a scan of them kept out of it."""


@dataclass
class HeldRows:
    """A :class:`RowStore` in memory, of one bucket: the table is its rows, sorted whole."""

    buckets: int = 1
    rows: dict[str, list[pl.DataFrame]] = field(default_factory=dict)

    def put(self, table: str, rows: Sequence[pl.DataFrame]) -> None:
        self.rows.setdefault(table, []).extend(rows)

    def take(self, table: str, bucket: int) -> pl.DataFrame | None:
        kept = self.rows.pop(table, [])
        return pl.concat(kept, rechunk=False) if kept else None

    def table(self, table: str, chunks: Iterator[pl.DataFrame]) -> pl.DataFrame:
        return pl.concat(list(chunks))


@dataclass(frozen=True)
class HeldEvents:
    """The event tables held in memory, as :class:`EventParts` (:func:`_event_parts`)."""

    raw: Mapping[str, RawTable]
    count: int
    tables: Mapping[str, TableFacts]
    store: HeldRows = field(default_factory=HeldRows)

    @classmethod
    def of(cls, raw: Mapping[str, RawTable], partition_rows: int) -> HeldEvents:
        """The event tables of ``raw``, in as many parts as ``partition_rows`` takes."""
        held = {name: raw[name] for name in contract.EVENT_TABLES if name in raw}
        events = sum(table.frame.height for table in held.values())
        count = max(1, -(-events // partition_rows))
        return cls(held, count, {name: TableFacts.of(t) for name, t in held.items()})

    def parts(self) -> Iterator[dict[str, RawTable]]:
        return _event_parts(self.raw, self.count)

    def dates(self, options: IngestOptions) -> Iterator[pl.Series]:
        return dates_in_turn(self, options)

    def checked(
        self, lookups: EventLookups, options: IngestOptions, say: Say
    ) -> Iterator[PartCheck]:
        return checked_in_turn(self, lookups, options, say)


def dates_in_turn(events: EventParts, options: IngestOptions) -> Iterator[pl.Series]:
    """:meth:`EventParts.dates` in this process, a part at a time."""
    for part in events.parts():
        yield part_dates(part, options)


def checked_in_turn(
    events: EventParts, lookups: EventLookups, options: IngestOptions, say: Say
) -> Iterator[PartCheck]:
    """:meth:`EventParts.checked` in this process, a part at a time (said part by part)."""
    for number, part in enumerate(events.parts(), start=1):
        say(f"checking the events: part {number} of {events.count}")
        yield check_part(part, lookups, options, events.store)
        del part


def _start_part(part: Mapping[str, RawTable], options: IngestOptions) -> dict[str, _Step]:
    """The event tables of one part, mapped (:func:`_as_mapped`), parsed and keyed per school
    when ``options.ids`` says."""
    return {
        name: _per_school(_start(_as_mapped(table, options)), options.ids)
        for name, table in part.items()
    }


def part_dates(part: Mapping[str, RawTable], options: IngestOptions) -> pl.Series:
    """The first and last date of one part's events that parse (nulls for a table without
    any): what the built-in calendar (:func:`builtin_calendar`) spans."""
    bounds = []
    for step in _start_part(part, options).values():
        bounds.append(step.rows.select(pl.col("date").min()).to_series())
        bounds.append(step.rows.select(pl.col("date").max()).to_series())
    return pl.concat(bounds) if bounds else pl.Series("date", [], dtype=pl.Date)


def _keyed(frame: pl.DataFrame, ordered_identities: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``student_key`` (and :data:`KEY_ORDER`) in place of ``student_id``."""
    return pseudonymise(frame.lazy(), ordered_identities).collect()


def _calendar_table(
    raw: Mapping[str, RawTable], event_dates: Callable[[], pl.Series], out: _Output
) -> pl.DataFrame:
    """The school days: the export's calendar, or else the built-in Flemish one over the
    ``event_dates`` (asked only then); added to ``out`` and returned for the checks of the
    events."""
    if "calendar" in raw:
        cal_step = _start(raw["calendar"])
        cal_step.reject(
            failures_where(
                cal_step.rows,
                ~pl.struct("school_id", "date").is_first_distinct(),
                "date",
                "date listed twice for the same school in the calendar",
            )
        )
        days = _export_calendar(cal_step.rows)
        out.account("calendar", cal_step, days)
    else:
        days = builtin_calendar(event_dates())
        out.notices.append("no calendar table: using the built-in Flemish school calendar")
    out.tables["calendar"] = sorted_table(days, "calendar")
    return days


@dataclass(frozen=True)
class EventLookups:
    """What every part's events are checked against: the enrolments' spans and schools, the
    enrolled pupils' ids, the school days, and each pupil's bucket in the :class:`RowStore`.

    Neither a key nor a pseudonym: only the ids the export itself holds, and for each pupil
    which of the store's ranges of the key order its key falls in.
    """

    spans: pl.DataFrame
    pupils: pl.Series
    """The enrolled pupils' ids, sorted: the identity map's ids, each event's :data:`PUPIL`."""
    schools: pl.Series
    days: pl.DataFrame
    buckets: pl.Series
    """The bucket of each pupil of ``pupils``: equal ranges of the key order, in order."""

    @classmethod
    def of(
        cls,
        enrolments: pl.DataFrame,
        ordered_identities: pl.DataFrame,
        days: pl.DataFrame,
        buckets: int,
    ) -> EventLookups:
        pupils = ordered_identities["student_id"]
        spans = _enrolment_spans(enrolments, pupils)
        # KEY_ORDER runs from 1 to the number of keys: equal ranges of it, in order
        keys = max(1, ordered_identities.select(pl.col(KEY_ORDER).max()).item() or 0)
        bucket = (ordered_identities[KEY_ORDER] - 1).cast(pl.UInt64) * buckets // keys
        schools = enrolments["school_id"].unique().sort()
        return cls(spans, pupils, schools, days, bucket.cast(pl.UInt32))


def _check_events(
    steps: dict[str, _Step], lookups: EventLookups, options: IngestOptions
) -> pl.DataFrame:
    """Map the absence codes and periods, then check every event against the enrolments
    and the calendar, and keep one code per period; the unknown codes (:func:`_map_codes`)."""
    absences = steps["absences"]
    unknown = _map_codes(absences, options)
    _with_half(absences, options.morning_lessons)
    for step in steps.values():
        _check_enrolled(step, lookups.spans, lookups.pupils)
        _check_school_day(step, lookups.days, lookups.schools)
    # Last, so that a row failing another check is quarantined for that and not judged here.
    _one_code_per_period(absences)
    return unknown


@dataclass(frozen=True)
class PartCheck:
    """What checking one part of the events found besides its canonical rows (which are in
    the :class:`RowStore`): each table's quarantined rows and counts, the unknown absence
    codes, and how many absence codes were late arrivals. Nothing keyed, nothing secret."""

    found: dict[str, tuple[pl.DataFrame, Reconciliation]]
    unknown: pl.DataFrame
    late_codes: int


def check_part(
    part: Mapping[str, RawTable], lookups: EventLookups, options: IngestOptions, store: RowStore
) -> PartCheck:
    """Check one part of the events (:func:`_check_events`) and keep its canonical rows in
    ``store``, each in its pupil's bucket (:attr:`EventLookups.buckets`): the absences, the
    absences' late-arrival codes as late arrivals, then the export's late arrivals and the
    sick-bay visits. ``options`` need no key (:meth:`IngestOptions.without_key`)."""
    return _check_steps(_start_part(part, options), lookups, options, store)


def _check_steps(
    steps: dict[str, _Step], lookups: EventLookups, options: IngestOptions, store: RowStore
) -> PartCheck:
    """:func:`check_part` of a part already parsed (:func:`_start_part`)."""
    unknown = _check_events(steps, lookups, options)
    found = {}
    absences = steps.pop("absences")
    is_late = pl.col("category") == "late"
    codes_late = absences.rows.filter(is_late)
    late_codes = codes_late.height
    found["absences"] = _kept(absences, absences.rows.filter(~is_late), lookups, store)
    del absences
    _keep("late_arrivals", _late_rows(codes_late), lookups, store)
    del codes_late
    for name, step in steps.items():
        rows = step.rows.with_columns(source=pl.lit(name)) if name == "late_arrivals" else step.rows
        found[name] = _kept(step, rows, lookups, store)
    return PartCheck(found, unknown, late_codes)


def _kept(
    step: _Step, canonical: pl.DataFrame, lookups: EventLookups, store: RowStore
) -> tuple[pl.DataFrame, Reconciliation]:
    """Keep the ``canonical`` rows of ``step`` (:func:`_keep`); its quarantined rows and counts."""
    _keep(step.raw.name, canonical, lookups, store)
    return _finish(step, canonical)


def _keep(name: str, canonical: pl.DataFrame, lookups: EventLookups, store: RowStore) -> None:
    """Keep ``canonical`` rows of table ``name`` in ``store``, with only the columns the table
    and its sort need, each pupil by its :data:`PUPIL` only: its key is added once its bucket
    is sorted (:meth:`_Gathered.table`), so that only the sorted table holds it.

    The ranks of the periods and codes are each part's own, so they leave: the whole table is
    sorted by the periods and codes themselves, which order the same.
    """
    columns = [c for c in CANONICAL_COLUMNS[name] if c != "student_key"]
    rows = canonical.select(*columns, SCHOOL_ORDER, PUPIL)
    if store.buckets == 1:
        store.put(name, [rows])
        return
    store.put(name, grouped(rows, lookups.buckets.gather(rows[PUPIL]), store.buckets))


@dataclass
class _Gathered:
    """One event table's quarantine and counts, gathered part by part (:class:`PartCheck`),
    and its canonical rows in ``store``; ``keys`` are the pupils' keys in :data:`KEY_ORDER`,
    ``key_order`` each pupil's (by :data:`PUPIL`)."""

    name: str
    store: RowStore
    keys: pl.Series
    key_order: pl.Series
    source: str = ""
    quarantine: list[pl.DataFrame] = field(default_factory=list)
    read: int = 0
    accepted: int = 0
    duplicates: int = 0

    def add(self, quarantined: pl.DataFrame, rec: Reconciliation) -> None:
        """One part's quarantined rows and counts."""
        self.source = rec.source
        self.quarantine.append(quarantined)
        self.read += rec.read
        self.accepted += rec.accepted
        self.duplicates += rec.duplicates

    def account(self, out: _Output, note: str = "") -> None:
        """Add the table's quarantine (in the order of its file) and reconciliation to ``out``."""
        quarantined = pl.concat(self.quarantine).sort("row", maintain_order=True)
        out.quarantine[self.name] = quarantined
        out.reconciliation.append(
            Reconciliation(
                table=self.name,
                source=self.source,
                read=self.read,
                accepted=self.accepted,
                quarantined=quarantined.height,
                duplicates=self.duplicates,
                note=note,
            )
        )

    def table(self) -> pl.DataFrame | pl.LazyFrame:
        """The canonical table, sorted (:func:`sorted_table`) bucket by bucket, as the store
        makes it of them; the rows kept are let go."""

        def chunks() -> Iterator[pl.DataFrame]:
            sorted_any = False
            for bucket in range(self.store.buckets):
                rows = self.store.take(self.name, bucket)
                if rows is not None:
                    sorted_any = True
                    order = self.key_order.gather(rows[PUPIL]).alias(KEY_ORDER)
                    yield sorted_table(rows.with_columns(order), self.name, self.keys)
            if not sorted_any:
                yield _empty(self.name)

        return self.store.table(self.name, chunks())


def grouped(frame: pl.DataFrame, group: pl.Series, count: int) -> list[pl.DataFrame]:
    """``frame``'s rows in ``count`` groups by ``group`` (``0 .. count - 1``, one per row),
    each in the order of ``frame``; an empty frame for a group without rows."""
    split = frame.with_columns(group.alias(_GROUP)).partition_by(
        _GROUP, as_dict=True, include_key=False, maintain_order=True
    )
    none = frame.clear()
    return [split.get((number,), none) for number in range(count)]


_GROUP = "_group"


def _late_rows(late_codes: pl.DataFrame) -> pl.DataFrame:
    """The absences' late-arrival codes as rows of the late arrivals (``source`` absences)."""
    return late_codes.select(
        "student_id",
        "school_id",
        "date",
        pl.lit(None, dtype=pl.String).alias("time"),
        pl.col("minutes").alias("minutes_late"),
        pl.lit("absences").alias("source"),
        SCHOOL_ORDER,
        PUPIL,
    )


def _event_tables(
    raw: Mapping[str, RawTable],
    events: EventParts,
    enrolments: pl.DataFrame,
    options: IngestOptions,
    out: _Output,
    say: Say,
) -> pl.DataFrame:
    """Check the ``events`` and add them to ``out`` with the calendar (from ``raw`` when the
    export has one); the identity map.

    The events are checked part by part (:class:`EventParts`): only one part's parsed rows
    and the intermediate columns of its checks are held at a time, and the canonical rows kept
    so far wait in the events' :class:`RowStore` (in memory, or on disk by range of pupils,
    each range sorted in turn), so that memory can follow the size of a part, not of the
    export. Every check is per pupil or per row, and each pupil's rows are in one part, so the
    tables, quarantine and counts are those of the whole. Without an export calendar, the
    built-in one spans the dates of the events that parse: with more than one part they are
    parsed once more, for those dates only.

    The pseudonyms (HMAC, in Python) are worked out while polars parses the first part.
    """
    count = events.count
    with ThreadPoolExecutor(max_workers=1) as pool:
        pseudonyms = pool.submit(pseudonym_map, options.key, enrolments["student_id"])
        first: dict[str, _Step] | None = None
        if count == 1:
            first = _start_part(next(events.parts()), options)
            dates = [s.rows["date"] for s in first.values()]
            days = _calendar_table(
                raw, lambda: pl.concat(dates) if dates else pl.Series([], dtype=pl.Date), out
            )
            del dates
        else:

            def spanned() -> pl.Series:
                say(f"finding the events' first and last dates, for the calendar ({count} parts)")
                bounds = list(events.dates(options.without_key()))
                return pl.concat(bounds).drop_nulls() if bounds else pl.Series([], dtype=pl.Date)

            days = _calendar_table(raw, spanned, out)
        identities = pseudonyms.result()
    ordered_identities = _with_key_order(identities)
    lookups = EventLookups.of(enrolments, ordered_identities, days, events.store.buckets)
    keys = ordered_identities["student_key"].unique().sort()  # the KEY_ORDER's, ranked dense
    key_order = ordered_identities[KEY_ORDER]
    gathered = {
        name: _Gathered(name, events.store, keys, key_order)
        for name in ("absences", "late_arrivals", "sick_bay_visits")
    }
    if first is not None:
        checks: Iterator[PartCheck] = iter(
            [_check_steps(first, lookups, options.without_key(), events.store)]
        )
        del first
    else:
        checks = events.checked(lookups, options.without_key(), say)
    unknown: list[pl.DataFrame] = []
    late_codes = 0
    for check in checks:
        unknown.append(check.unknown)
        late_codes += check.late_codes
        for name, (quarantined, rec) in check.found.items():
            gathered[name].add(quarantined, rec)
    _stop_on_unknown_codes(unknown, events.tables["absences"].source, options)
    if count > 1:
        say(f"sorting the event tables, {events.store.buckets} ranges of pupils each")

    note = f"{late_codes:,} late-arrival codes read as late arrivals" if late_codes else ""
    gathered["absences"].account(out, note)
    out.keep("absences", gathered["absences"].table())
    if "late_arrivals" in events.tables:
        gathered["late_arrivals"].account(out)
    out.keep("late_arrivals", gathered["late_arrivals"].table())
    if "sick_bay_visits" in events.tables:
        gathered["sick_bay_visits"].account(out)
        out.keep("sick_bay_visits", gathered["sick_bay_visits"].table())
    else:
        out.tables["sick_bay_visits"] = _empty("sick_bay_visits")
    return identities


def _pupil_table(
    name: str,
    raw: RawTable | None,
    ordered_identities: pl.DataFrame,
    ids: IdScope,
    out: _Output,
) -> None:
    """Add ``students`` or ``care_cases`` to ``out``: rows of enrolled pupils only, one row per
    pupil in ``students`` (a pupil listed twice is quarantined, both rows: which is right is
    unknown), and care cases with a label date (the onset, else the opening) and no onset
    after the opening.

    An empty table when the export has none.
    """
    if raw is None:
        out.tables[name] = _empty(name)
        return
    step = _per_school(_start(raw), ids)
    if name == "students":
        step.reject(
            failures_where(
                step.rows, pl.col("student_id").is_duplicated(), "student_id", "duplicate value"
            )
        )
    known = step.rows["student_id"].is_in(ordered_identities["student_id"].implode())
    step.reject(
        failures_where(step.rows, ~known, "student_id", "unknown pupil (not in enrolments)")
    )
    if name == "care_cases":
        step.reject(
            failures_where(
                step.rows,
                pl.col("onset_on") > pl.col("opened_on"),
                "onset_on",
                "onset after the case was opened",
            )
        )
        step.rows = step.rows.with_columns(label_date=pl.coalesce("onset_on", "opened_on"))
    out.account(name, step, step.rows)
    out.tables[name] = sorted_table(_keyed(step.rows, ordered_identities), name)


_DTYPES: dict[str, pl.DataType] = {
    "student_key": pl.String(),
    "school_id": pl.String(),
    "date": pl.Date(),
    "time": pl.String(),
    "minutes": pl.Int32(),
    "minutes_late": pl.Int32(),
    "outcome": pl.String(),
    "source": pl.String(),
    "gender": pl.String(),
    "ses_low": pl.Boolean(),
    "sen": pl.Boolean(),
    "case_type": pl.String(),
    "opened_on": pl.Date(),
    "onset_on": pl.Date(),
    "label_date": pl.Date(),
}


def _empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema={c: _DTYPES[c] for c in CANONICAL_COLUMNS[table]})
