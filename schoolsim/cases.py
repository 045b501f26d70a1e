"""When a care team opens a case, of which type, and what it records as the onset.

Cases open the way schools work today (material: "wacht niet op B-codes" is advice
*against* current practice): after the 5th B half-day, after a long absence, or, for
refusal, now and then because someone noticed. A care team needs some days more to
meet. The case type follows the trajectory, with some refusals read as truancy when the
B-codes are what brought them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from schoolsim.arrays import geometric
from schoolsim.assumptions import Assumptions
from schoolsim.board import Cohort, Registry
from schoolsim.days import YearDays
from schoolsim.events import ChunkEvents
from schoolsim.trajectories import (
    CHRONIC,
    EXCLUSION,
    ORDINARY,
    REFUSAL,
    TRUANCY,
    WITHDRAWAL,
    Paths,
)

Array = npt.NDArray[Any]

CASE_TYPES = ("school_refusal", "truancy", "illness", "withdrawal", "exclusion", "other")
SCHOOL_REFUSAL, CASE_TRUANCY, ILLNESS, CASE_WITHDRAWAL, CASE_EXCLUSION, OTHER = range(6)
_NEVER = np.iinfo(np.int32).max


@dataclass
class Cases:
    """Cases opened in one school year (rows are cohort rows, days school-day indices)."""

    row: Array
    opened_day: Array
    case_type: Array
    onset_epoch: Array  # days since 1970-01-01
    onset_known: Array  # False: onset_on left blank


def open_cases(
    rng: np.random.Generator,
    days: YearDays,
    cohort: Cohort,
    paths: Paths,
    events: ChunkEvents,
    registry: Registry,
    assumptions: Assumptions,
) -> Cases:
    """Open this year's care cases and mark them in the registry.

    A pupil gets at most one case of each type over the whole simulation.

    Parameters
    ----------
    rng : numpy.random.Generator
    days : YearDays
    cohort : Cohort
    paths : Paths
    events : ChunkEvents
        Its per-row trigger days (``b5_day``, ``b1_day``, ``long_day``).
    registry : Registry
        Its ``cases`` bit mask is read and updated.
    assumptions : Assumptions

    Returns
    -------
    Cases
    """
    a = assumptions
    n = cohort.size
    kind = paths.kind
    b5 = _or_never(events.b5_day)
    long = _or_never(events.long_day)
    onset_day = np.maximum(paths.onset, 0)
    epoch_of = np.r_[days.epoch, days.epoch[-1]]

    recorded = a.p_onset_recorded

    # School refusal: the first of 5 B half-days, a long absence, or being noticed.
    attentive = onset_day + geometric(rng, 1.0 / a.case_attentive_per_day, n)
    by_b = np.maximum(b5, onset_day)
    trigger = np.minimum(np.minimum(by_b, np.maximum(long, onset_day)), attentive)
    read_as_truancy = (trigger == by_b) & (rng.random(n) < a.p_refusal_typed_truancy)
    ref_type = np.where(read_as_truancy, CASE_TRUANCY, SCHOOL_REFUSAL)
    # B-codes or a long absence from before a trajectory's onset do not open its case.
    b5_since, long_since = np.maximum(b5, onset_day), np.maximum(long, onset_day)
    chronic = (kind == CHRONIC) & (rng.random(n) < a.p_case_chronic)
    withdrawal = (kind == WITHDRAWAL) & (rng.random(n) < a.p_case_withdrawal)
    exclusion = (kind == EXCLUSION) & (rng.random(n) < a.p_case_exclusion)
    onset = paths.onset_epoch
    routes = [
        _Route(kind == REFUSAL, trigger, ref_type, onset, recorded),
        _Route(kind == TRUANCY, b5_since, CASE_TRUANCY, onset, recorded),
        _Route(chronic, long_since, ILLNESS, onset, recorded),
        _Route(withdrawal, np.minimum(b5_since, long_since), CASE_WITHDRAWAL, onset, recorded),
        _Route(exclusion, onset_day - 2, CASE_EXCLUSION, onset, recorded),
    ]

    # Ordinary pupils: the B rule, a long illness, and cases for other worries.
    ordinary = kind == ORDINARY
    first_b = epoch_of[np.clip(events.b1_day, 0, days.n_days)]
    long_start = epoch_of[np.clip(long - a.case_long_window + 1, 0, days.n_days)]
    other_day = np.floor(rng.random(n) * (cohort.end_day + 1)).astype(np.int64)
    other_onset = epoch_of[np.maximum(other_day - rng.integers(10, 60, size=n), 0)]
    truant_like = ordinary & (rng.random(n) < a.p_case_truancy_ordinary)
    long_ill = ordinary & (rng.random(n) < a.p_case_illness_long)
    other = rng.random(n) < a.other_case_rate
    routes += [
        _Route(truant_like, b5, CASE_TRUANCY, first_b, recorded),
        _Route(long_ill, long, ILLNESS, long_start, recorded),
        _Route(other, other_day - 3, OTHER, other_onset, a.p_onset_recorded_other),
    ]

    cases = _collect(rng, routes, cohort, registry, a)
    cases.opened_day = cases.opened_day.astype(np.int32)
    return cases


@dataclass(frozen=True)
class _Route:
    """One way cases open: who, the day it is triggered, type, recorded onset."""

    who: Array  # bool per cohort row
    trigger: Array  # school day, _NEVER when it never fires
    case_type: Array | int
    onset_epoch: Array
    p_onset_known: float


def _or_never(day: Array) -> Array:
    return np.where(day >= 0, day, _NEVER).astype(np.int64)


def _collect(
    rng: np.random.Generator,
    routes: list[_Route],
    cohort: Cohort,
    registry: Registry,
    a: Assumptions,
) -> Cases:
    """Keep cases that open while the pupil is enrolled and are new for the pupil."""
    n = cohort.size
    bits = registry["cases"]
    out: list[tuple[Array, Array, Array, Array, Array]] = []
    for route in routes:
        ctype = np.broadcast_to(np.asarray(route.case_type, dtype=np.int64), (n,))
        delay = a.case_delay_days[0] + geometric(rng, a.case_delay_days[1], n) - 1
        opened = np.where(route.trigger < _NEVER, route.trigger + delay, _NEVER)
        fresh = (bits[cohort.pid] & (1 << ctype).astype(np.uint8)) == 0
        rows = np.flatnonzero(route.who & (opened <= cohort.end_day) & fresh)
        bits[cohort.pid[rows]] |= (1 << ctype[rows]).astype(np.uint8)
        known = rng.random(rows.size) < route.p_onset_known
        out.append((rows, opened[rows], ctype[rows], route.onset_epoch[rows], known))
    row, opened_day, case_type, onset, known = (np.concatenate(x) for x in zip(*out, strict=True))
    return Cases(
        row=row,
        opened_day=opened_day,
        case_type=case_type.astype(np.uint8),
        onset_epoch=onset.astype(np.int32),
        onset_known=known,
    )
