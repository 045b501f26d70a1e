"""The simulator's public API: settings in, contract tables (and hidden truth) out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from features.school.calendar import KNOWN_SCHOOL_YEARS
from schoolsim import board, cases, events, trajectories
from schoolsim.assumptions import DEFAULT, Assumptions
from schoolsim.days import YearDays, year_days
from schoolsim.flu import flu_matrix
from schoolsim.tables import NO_DATE, TABLE_NAMES, YearRecord, build_tables

Array = npt.NDArray[Any]

CHUNK_PUPILS = 40_000
"""Pupils simulated together; bounds the memory of the day-by-day matrices."""

# Independent random streams: (stream, year, chunk) under the settings' seed.
_BOARD, _COHORT, _PATHS, _MOVES, _FLU, _CASES, _CHUNK = range(7)


@dataclass(frozen=True)
class SimulationSettings:
    """What to simulate.

    Attributes
    ----------
    students : int
        Pupils enrolled in the first simulated school year (the board's size).
    schools : int
        Schools of the board.
    years : int
        School years simulated, ending with the one that starts in ``last_year``.
    last_year : int
        First calendar year of the last simulated school year (2024 = 2024-25).
    seed : int
        Seed of every random draw; the same settings give the same tables.
    """

    students: int = 5000
    schools: int = 4
    years: int = 3
    last_year: int = 2024
    seed: int = 1

    def __post_init__(self) -> None:
        if self.students < 1 or self.schools < 1 or self.years < 1:
            raise ValueError("students, schools and years must be at least 1")
        if self.seed < 0:
            raise ValueError("seed must be a non-negative integer")
        first = self.last_year - self.years + 1
        # The last simulated year's successor must be known too: its first day ends the year.
        if first < KNOWN_SCHOOL_YEARS[0] or self.last_year > KNOWN_SCHOOL_YEARS[-1]:
            raise ValueError(
                f"school years {first}-{self.last_year} are outside the built-in calendar"
                f" ({KNOWN_SCHOOL_YEARS[0]}-{KNOWN_SCHOOL_YEARS[-1]})"
            )

    @property
    def school_years(self) -> range:
        """First calendar year of every simulated school year."""
        return range(self.last_year - self.years + 1, self.last_year + 1)


@dataclass(frozen=True)
class Simulation:
    """A simulated board.

    Attributes
    ----------
    settings : SimulationSettings
    tables : dict of str to polars.DataFrame
        The contract tables: enrolments, absences, late_arrivals, sick_bay_visits,
        students, care_cases.
    truth : polars.DataFrame
        Hidden ground truth per pupil-year, never exported: student_id, school_year,
        trajectory, onset, sudden, prodrome_start, recovered_on, carried_over,
        after_illness, bad_stretch, school_id, grade.
    """

    settings: SimulationSettings
    tables: dict[str, pl.DataFrame]
    truth: pl.DataFrame


def simulate(settings: SimulationSettings, assumptions: Assumptions = DEFAULT) -> Simulation:
    """Simulate a school board's attendance exports.

    Parameters
    ----------
    settings : SimulationSettings
    assumptions : Assumptions, optional
        The model's parameters (docs/simulator.md explains each).

    Returns
    -------
    Simulation
        Contract tables sorted by their keys, and the truth.

    Examples
    --------
    >>> sim = simulate(SimulationSettings(students=300, years=1))
    >>> sorted(sim.tables)
    ['absences', 'care_cases', 'enrolments', 'late_arrivals', 'sick_bay_visits', 'students']
    """
    a = assumptions
    rng = _streams(settings.seed)
    registry = board.Registry()
    weights = board.school_weights(rng(_BOARD, 0), settings.schools, a)
    school_start = rng(_BOARD, 1).choice(a.school_start_minutes, size=settings.schools)
    late_code_school = settings.schools - 1 if a.late_as_code_in_last_school else -1
    if settings.schools < 2:
        late_code_school = -1

    records: list[YearRecord] = []
    cohort: board.Cohort | None = None
    prev_days = 0
    for year in settings.school_years:
        days = year_days(year, a)
        if cohort is None:
            cohort = board.first_cohort(
                rng(_COHORT, year), registry, settings.students, weights, days.n_days, a
            )
        else:
            cohort = board.next_cohort(
                rng(_COHORT, year),
                registry,
                cohort,
                settings.students,
                weights,
                days.n_days,
                prev_days,
                a,
            )
        paths = trajectories.assign(rng(_PATHS, year), days, cohort, registry, a)
        cohort = board.add_moves(
            rng(_MOVES, year),
            cohort,
            settings.schools,
            days.n_days,
            paths.kind == trajectories.ORDINARY,
            paths.forced_move_day,
            a,
        )
        ctx = _context(
            rng(_FLU, year),
            days,
            cohort,
            paths,
            registry,
            settings.schools,
            school_start,
            late_code_school,
            a,
        )
        chunks = [
            events.simulate_chunk(
                rng(_CHUNK, year, k), ctx, lo, min(lo + CHUNK_PUPILS, cohort.size)
            )
            for k, lo in enumerate(range(0, cohort.size, CHUNK_PUPILS))
        ]
        ev = events.ChunkEvents.concat(chunks)
        opened = cases.open_cases(rng(_CASES, year), days, cohort, paths, ev, registry, a)
        last = year == settings.last_year
        records.append(_record(days, cohort, paths, ev, opened, last))
        _carry_over(registry, cohort, paths, days)
        prev_days = days.n_days

    tables, truth = build_tables(records, registry)
    return Simulation(settings=settings, tables=tables, truth=truth)


def write_export(sim: Simulation, out_dir: Path) -> dict[str, Path]:
    """Write each contract table as ``<name>.csv`` (``;``-separated, UTF-8, ISO dates).

    The truth is never written. Blank cells are empty; booleans are ``true``/``false``.

    Parameters
    ----------
    sim : Simulation
    out_dir : pathlib.Path
        Created when missing.

    Returns
    -------
    dict of str to pathlib.Path
        The file written for each table.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in TABLE_NAMES:
        path = out_dir / f"{name}.csv"
        sim.tables[name].write_csv(path, separator=";", date_format="%Y-%m-%d", null_value="")
        paths[name] = path
    return paths


def _streams(seed: int) -> Any:
    """A factory of independent generators keyed by (stream, year, chunk)."""

    def make(*key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))

    return make


