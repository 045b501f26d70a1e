"""Who follows which trajectory in a school year, from when, and their absence spells.

One trajectory per pupil-year: ordinary, school refusal, truancy, chronic illness,
withdrawal (the family keeps the pupil home) or exclusion. Everything drawn here is at the
level of pupils and spells (a few per cent of the board), so it is cheap; the day-by-day
events are drawn per chunk of pupils in `schoolsim.events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from schoolsim import codes
from schoolsim.arrays import geometric, uniform_int
from schoolsim.assumptions import Assumptions
from schoolsim.board import Cohort, Registry
from schoolsim.days import YearDays

Array = npt.NDArray[Any]

ORDINARY, REFUSAL, TRUANCY, CHRONIC, WITHDRAWAL, EXCLUSION = range(6)
TRAJECTORIES = ("ordinary", "refusal", "truancy", "chronic_illness", "withdrawal", "exclusion")

# A carried-over refusal started long before this school year: its escalation clock starts
# this many school days "before" the first day, so it is already at full strength.
_CARRIED_ONSET = -100
_MAX_SPELLS = 200  # upper bound of the loop over spell numbers (never reached in practice)


@dataclass
class Spells:
    """Absence spells: (cohort row, first school day, length in school days, reason)."""

    row: Array
    start: Array
    length: Array
    reason: Array

    @staticmethod
    def concat(parts: list[Spells]) -> Spells:
        """All spells, sorted by row then start."""
        row = np.concatenate([p.row for p in parts])
        start = np.concatenate([p.start for p in parts])
        order = np.lexsort((start, row))
        return Spells(
            row=row[order],
            start=start[order],
            length=np.concatenate([p.length for p in parts])[order],
            reason=np.concatenate([p.reason for p in parts])[order],
        )


@dataclass
class Paths:
    """The trajectory of every pupil of a cohort (arrays of the cohort's length).

    Attributes
    ----------
    kind : ndarray of uint8
        Index into `TRAJECTORIES`.
    onset : ndarray of int32
        School day of the onset (refusal: the breaking point after any prodrome; for a
        refusal carried over from last year a negative number); -1 for ordinary pupils.
    onset_epoch : ndarray of int32
        Onset as days since 1970-01-01 (carried-over refusals: last year's date).
    prodrome_start : ndarray of int32
        First school day of a refusal's warning signs, -1 without prodrome.
    sudden, carried, after_illness, low_cooperation : ndarray of bool
        Refusal only: sudden onset, continues from last year, preceded by an illness,
        a family that seldom justifies the absences.
    recover_day : ndarray of int32
        School day the refusal resolves (n_days when it does not this year).
    bad_start, bad_stop : ndarray of int32
        An ordinary pupil's rough stretch [start, stop), -1 when none.
    truancy_level : ndarray of float32
        A truant's skip probability per half-day once fully started.
    forced_move_day : ndarray of int32
        Last day at the school after a definitive exclusion, else -1.
    spells : Spells
        Absence spells of refusal, chronic illness, withdrawal, exclusion and the illness
        that precedes some refusals.
    """

    kind: Array
    onset: Array
    onset_epoch: Array
    prodrome_start: Array
    sudden: Array
    carried: Array
    after_illness: Array
    low_cooperation: Array
    recover_day: Array
    bad_start: Array
    bad_stop: Array
    truancy_level: Array
    forced_move_day: Array
    spells: Spells


def assign(
    rng: np.random.Generator,
    days: YearDays,
    cohort: Cohort,
    registry: Registry,
    assumptions: Assumptions,
) -> Paths:
    """Draw every pupil's trajectory for the year, its onset and its spells.

    Parameters
    ----------
    rng : numpy.random.Generator
    days : YearDays
    cohort : Cohort
        The pupils enrolled this year, before mid-year moves are drawn.
    registry : Registry
        Pupil attributes and last year's state (an unresolved refusal, truancy).
    assumptions : Assumptions

    Returns
    -------
    Paths
    """
    a = assumptions
    n, n_days = cohort.size, days.n_days
    kind = _draw_kind(rng, cohort, registry, a)
    carried = (kind == REFUSAL) & registry["in_refusal"][cohort.pid]

    onset = np.full(n, -1, np.int32)
    is_ref = (kind == REFUSAL) & ~carried
    onset[is_ref] = _refusal_onset_days(rng, days, int(is_ref.sum()), a)
    onset[carried] = _CARRIED_ONSET
    is_tru = kind == TRUANCY
    again = registry["truant_last_year"][cohort.pid]
    onset[is_tru] = np.where(
        again[is_tru],
        rng.integers(0, 20, size=int(is_tru.sum())),
        rng.integers(10, max(11, n_days - 30), size=int(is_tru.sum())),
    )
    is_wd = kind == WITHDRAWAL
    onset[is_wd] = rng.integers(10, max(11, n_days - 20), size=int(is_wd.sum()))
    is_ex = kind == EXCLUSION
    onset[is_ex] = rng.integers(15, max(16, n_days - 15), size=int(is_ex.sum()))

    sudden = is_ref & (rng.random(n) < a.p_sudden)
    sudden |= carried & registry["refusal_sudden"][cohort.pid]
    prodrome = np.where(is_ref & ~sudden, uniform_int(rng, a.prodrome_days, n), 0)
    prodrome_start = np.where(is_ref & ~sudden, np.maximum(onset - prodrome, 0), -1)
    after_illness = is_ref & (rng.random(n) < a.p_after_illness)
    low_cooperation = (kind == REFUSAL) & (rng.random(n) < a.p_low_cooperation)
    recover = (kind == REFUSAL) & (rng.random(n) < a.p_recovery)
    recover_day = np.where(
        recover, np.maximum(onset, 0) + uniform_int(rng, a.recovery_days, n), n_days
    )
    recover_day = np.minimum(recover_day, n_days)

    bad_start, bad_stop = _bad_stretches(rng, cohort, registry, kind, n_days, a)
    level = rng.uniform(*a.truancy_level, size=n)

    spell_parts = [
        _refusal_spells(
            rng, np.flatnonzero(kind == REFUSAL), onset, sudden, carried, recover_day, n_days, a
        ),
        _trigger_illness(rng, np.flatnonzero(after_illness), onset, prodrome_start, sudden, a),
        _withdrawal_spells(rng, np.flatnonzero(is_wd), onset, n_days, a),
    ]
    excl, forced_move_day = _exclusion_spells(rng, np.flatnonzero(is_ex), onset, n_days, a)
    chronic, chronic_onset = _chronic_spells(rng, np.flatnonzero(kind == CHRONIC), n, n_days, a)
    spell_parts += [excl, chronic]
    onset = np.where(kind == CHRONIC, chronic_onset, onset).astype(np.int32)

    onset_epoch = np.where(onset >= 0, days.epoch[np.clip(onset, 0, n_days - 1)], -1)
    onset_epoch = np.where(carried, registry["refusal_onset"][cohort.pid], onset_epoch)
    return Paths(
        kind=kind,
        onset=onset,
        onset_epoch=onset_epoch.astype(np.int32),
        prodrome_start=prodrome_start.astype(np.int32),
        sudden=sudden,
        carried=carried,
        after_illness=after_illness,
        low_cooperation=low_cooperation,
        recover_day=recover_day.astype(np.int32),
        bad_start=bad_start,
        bad_stop=bad_stop,
        truancy_level=level.astype(np.float32),
        forced_move_day=forced_move_day,
        spells=Spells.concat(spell_parts),
    )


def _draw_kind(
    rng: np.random.Generator, cohort: Cohort, registry: Registry, a: Assumptions
) -> Array:
    """One trajectory per pupil; a pupil drawn for several keeps the rarest-first one."""
    n = cohort.size
    g = cohort.grade.astype(np.int64) - 1
    pid = cohort.pid
    sen, ses_low = registry["sen"][pid], registry["ses_low"][pid]
    male = registry["gender"][pid] == 1

    # Refusal: no gender and no SES factor (material: "jongens = meisjes", "SES niet").
    p_ref = a.refusal_rate * np.asarray(a.refusal_grade)[g]
    p_ref *= np.where(sen, a.refusal_sen, 1.0)
    p_ref *= np.where(cohort.new_at_school & (g > 0), a.refusal_new_at_school, 1.0)
    carried = registry["in_refusal"][pid] & (rng.random(n) < a.p_carry_over)
    new_ref = ~registry["had_refusal"][pid] & (rng.random(n) < p_ref)

    p_tru = a.truancy_rate * np.asarray(a.truancy_grade)[g]
    p_tru *= np.where(ses_low, a.truancy_ses_low, 1.0) * np.where(male, a.truancy_male, 1.0)
    p_tru *= np.where(sen, a.truancy_sen, 1.0)
    truant = rng.random(n) < p_tru
    truant |= registry["truant_last_year"][pid] & (rng.random(n) < a.truancy_persist)

    p_exc = a.exclusion_rate * np.asarray(a.exclusion_grade)[g]
    p_exc *= np.where(male, a.exclusion_male, 1.0) * np.where(ses_low, a.exclusion_ses_low, 1.0)

    kind = np.full(n, ORDINARY, np.uint8)
    kind[truant] = TRUANCY
    kind[registry["chronic"][pid] & (rng.random(n) < a.chronic_active)] = CHRONIC
    kind[rng.random(n) < p_exc] = EXCLUSION
    kind[rng.random(n) < a.withdrawal_rate] = WITHDRAWAL
    kind[carried | new_ref] = REFUSAL
    return kind


def _refusal_onset_days(
    rng: np.random.Generator, days: YearDays, size: int, a: Assumptions
) -> Array:
    """Onset days drawn from the year's refusal-onset profile.

    Few onsets in the first weeks (material: "na de eerste twee maanden"), more in the days
    after a holiday, few in the last weeks.
    """
    d = np.arange(days.n_days, dtype=np.float64)
    ramp = np.clip(
        (d - a.onset_early_days) / max(a.onset_ramp_days - a.onset_early_days, 1), 0.0, 1.0
    )
    weight = a.onset_early_level + (1.0 - a.onset_early_level) * ramp
    weight *= np.where(days.after_holiday, a.onset_after_holiday, 1.0)
    weight *= np.where(d >= days.n_days - a.onset_end_days, a.onset_end_of_year, 1.0)
    cum = np.cumsum(weight)
    return np.searchsorted(cum, rng.random(size) * cum[-1], side="right").clip(0, d.size - 1)


def _bad_stretches(
    rng: np.random.Generator,
    cohort: Cohort,
    registry: Registry,
    kind: Array,
    n_days: int,
    a: Assumptions,
) -> tuple[Array, Array]:
    """A rough few weeks for some ordinary pupils: the same signs as a prodrome, no refusal.

    Drawn with the same risk factors as refusal (grade 1, special needs), so that the signs
    alone do not separate the two.
    """
    n = cohort.size
    p = a.p_bad_stretch * np.where(cohort.grade == 1, 1.3, 1.0)
    p *= np.where(registry["sen"][cohort.pid], 1.3, 1.0)
    has = (kind == ORDINARY) & (rng.random(n) < p)
    length = uniform_int(rng, a.bad_stretch_days, n)
    start = rng.integers(0, max(1, n_days - a.bad_stretch_days[0]), size=n)
    return (
        np.where(has, start, -1).astype(np.int32),
        np.where(has, np.minimum(start + length, n_days), -1).astype(np.int32),
    )


def _refusal_spells(
    rng: np.random.Generator,
    rows: Array,
    onset: Array,
    sudden: Array,
    carried: Array,
    recover_day: Array,
    n_days: int,
    a: Assumptions,
) -> Spells:
    """Absence spells of refusing pupils: short and far apart at first, then long.

    The escalation level rises as 1 - exp(-t / T) with t the school days since onset and T
    a per-pupil time constant. Spell lengths grow and the days at school between spells
    shrink with the level, scaled by a per-pupil severity (mild cases stay partial).
    Loops over the spell number, vectorised over pupils.
    """
    m = rows.size
    on = onset[rows].astype(np.int64)
    sud, car = sudden[rows], carried[rows]
    te = rng.uniform(*a.escalation_days, size=m)
    severity = np.exp(rng.normal(0.0, a.severity_sd, size=m))
    shift = np.where(sud & ~car, te, 0.0)
    pos = np.where(car, uniform_int(rng, a.carry_over_attempt_days, m), on)
    out_row, out_start, out_len = [], [], []
    for k in range(_MAX_SPELLS):
        live = pos < n_days
        if not live.any():
            break
        level = 1.0 - np.exp(-np.maximum(pos - on + shift, 0.0) / te)
        length = geometric(rng, 1.0 + (a.spell_max_days - 1.0) * level**2 * severity)
        if k == 0:
            first = uniform_int(rng, a.sudden_first_spell, m)
            length = np.where(sud & ~car, np.maximum(length, first), length)
        out_row.append(rows[live])
        out_start.append(pos[live])
        out_len.append(length[live])
        gap = geometric(rng, 1.0 + a.gap_max_days * (1.0 - level) / severity)
        pos = pos + length + gap
    row = np.concatenate(out_row) if out_row else np.zeros(0, np.int64)
    start = np.concatenate(out_start) if out_start else np.zeros(0, np.int64)
    length = np.concatenate(out_len) if out_len else np.zeros(0, np.int64)

    # After a return to school a few short relapses remain; the spell that runs over the
    # day of return is cut there.
    rec_row = recover_day[row]
    after = start >= rec_row
    keep = ~after | (rng.random(row.size) < a.p_relapse_spell)
    relapse = np.minimum(length, geometric(rng, a.relapse_days, row.size))
    length = np.where(after, relapse, np.minimum(length, rec_row - start))
    return Spells(
        row=row[keep],
        start=start[keep],
        length=length[keep],
        reason=np.full(int(keep.sum()), codes.AVOID, np.uint8),
    )


def _trigger_illness(
    rng: np.random.Generator,
    rows: Array,
    onset: Array,
    prodrome_start: Array,
    sudden: Array,
    a: Assumptions,
) -> Spells:
    """An ordinary illness that ends just before a refusal starts (material: "voorafgegaan
    door een schoolafwezigheid omwille van ziekte")."""
    begin = np.where(sudden[rows], onset[rows], prodrome_start[rows]).astype(np.int64)
    length = uniform_int(rng, a.trigger_illness_days, rows.size)
    start = begin - rng.integers(1, 4, size=rows.size) - length + 1
    ok = start >= 0
    return Spells(
        row=rows[ok],
        start=start[ok],
        length=length[ok],
        reason=np.full(int(ok.sum()), codes.ILL, np.uint8),
    )


def _withdrawal_spells(
    rng: np.random.Generator, rows: Array, onset: Array, n_days: int, a: Assumptions
) -> Spells:
    """Long B or P spells from the onset on: the family keeps the pupil home."""
    m = rows.size
    pos = onset[rows].astype(np.int64)
    out: list[tuple[Array, Array, Array]] = []
    while m and (pos < n_days).any():
        live = pos < n_days
        length = uniform_int(rng, a.withdrawal_spell_days, m)
        out.append((rows[live], pos[live], length[live]))
        pos = pos + length + uniform_int(rng, a.withdrawal_gap_days, m)
    if not out:
        return _no_spells()
    row, start, length = (np.concatenate(x) for x in zip(*out, strict=True))
    reason = np.where(
        rng.random(row.size) < a.withdrawal_p_code_share, codes.WITHDRAW_P, codes.WITHDRAW_B
    )
    return Spells(row=row, start=start, length=length, reason=reason.astype(np.uint8))


def _exclusion_spells(
    rng: np.random.Generator, rows: Array, onset: Array, n_days: int, a: Assumptions
) -> tuple[Spells, Array]:
    """Preventive suspension (Y), then sometimes temporary (U) or definitive (T) exclusion.

    Returns the spells and, per cohort row, the last day at the school after a definitive
    exclusion (-1 otherwise): the pupil then moves to another school of the board.
    """
    m = rows.size
    start = onset[rows].astype(np.int64)
    y = uniform_int(rng, a.exclusion_y_days, m)
    u = np.where(rng.random(m) < a.p_exclusion_u, uniform_int(rng, a.exclusion_u_days, m), 0)
    t = np.where(rng.random(m) < a.p_exclusion_t, uniform_int(rng, a.exclusion_t_days, m), 0)
    spells = Spells(
        row=np.concatenate([rows, rows, rows]),
        start=np.concatenate([start, start + y, start + y + u]),
        length=np.concatenate([y, u, t]),
        reason=np.repeat(np.array([codes.EXCL_Y, codes.EXCL_U, codes.EXCL_T], np.uint8), m),
    )
    forced = np.full(onset.size, -1, np.int32)
    forced[rows] = np.where(t > 0, np.minimum(start + y + u + t - 1, n_days - 2), -1)
    return spells, forced


def _chronic_spells(
    rng: np.random.Generator, rows: Array, n: int, n_days: int, a: Assumptions
) -> tuple[Spells, Array]:
    """Long certified absences of chronically ill pupils.

    Returns the spells and, per cohort row, the first spell's day (the onset), else -1.
    """
    count = 1 + np.minimum(rng.poisson(a.chronic_spells_mean, size=rows.size), 4)
    row = np.repeat(rows, count)
    start = rng.integers(0, n_days, size=row.size)
    length = uniform_int(rng, a.chronic_spell_days, row.size)
    onset = np.full(n, n_days, np.int64)
    np.minimum.at(onset, row, start)
    spells = Spells(
        row=row, start=start, length=length, reason=np.full(row.size, codes.CERT, np.uint8)
    )
    return spells, np.where(onset < n_days, onset, -1)


def _no_spells() -> Spells:
    empty = np.zeros(0, np.int64)
    return Spells(row=empty, start=empty, length=empty, reason=np.zeros(0, np.uint8))
