"""Day-by-day events of one chunk of pupils: absences, late arrivals, sick-bay visits.

Everything is a pupils x days (or x slots) matrix for the chunk, or a sparse list of
events; the chunk size bounds memory. Order of work:

1. why each half-day is missed (`schoolsim.codes` reasons), painted from low to high
   priority: ordinary illness, other absences, trajectory spells, warning signs, truancy;
2. late arrivals and sick-bay visits on days the pupil is at school (a pupil sent home
   misses the rest of the day);
3. codes from reasons (`schoolsim.coding`), and the first days a care team would act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from schoolsim import codes
from schoolsim.arrays import first_true, sample_cells, spell_cells
from schoolsim.assumptions import Assumptions
from schoolsim.board import Cohort
from schoolsim.coding import assign_codes
from schoolsim.days import YearDays
from schoolsim.trajectories import CHRONIC, EXCLUSION, REFUSAL, TRUANCY, Paths

Array = npt.NDArray[Any]

OUTCOMES = ("back_to_class", "sent_home", "parents_called", "other")
_BACK, _SENT_HOME, _PARENTS, _OTHER = range(4)
# Kinds of partial day: leave at noon, come at noon, sent home from the sick bay, leave.
_PART_PM, _PART_AM, _PART_SICKBAY, _PART_LEAVE = 1, 2, 3, 4
_PART_SHARES = (0.3, 0.25, 0.25, 0.2)


@dataclass(frozen=True)
class YearContext:
    """Everything a chunk needs about its year (arrays are per cohort row)."""

    days: YearDays
    cohort: Cohort
    paths: Paths
    frailty: Array
    late_rate: Array
    sickbay_rate: Array
    flu: Array  # (n_classes, D) multiplier of the illness hazard
    class_idx: Array  # class row of `flu` before a move
    class_idx2: Array  # ... and after
    school_start: Array  # start of the school day in minutes, per school
    late_code_school: int  # school whose late arrivals are code L, or -1
    assumptions: Assumptions


@dataclass
class ChunkEvents:
    """Events of a chunk; rows are cohort rows, days are school-day indices."""

    abs_row: Array
    abs_slot: Array
    abs_code: Array
    abs_minutes: Array  # -1 = blank
    late_row: Array
    late_day: Array
    late_time: Array  # minutes since midnight
    late_minutes: Array
    sb_row: Array
    sb_day: Array
    sb_time: Array
    sb_minutes: Array
    sb_outcome: Array
    b5_day: Array  # per row: day of the 5th B half-day, -1 none
    b1_day: Array  # per row: day of the first B half-day
    long_day: Array  # per row: day the absent days in a window reach the "long" count

    @staticmethod
    def concat(parts: list[ChunkEvents]) -> ChunkEvents:
        """Stack the events of consecutive chunks."""
        names = ChunkEvents.__dataclass_fields__
        return ChunkEvents(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})


@dataclass
class _Visits:
    """Candidate late arrivals or sick-bay visits: row, day, source (0 ordinary, 1 signs)."""

    row: Array
    day: Array
    source: Array

    @staticmethod
    def concat(parts: list[_Visits]) -> _Visits:
        """All candidates of several sources."""
        if not parts:
            return _Visits(*_empty(3))
        return _Visits(
            np.concatenate([p.row for p in parts]),
            np.concatenate([p.day for p in parts]),
            np.concatenate([p.source for p in parts]),
        )


def simulate_chunk(rng: np.random.Generator, ctx: YearContext, lo: int, hi: int) -> ChunkEvents:
    """Simulate the events of cohort rows ``lo:hi``.

    Parameters
    ----------
    rng : numpy.random.Generator
        A stream for this chunk only, so results do not depend on other chunks.
    ctx : YearContext
    lo, hi : int
        The chunk's cohort rows.

    Returns
    -------
    ChunkEvents
        With rows offset back to cohort rows.
    """
    days, a, paths = ctx.days, ctx.assumptions, ctx.paths
    n = hi - lo
    rows = np.arange(lo, hi)
    reason = np.zeros((n, days.n_slots), np.uint8)

    ill = _illness_days(rng, ctx, lo, hi)
    ill_rows, ill_days = np.nonzero(ill)
    _paint_days(reason, days, ill_rows, ill_days, codes.ILL)
    _other_absences(rng, reason, days, a)
    _paint_spells(reason, days, paths, lo, hi)

    minutes = np.full(reason.shape, -1, np.int16)  # minutes missed (V) or late (L)
    late, sickbay = _warning_signs(rng, reason, minutes, ctx, lo, hi)
    late = _truancy(rng, reason, ctx, lo, hi, late)

    # Nothing happens after a pupil has left the board.
    end_day = ctx.cohort.end_day[lo:hi]
    reason[days.slot_day[None, :] > end_day[:, None]] = codes.PRESENT

    monday = np.where(days.weekday == 0, 1.3, 1.0)
    late_rate = ctx.late_rate[lo:hi] * _late_factor(paths, rows, a)
    late = _add_ordinary(rng, late, late_rate, monday)
    sickbay_rate = ctx.sickbay_rate[lo:hi] * _sickbay_factor(paths, rows, a)
    sickbay = _add_ordinary(rng, sickbay, sickbay_rate, days.season)
    sb = _sick_bay(rng, reason, minutes, sickbay, ctx, lo, hi)
    lt = _late(rng, reason, minutes, late, ctx, lo, hi)

    onset = np.where(paths.kind[lo:hi] == REFUSAL, paths.onset[lo:hi], 0)
    lax = paths.low_cooperation[lo:hi]
    code = assign_codes(rng, days, reason, onset, lax, a)
    b5, b1, long = _triggers(code, days, a)

    r, s = np.nonzero(code)
    return ChunkEvents(
        abs_row=(r + lo).astype(np.int64),
        abs_slot=s.astype(np.int16),
        abs_code=code[r, s],
        abs_minutes=minutes[r, s],
        late_row=lt[0] + lo,
        late_day=lt[1],
        late_time=lt[2],
        late_minutes=lt[3],
        sb_row=sb[0] + lo,
        sb_day=sb[1],
        sb_time=sb[2],
        sb_minutes=sb[3],
        sb_outcome=sb[4],
        b5_day=b5,
        b1_day=b1,
        long_day=long,
    )


# --- absences -------------------------------------------------------------------------


def _illness_days(rng: np.random.Generator, ctx: YearContext, lo: int, hi: int) -> Array:
    """Ordinary illness (flu waves included): episodes of 1-10 school days."""
    days, a, paths, cohort = ctx.days, ctx.assumptions, ctx.paths, ctx.cohort
    n, n_days = hi - lo, days.n_days
    flu = ctx.flu[ctx.class_idx[lo:hi]]
    movers = np.flatnonzero(cohort.move_day[lo:hi] >= 0)
    if movers.size:
        after = np.arange(n_days)[None, :] > cohort.move_day[lo:hi][movers, None]
        flu[movers] = np.where(after, ctx.flu[ctx.class_idx2[lo + movers]], flu[movers])
    frailty = ctx.frailty[lo:hi] * np.where(paths.kind[lo:hi] == CHRONIC, a.chronic_frailty, 1.0)
    daily = days.season * np.where(days.weekday == 0, a.illness_monday, 1.0)
    daily = daily * np.where(days.after_break, a.illness_after_break, 1.0)
    hazard = flu
    hazard *= (a.illness_hazard * daily).astype(np.float32)[None, :]
    hazard *= frailty.astype(np.float32)[:, None]
    bad = np.flatnonzero(paths.bad_start[lo:hi] >= 0)
    if bad.size:
        d = np.arange(n_days)[None, :]
        inside = (d >= paths.bad_start[lo:hi][bad, None]) & (d < paths.bad_stop[lo:hi][bad, None])
        hazard[bad] *= np.where(inside, np.float32(a.bad_stretch_illness), np.float32(1.0))
    onset_r, onset_d = np.nonzero(rng.random((n, n_days), dtype=np.float32) < hazard)
    probs = np.asarray(a.illness_lengths) / np.sum(a.illness_lengths)
    length = rng.choice(probs.size, size=onset_r.size, p=probs) + 1
    out = np.zeros((n, n_days), bool)
    r, c = spell_cells(onset_r, onset_d, length, n_days)
    out[r, c] = True
    return out


def _other_absences(
    rng: np.random.Generator, reason: Array, days: YearDays, a: Assumptions
) -> None:
    """R and P days (sometimes half-days) and stray B half-days of any pupil."""
    n = reason.shape[0]
    flat = np.ones(days.n_days)
    for value, rate in ((codes.EXCUSED_R, a.excused_r_rate), (codes.EXCUSED_P, a.excused_p_rate)):
        r, d = sample_cells(rng, np.full(n, rate), flat)
        half = rng.random(r.size) < a.p_excused_half_day
        pm = half & (rng.random(r.size) < 0.5) & days.has_pm[d]
        reason[r[half & ~pm], days.am_slot[d[half & ~pm]]] = value
        reason[r[pm], days.pm_slot[d[pm]]] = value
        _paint_days(reason, days, r[~half], d[~half], value)
    r, s = sample_cells(rng, np.full(n, a.unexcused_rate), np.ones(days.n_slots))
    reason[r, s] = codes.UNEXCUSED


def _paint_spells(reason: Array, days: YearDays, paths: Paths, lo: int, hi: int) -> None:
    """Trajectory spells of this chunk; a higher reason value wins where spells overlap."""
    sp = paths.spells
    i, j = np.searchsorted(sp.row, [lo, hi])
    for value in np.unique(sp.reason[i:j]):
        sel = np.flatnonzero(sp.reason[i:j] == value) + i
        r, d = spell_cells(sp.row[sel] - lo, sp.start[sel], sp.length[sel], days.n_days)
        _paint_days(reason, days, r, d, int(value))


def _paint_days(reason: Array, days: YearDays, r: Array, d: Array, value: int) -> None:
    """Set both half-days of each (row, day) to ``value``."""
    reason[r, days.am_slot[d]] = value
    pm = days.pm_slot[d]
    has = pm >= 0
    reason[r[has], pm[has]] = value


def _warning_signs(
    rng: np.random.Generator, reason: Array, minutes: Array, ctx: YearContext, lo: int, hi: int
) -> tuple[_Visits, _Visits]:
    """Prodromes, refusal-phase signs and ordinary rough stretches.

    Each gives days absent "ill", partial days, late mornings and sick-bay visits, more on
    Mondays and after a break. A refusing pupil's missed half-days are AVOID, a rough
    stretch's are ILL: the school sees the same codes.
    """
    days, a, paths = ctx.days, ctx.assumptions, ctx.paths
    n_days = days.n_days
    kind = paths.kind[lo:hi]
    ref = np.flatnonzero(kind == REFUSAL)
    onset = np.maximum(paths.onset[lo:hi][ref], 0)
    recover = paths.recover_day[lo:hi][ref]
    strength = np.exp(rng.normal(0.0, a.prodrome_strength_sd, size=ref.size))
    pro = paths.prodrome_start[lo:hi][ref]
    bad = np.flatnonzero(paths.bad_start[lo:hi] >= 0)
    bad_strength = a.bad_stretch_strength * np.exp(
        rng.normal(0.0, a.prodrome_strength_sd, size=bad.size)
    )
    prodrome = (a.prodrome_absent, a.prodrome_partial, a.prodrome_late, a.prodrome_sickbay)
    escalation = (
        (0.0, 0.0),  # the spells are the absences
        (a.escalation_partial, 0.0),
        (a.escalation_late, 0.0),
        (a.escalation_sickbay, 0.0),
    )
    # A rough stretch has the prodrome's middle intensity throughout.
    flat = tuple((base + slope / 2, 0.0) for base, slope in prodrome)
    p = pro >= 0
    after = np.full(ref.size, n_days)
    windows = [
        _Window(ref[p], pro[p], onset[p], strength[p], prodrome, codes.AVOID),
        _Window(ref, onset, recover, np.ones(ref.size), escalation, codes.AVOID),
        _Window(ref, recover, after, np.full(ref.size, 0.3), escalation, codes.AVOID),
        _Window(
            bad,
            paths.bad_start[lo:hi][bad],
            paths.bad_stop[lo:hi][bad],
            bad_strength,
            flat,
            codes.ILL,
        ),
    ]
    late, sickbay = [], []
    for window in windows:
        if window.rows.size:
            w_late, w_sickbay = _signs_window(rng, reason, minutes, days, window, a)
            late.append(w_late)
            sickbay.append(w_sickbay)
    return _Visits.concat(late), _Visits.concat(sickbay)


@dataclass(frozen=True)
class _Window:
    """Pupils showing warning signs from ``start`` to ``stop`` (school days, exclusive).

    Each sign's daily probability is strength * (base + slope * progress through the
    window) * weekday pattern; ``rates`` holds (base, slope) for days absent, partial days,
    late mornings and sick-bay visits; ``miss`` is the reason of a missed half-day.
    """

    rows: Array
    start: Array
    stop: Array
    strength: Array
    rates: tuple[tuple[float, float], ...]
    miss: int


def _signs_window(
    rng: np.random.Generator,
    reason: Array,
    minutes: Array,
    days: YearDays,
    window: _Window,
    a: Assumptions,
) -> tuple[_Visits, _Visits]:
    """Absences and partial days (painted into ``reason``) and candidate visits of a window.

    Returns the late mornings and the sick-bay visits (source 1: a sign; source 2: a
    partial day that goes through the sick bay, sent home in the morning).
    """
    rows, start, stop = window.rows, window.start, window.stop
    d = np.arange(days.n_days)[None, :]
    inside = (d >= start[:, None]) & (d < stop[:, None])
    ramp = np.clip((d - start[:, None]) / np.maximum(stop - start, 1)[:, None], 0.0, 1.0)
    strength = window.strength[:, None]
    pattern = days.pattern[None, :]
    (a0, a1), (p0, p1), (l0, l1), (s0, s1) = window.rates
    shape = inside.shape

    am = reason[rows][:, days.am_slot]
    pm_slot = np.maximum(days.pm_slot, 0)
    pm = np.where(days.has_pm[None, :], reason[rows][:, pm_slot], codes.PRESENT)
    free = (am <= codes.ILL) & (pm <= codes.ILL)  # present, or ordinary illness
    at_school = (am == codes.PRESENT) & (pm == codes.PRESENT)

    absent = inside & free & (rng.random(shape) < strength * (a0 + a1 * ramp) * pattern)
    r, c = np.nonzero(absent)
    _paint_days(reason, days, rows[r], c, window.miss)

    at_school &= ~absent & inside
    partial = at_school & (rng.random(shape) < strength * (p0 + p1 * ramp) * pattern)
    r, c = np.nonzero(partial)
    part = rng.choice(4, size=r.size, p=_PART_SHARES) + 1
    part = np.where((part == _PART_PM) & ~days.has_pm[c], _PART_LEAVE, part)
    _apply_partial(rng, reason, minutes, days, rows[r], c, part, window.miss, a)
    via_sickbay = part == _PART_SICKBAY

    monday = np.where(days.weekday == 0, 1.5, 1.0)[None, :]
    is_late = at_school & ~partial & (rng.random(shape) < strength * (l0 + l1 * ramp) * monday)
    visit = at_school & ~partial & (rng.random(shape) < strength * (s0 + s1 * ramp))
    lr, lc = np.nonzero(is_late)
    sr, sc = np.nonzero(visit)
    late = _Visits(rows[lr], lc, np.ones(lr.size, np.int64))
    sickbay = _Visits(
        np.concatenate([rows[sr], rows[r[via_sickbay]]]),
        np.concatenate([sc, c[via_sickbay]]),
        np.concatenate([np.ones(sr.size, np.int64), np.full(int(via_sickbay.sum()), 2)]),
    )
    return late, sickbay


def _apply_partial(
    rng: np.random.Generator,
    reason: Array,
    minutes: Array,
    days: YearDays,
    r: Array,
    d: Array,
    part: Array,
    miss: int,
    a: Assumptions,
) -> None:
    """Only a few hours at school: leave at noon, come at noon, or leave mid-morning (V)."""
    pm = part == _PART_PM
    reason[r[pm], days.pm_slot[d[pm]]] = miss
    am = part == _PART_AM
    reason[r[am], days.am_slot[d[am]]] = miss
    leave = part == _PART_LEAVE
    reason[r[leave], days.am_slot[d[leave]]] = codes.EARLY
    # Left between 09:30 and 11:30: the minutes missed until the end of the morning.
    left_at = rng.integers(570, 691, size=int(leave.sum()))
    minutes[r[leave], days.am_slot[d[leave]]] = a.am_end_minutes - left_at
    rest = leave & days.has_pm[d]
    reason[r[rest], days.pm_slot[d[rest]]] = miss


def _truancy(
    rng: np.random.Generator, reason: Array, ctx: YearContext, lo: int, hi: int, late: _Visits
) -> _Visits:
    """Skipped half-days (mostly afternoons) and whole days, B-coded; some late mornings."""
    days, a, paths = ctx.days, ctx.assumptions, ctx.paths
    rows = np.flatnonzero(paths.kind[lo:hi] == TRUANCY)
    if rows.size == 0:
        return late
    onset = paths.onset[lo:hi][rows][:, None]
    level = paths.truancy_level[lo:hi][rows][:, None]
    since = np.arange(days.n_days)[None, :] - onset
    ramp = np.where(since >= 0, np.clip(0.3 + since / a.truancy_ramp_days, 0.0, 1.0), 0.0)
    edge = np.where((days.weekday == 0) | (days.weekday == 4), a.truancy_monday_friday, 1.0)
    q_day = level * ramp * edge[None, :]

    full = rng.random(q_day.shape) < q_day * a.truancy_full_day_share
    half_q = q_day[:, days.slot_day] * np.where(days.slot_pm, a.truancy_pm, 0.7)[None, :]
    skip = (rng.random(half_q.shape) < half_q) | full[:, days.slot_day]
    sub = reason[rows]
    skip &= sub == codes.PRESENT
    noted = rng.random(skip.shape) < a.truancy_note_share
    sub[skip] = np.where(noted[skip], codes.ILL, codes.TRUANT)
    reason[rows] = sub

    at_school = (sub[:, days.am_slot] == codes.PRESENT) & (since >= 0)
    lr, lc = np.nonzero(at_school & (rng.random(at_school.shape) < a.truancy_late))
    return _Visits.concat([late, _Visits(rows[lr], lc, np.zeros(lr.size, np.int64))])


# --- late arrivals and sick-bay visits --------------------------------------------------


def _late_factor(paths: Paths, rows: Array, a: Assumptions) -> Array:
    return np.where(paths.kind[rows] == EXCLUSION, a.exclusion_late, 1.0)


def _sickbay_factor(paths: Paths, rows: Array, a: Assumptions) -> Array:
    # Truants do not use the sick bay; chronically ill pupils more often.
    kind = paths.kind[rows]
    return np.select([kind == TRUANCY, kind == CHRONIC], [0.0, 2.0], 1.0)


def _add_ordinary(
    rng: np.random.Generator, visits: _Visits, rate: Array, weights: Array
) -> _Visits:
    """Add ordinary events drawn sparsely from each pupil's propensity."""
    w = weights / weights.mean()
    r, d = sample_cells(rng, rate, w)
    return _Visits.concat([visits, _Visits(r, d, np.zeros(r.size, np.int64))])