def _context(
    rng: np.random.Generator,
    days: YearDays,
    cohort: board.Cohort,
    paths: trajectories.Paths,
    registry: board.Registry,
    n_schools: int,
    school_start: Array,
    late_code_school: int,
    a: Assumptions,
) -> events.YearContext:
    """Per-year inputs of the chunks: pupil propensities, classes and their flu waves."""
    k = int(max(cohort.class_no.max(), cohort.class_no2.max())) + 1
    key1 = (cohort.school.astype(np.int64) * 8 + cohort.grade) * k + cohort.class_no
    key2 = (cohort.school2.astype(np.int64) * 8 + cohort.grade) * k + cohort.class_no2
    keys, inverse = np.unique(np.concatenate([key1, key2]), return_inverse=True)
    class_school = keys // (8 * k)
    pid = cohort.pid
    return events.YearContext(
        days=days,
        cohort=cohort,
        paths=paths,
        frailty=registry["frailty"][pid],
        late_rate=registry["late_rate"][pid],
        sickbay_rate=registry["sickbay_rate"][pid],
        flu=flu_matrix(rng, days, class_school, n_schools, a),
        class_idx=inverse[: cohort.size],
        class_idx2=inverse[cohort.size :],
        school_start=np.asarray(school_start, dtype=np.int64),
        late_code_school=late_code_school,
        assumptions=a,
    )


