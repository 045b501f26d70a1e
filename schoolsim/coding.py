"""From reasons to registered codes: the parent's-note rules, run by run.

A run is a maximal stretch of consecutive registrable half-days that a pupil misses for
reported illness (ordinary illness, or refusal reported as illness). Each run gets one code:

- ``Z`` (parent's note) when it covers at most 3 calendar days, does not touch the week
  before or after a holiday, and the pupil has notes left (4 a school year);
- otherwise ``D`` (doctor's certificate) or, when the family has no certificate, ``B``.

Refusing pupils get certificates less often, and less often as the refusal goes on: the
material's point that B-codes come late ("wacht niet op B-codes").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from schoolsim import codes
from schoolsim.arrays import rank_within_rows, runs, segment_any
from schoolsim.assumptions import Assumptions
from schoolsim.days import YearDays

Array = npt.NDArray[Any]


def assign_codes(
    rng: np.random.Generator,
    days: YearDays,
    reason: Array,
    onset: Array,
    low_cooperation: Array,
    assumptions: Assumptions,
) -> Array:
    """Registered codes of every slot of a chunk of pupils.

    Parameters
    ----------
    rng : numpy.random.Generator
    days : YearDays
    reason : ndarray of uint8, shape (n, S)
        Why each slot is missed (`schoolsim.codes` reasons; 0 = present).
    onset : ndarray of int, shape (n,)
        Refusal onset day of each pupil (negative: carried over; ignored for others).
    low_cooperation : ndarray of bool, shape (n,)
        Refusing pupils whose family seldom justifies their refusal absences.
    assumptions : Assumptions

    Returns
    -------
    ndarray of uint8, shape (n, S)
        Code of each slot (`schoolsim.codes` codes; 0 = no registration).
    """
    a = assumptions
    code = codes.REASON_CODE[reason]
    pool = (reason == codes.ILL) | (reason == codes.AVOID)
    row, first, last = runs(pool)
    if row.size == 0:
        return code
    avoid = segment_any(reason == codes.AVOID, row, first, last)
    day_first, day_last = days.slot_day[first], days.slot_day[last]
    span = days.epoch[day_last] - days.epoch[day_first] + 1
    near_cum = np.concatenate([[0], np.cumsum(days.near_holiday)])
    near = near_cum[day_last + 1] > near_cum[day_first]

    half = first == last
    p_doctor = np.where(avoid, a.p_doctor_anyway_refusal, a.p_doctor_anyway)
    doctor = ~half & (rng.random(row.size) < p_doctor)
    short = span <= a.note_max_calendar_days
    lax = avoid & low_cooperation[row]
    p_bother = np.where(half, a.p_note_half_day, 1.0) * np.where(lax, a.low_cooperation_note, 1.0)
    bother = rng.random(row.size) < p_bother
    wants_note = short & ~near & ~doctor & bother
    note = wants_note & (rank_within_rows(row, wants_note) <= a.note_max_per_year)

    # Without a note: a certificate or a B. Refusal certificates get rarer with time.
    since = np.maximum(day_first - onset[row], 0) / a.refusal_cert_decay_days
    fade = np.minimum(since, 1.0)
    p_ref = np.where(
        short,
        a.refusal_cert_short[0] + (a.refusal_cert_short[1] - a.refusal_cert_short[0]) * fade,
        a.refusal_cert_long[0] + (a.refusal_cert_long[1] - a.refusal_cert_long[0]) * fade,
    )
    p_ord = np.select(
        [~short, near], [a.p_certificate_long, a.p_certificate_holiday], a.p_certificate_no_note
    )
    p_cert = np.where(half, a.p_certificate_half_day, np.where(avoid, p_ref, p_ord))
    p_cert *= np.where(lax, a.low_cooperation_certificate, 1.0)
    certified = doctor | (rng.random(row.size) < p_cert)
    run_code = np.where(note, codes.Z, np.where(certified, codes.D, codes.B)).astype(np.uint8)

    n_slots = reason.shape[1]
    length = last - first + 1
    start = row.astype(np.int64) * n_slots + first
    offsets = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    code.reshape(-1)[np.repeat(start, length) + offsets] = np.repeat(run_code, length)
    return code