def _dedupe(visits: _Visits, n_days: int) -> _Visits:
    """One event per pupil and day; signs (source > 0) win over ordinary ones."""
    key = visits.row.astype(np.int64) * n_days + visits.day
    order = np.lexsort((-visits.source, key))
    key = key[order]
    keep = np.r_[True, key[1:] != key[:-1]]
    idx = order[keep]
    return _Visits(visits.row[idx], visits.day[idx], visits.source[idx])


def _school_on(ctx: YearContext, rows: Array, day: Array) -> Array:
    """School of each cohort row on each day (a transfer changes it)."""
    c = ctx.cohort
    return np.where(day > c.move_day[rows], c.school2[rows], c.school[rows]).astype(np.int64)


def _late(
    rng: np.random.Generator,
    reason: Array,
    minutes: Array,
    late: _Visits,
    ctx: YearContext,
    lo: int,
    hi: int,
) -> tuple[Array, Array, Array, Array]:
    """Late mornings on days the pupil is at school in the morning.

    At the school that registers lateness as code L, they become an L in the morning slot
    instead of a row in ``late_arrivals``.
    """
    days, a = ctx.days, ctx.assumptions
    late = _dedupe(late, days.n_days)
    am = days.am_slot[late.day]
    ok = (reason[late.row, am] == codes.PRESENT) & (late.day <= ctx.cohort.end_day[lo + late.row])
    row, day, src = late.row[ok], late.day[ok], late.source[ok]
    median = np.where(src == 1, a.refusal_late_minutes_median, a.late_minutes_median)
    mins = np.clip(np.rint(median * np.exp(rng.normal(0.0, 0.7, size=row.size))), 1, 120)
    school = _school_on(ctx, row + lo, day)
    time = ctx.school_start[school] + mins
    as_code = school == ctx.late_code_school
    reason[row[as_code], days.am_slot[day[as_code]]] = codes.LATE_CODE
    minutes[row[as_code], days.am_slot[day[as_code]]] = mins[as_code]
    keep = ~as_code
    return (
        row[keep].astype(np.int64),
        day[keep].astype(np.int16),
        time[keep].astype(np.int16),
        mins[keep].astype(np.int16),
    )