def _record(
    days: YearDays,
    cohort: board.Cohort,
    paths: trajectories.Paths,
    ev: events.ChunkEvents,
    opened: cases.Cases,
    last_year: bool,
) -> YearRecord:
    """One year's rows of every table, as arrays."""
    epoch = days.epoch
    year_end = NO_DATE if last_year else int(epoch[-1])
    moved = cohort.move_day >= 0
    left = cohort.end_day < days.n_days - 1
    end1 = np.where(
        moved,
        epoch[np.maximum(cohort.move_day, 0)],
        np.where(left, epoch[cohort.end_day], year_end),
    )
    m = np.flatnonzero(moved)
    enrolments = {
        "pid": np.r_[cohort.pid, cohort.pid[m]],
        "school": np.r_[cohort.school, cohort.school2[m]].astype(np.int16),
        "grade": np.r_[cohort.grade, cohort.grade[m]].astype(np.int8),
        "class_no": np.r_[cohort.class_no, cohort.class_no2[m]].astype(np.int32),
        "start": np.r_[np.full(cohort.size, epoch[0]), epoch[cohort.move_day[m] + 1]],
        "end": np.r_[end1, np.full(m.size, year_end)].astype(np.int64),
    }
    slot_day = days.slot_day[ev.abs_slot]
    absences = {
        "pid": cohort.pid[ev.abs_row],
        "epoch": epoch[slot_day],
        "pm": days.slot_pm[ev.abs_slot],
        "code": ev.abs_code,
        "minutes": ev.abs_minutes,
    }
    late = {
        "pid": cohort.pid[ev.late_row],
        "epoch": epoch[ev.late_day],
        "time": ev.late_time,
        "minutes": ev.late_minutes,
    }
    sickbay = {
        "pid": cohort.pid[ev.sb_row],
        "epoch": epoch[ev.sb_day],
        "time": ev.sb_time,
        "minutes": ev.sb_minutes,
        "outcome": ev.sb_outcome,
    }
    care = {
        "pid": cohort.pid[opened.row],
        "opened": epoch[opened.opened_day],
        "type": opened.case_type,
        "onset": opened.onset_epoch,
        "onset_known": opened.onset_known,
    }
    return YearRecord(
        enrolments=enrolments,
        absences=absences,
        late_arrivals=late,
        sick_bay_visits=sickbay,
        care_cases=care,
        truth=_truth_record(days, cohort, paths),
    )


def _truth_record(
    days: YearDays, cohort: board.Cohort, paths: trajectories.Paths
) -> dict[str, Array]:
    epoch = days.epoch
    n_days = days.n_days
    has_onset = paths.kind != trajectories.ORDINARY
    recovered = (paths.kind == trajectories.REFUSAL) & (paths.recover_day < n_days)
    return {
        "pid": cohort.pid,
        "school_year": np.full(cohort.size, days.year, np.int16),
        "kind": paths.kind,
        "onset": np.where(has_onset, paths.onset_epoch, NO_DATE),
        "sudden": paths.sudden,
        "prodrome": np.where(
            paths.prodrome_start >= 0, epoch[np.clip(paths.prodrome_start, 0, n_days - 1)], NO_DATE
        ),
        "recovered": np.where(recovered, epoch[np.clip(paths.recover_day, 0, n_days - 1)], NO_DATE),
        "carried": paths.carried,
        "after_illness": paths.after_illness,
        "low_cooperation": paths.low_cooperation,
        "bad_stretch": paths.bad_start >= 0,
        "school": cohort.school,
        "grade": cohort.grade,
    }


def _carry_over(
    registry: board.Registry, cohort: board.Cohort, paths: trajectories.Paths, days: YearDays
) -> None:
    """State for next year: unresolved refusals, truancy, past refusals."""
    refusal = paths.kind == trajectories.REFUSAL
    pid = cohort.pid
    registry["in_refusal"][pid] = refusal & (paths.recover_day >= days.n_days)
    registry["refusal_onset"][pid] = np.where(refusal, paths.onset_epoch, 0)
    registry["refusal_sudden"][pid] = refusal & paths.sudden
    registry["had_refusal"][pid] |= refusal
    registry["truant_last_year"][pid] = paths.kind == trajectories.TRUANCY