def _sick_bay(
    rng: np.random.Generator,
    reason: Array,
    minutes: Array,
    sickbay: _Visits,
    ctx: YearContext,
    lo: int,
    hi: int,
) -> tuple[Array, Array, Array, Array, Array]:
    """Sick-bay visits; a pupil sent home misses the rest of the day.

    Sent home in the morning: V for the morning and the afternoon missed ("ill", or refusal
    for a refusing pupil); in the afternoon: V for the afternoon.
    """
    days, a = ctx.days, ctx.assumptions
    v = _dedupe(sickbay, days.n_days)
    n = v.row.size
    start = ctx.school_start[_school_on(ctx, v.row + lo, v.day)]
    morning = (
        (v.source == 2) | ~days.has_pm[v.day] | (rng.random(n) < np.where(v.source, 0.7, 0.55))
    )
    am_time = start + 15 + np.floor(rng.random(n) * (a.am_end_minutes - 25 - start))
    pm_time = a.pm_start_minutes + np.floor(
        rng.random(n) * (a.pm_end_minutes - 15 - a.pm_start_minutes)
    )
    time = np.where(morning, am_time, pm_time).astype(np.int64)
    slot = np.where(morning, days.am_slot[v.day], days.pm_slot[v.day])
    ok = (reason[v.row, slot] == codes.PRESENT) & (v.day <= ctx.cohort.end_day[lo + v.row])
    row, day, src, time, slot, morning = (
        x[ok] for x in (v.row, v.day, v.source, time, slot, morning)
    )

    # Outcome probabilities in the order of OUTCOMES: ordinary visits, then warning signs.
    table = np.asarray([a.sickbay_outcomes, a.sickbay_outcomes_refusal])
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(row.size)
    outcome = (u[:, None] > cum[np.minimum(src, 1)]).sum(axis=1)
    outcome = np.where(src == 2, _SENT_HOME, np.minimum(outcome, 3))

    home = outcome == _SENT_HOME
    end = np.where(morning, a.am_end_minutes, a.pm_end_minutes)
    reason[row[home], slot[home]] = codes.EARLY
    minutes[row[home], slot[home]] = (end - time)[home]
    rest = home & morning & days.has_pm[day]
    pm = days.pm_slot[day[rest]]
    free = reason[row[rest], pm] == codes.PRESENT
    refusing = ctx.paths.kind[lo + row[rest]] == REFUSAL
    reason[row[rest][free], pm[free]] = np.where(refusing[free], codes.AVOID, codes.ILL)

    stay = rng.integers(10, 46, size=row.size)
    return (
        row.astype(np.int64),
        day.astype(np.int16),
        time.astype(np.int16),
        stay.astype(np.int16),
        outcome.astype(np.uint8),
    )


# --- what a care team acts on ------------------------------------------------------------


def _triggers(code: Array, days: YearDays, a: Assumptions) -> tuple[Array, Array, Array]:
    """Day of the 5th B half-day, of the first B, and of reaching a long absence.

    A long absence is ``case_long_days`` full days missed within the last
    ``case_long_window`` school days.
    """
    is_b = code == codes.B
    b_count = np.cumsum(is_b, axis=1, dtype=np.int16)
    b5 = first_true(b_count >= a.case_b_halfdays)
    b1 = first_true(is_b)
    full = np.isin(code, codes.FULL_ABSENCE_CODES)
    am = full[:, days.am_slot]
    pm = np.where(days.has_pm[None, :], full[:, np.maximum(days.pm_slot, 0)], True)
    absent = np.cumsum(am & pm, axis=1, dtype=np.int32)
    window = absent.copy()
    window[:, a.case_long_window :] -= absent[:, : -a.case_long_window]
    long = first_true(window >= a.case_long_days)
    to_day = np.r_[days.slot_day, -1]
    return to_day[b5].astype(np.int32), to_day[b1].astype(np.int32), long


def _empty(k: int) -> list[Array]:
    return [np.zeros(0, np.int64) for _ in range(k)]
