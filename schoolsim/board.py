"""The board's pupils and who sits where: intake, grades, classes, moves between schools.

The `Registry` holds every pupil ever enrolled (one entry per pupil, stable across years)
and the state that carries over from one school year to the next. A `Cohort` is the set of
pupils enrolled in one school year, with their school, grade and class in September and
any move during the year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from schoolsim.assumptions import Assumptions

Array = npt.NDArray[Any]

FIRST_ID = 10_001  # ids look like "L0010001": a school's own pupil number
GENDERS = ("F", "M", "X")

# Columns of the registry: name -> dtype. The last group is state carried across years.
_REGISTRY_COLUMNS: dict[str, type[np.generic]] = {
    "id_num": np.int32,
    "gender": np.uint8,  # index into GENDERS
    "ses_low": np.bool_,
    "sen": np.bool_,
    "chronic": np.bool_,  # has a chronic illness
    "frailty": np.float32,  # proneness to ordinary illness
    "late_rate": np.float32,  # proneness to arriving late
    "sickbay_rate": np.float32,  # proneness to visiting the sick bay
    "in_refusal": np.bool_,  # refusal unresolved at the end of the last school year
    "refusal_onset": np.int32,  # epoch day of that refusal's onset
    "refusal_sudden": np.bool_,
    "had_refusal": np.bool_,
    "truant_last_year": np.bool_,
    "cases": np.uint8,  # bit mask of care-case types already opened (see cases.CASE_TYPES)
}


@dataclass
class Registry:
    """Every pupil of the board, indexed by a dense pupil number (``pid``)."""

    columns: dict[str, Array] = field(
        default_factory=lambda: {k: np.zeros(0, dtype=t) for k, t in _REGISTRY_COLUMNS.items()}
    )

    def __getitem__(self, name: str) -> Array:
        return self.columns[name]

    @property
    def size(self) -> int:
        """Number of pupils created so far."""
        return int(self.columns["id_num"].size)

    def add(self, rng: np.random.Generator, n: int, assumptions: Assumptions) -> Array:
        """Create ``n`` pupils with their attributes; return their pids.

        Ids are consecutive numbers handed out in a random order, so an id says nothing
        about a pupil's grade or school.
        """
        a = assumptions
        start = self.size
        gender = np.where(
            rng.random(n) < a.p_gender_x, 2, np.where(rng.random(n) < a.p_female, 0, 1)
        )
        ses_low = rng.random(n) < a.p_ses_low
        sen = rng.random(n) < a.p_sen
        frailty = rng.gamma(a.illness_frailty_shape, 1 / a.illness_frailty_shape, n)
        frailty *= np.where(sen, a.illness_sen, 1.0) * np.where(ses_low, a.illness_ses_low, 1.0)
        late = rng.gamma(a.late_shape, a.late_rate / a.late_shape, n)
        late *= (rng.random(n) >= a.p_never_late) * np.where(ses_low, a.late_ses_low, 1.0)
        sickbay = rng.gamma(a.sickbay_shape, a.sickbay_rate / a.sickbay_shape, n)
        sickbay *= np.where(sen, a.sickbay_sen, 1.0)
        new = {
            "id_num": FIRST_ID + start + rng.permutation(n),
            "gender": gender,
            "ses_low": ses_low,
            "sen": sen,
            "chronic": rng.random(n) < a.p_chronic_condition,
            "frailty": frailty,
            "late_rate": late,
            "sickbay_rate": sickbay,
        }
        for name, dtype in _REGISTRY_COLUMNS.items():
            values = new.get(name, np.zeros(n, dtype=dtype))
            self.columns[name] = np.concatenate([self.columns[name], values.astype(dtype)])
        return np.arange(start, start + n, dtype=np.int64)


@dataclass
class Cohort:
    """The pupils enrolled in one school year.

    Attributes
    ----------
    pid, grade, school, class_no : ndarray
        Pupil, grade (1-6), school index and class number (0 = "A") in September.
    new_at_school : ndarray of bool
        First year at this school (intake, lateral entry, change of school).
    move_day : ndarray of int32
        Last school day at the first school for a mid-year transfer, else -1.
    school2, class_no2 : ndarray
        School and class after a transfer (equal to the first when there is none).
    end_day : ndarray of int32
        Last enrolled school day (D - 1 unless the pupil leaves the board mid-year).
    """

    pid: Array
    grade: Array
    school: Array
    class_no: Array
    new_at_school: Array
    move_day: Array
    school2: Array
    class_no2: Array
    end_day: Array

    @property
    def size(self) -> int:
        """Number of pupils."""
        return int(self.pid.size)


def school_weights(rng: np.random.Generator, n_schools: int, assumptions: Assumptions) -> Array:
    """Relative sizes of the board's schools (fixed for the whole simulation)."""
    return rng.dirichlet(np.full(n_schools, assumptions.school_size_concentration))


def first_cohort(
    rng: np.random.Generator,
    registry: Registry,
    n_students: int,
    weights: Array,
    n_days: int,
    assumptions: Assumptions,
) -> Cohort:
    """The board in the first simulated September: ``n_students`` pupils over grades 1-6."""
    gw = np.asarray(assumptions.grade_weights)
    grade = rng.choice(6, size=n_students, p=gw / gw.sum()) + 1
    pid = registry.add(rng, n_students, assumptions)
    school = rng.choice(weights.size, size=n_students, p=weights)
    return _seat(rng, pid, grade, school, np.ones(n_students, bool), n_days, assumptions)


def next_cohort(
    rng: np.random.Generator,
    registry: Registry,
    previous: Cohort,
    n_students: int,
    weights: Array,
    n_days: int,
    prev_days: int,
    assumptions: Assumptions,
) -> Cohort:
    """Next September: pupils move up a grade, grade 6 leaves, a new grade 1 comes in.

    Pupils who left the board during the year, and a few more over the summer, are gone;
    lateral entrants in grades 2-6 replace them, so the board keeps its size.
    """
    a = assumptions
    stayed = previous.end_day >= prev_days - 1
    repeat = rng.random(previous.size) < a.p_repeat_year
    grade = previous.grade + np.where(repeat, 0, 1)
    leave_summer = rng.random(previous.size) < a.p_leave_board_summer
    keep = stayed & (grade <= 6) & ~leave_summer
    left_board = int((~stayed).sum() + (stayed & (grade <= 6) & leave_summer).sum())

    pid = previous.pid[keep]
    grade = grade[keep]
    school = previous.school2[keep]
    change = (rng.random(pid.size) < a.p_change_school_summer) & (weights.size > 1)
    other = (school + rng.integers(1, max(weights.size, 2), size=pid.size)) % weights.size
    school = np.where(change, other, school)

    n_intake = round(n_students * assumptions.grade_weights[0] / sum(assumptions.grade_weights))
    new_grade = np.concatenate([np.ones(n_intake, np.int64), rng.integers(2, 7, size=left_board)])
    new_pid = registry.add(rng, new_grade.size, assumptions)
    new_school = rng.choice(weights.size, size=new_grade.size, p=weights)
    return _seat(
        rng,
        np.concatenate([pid, new_pid]),
        np.concatenate([grade, new_grade]),
        np.concatenate([school, new_school]),
        np.concatenate([change, np.ones(new_grade.size, bool)]),
        n_days,
        assumptions,
    )


def _seat(
    rng: np.random.Generator,
    pid: Array,
    grade: Array,
    school: Array,
    new_at_school: Array,
    n_days: int,
    assumptions: Assumptions,
) -> Cohort:
    """Sort pupils into classes of about ``class_size`` within each school and grade."""
    n = pid.size
    group = school.astype(np.int64) * 8 + grade
    order = np.lexsort((rng.random(n), group))
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    sizes = np.diff(np.r_[starts, n])
    position = np.arange(n) - np.repeat(starts, sizes)
    n_classes = np.maximum(1, np.rint(sizes / assumptions.class_size)).astype(np.int64)
    class_no = np.empty(n, np.int64)
    # Round-robin over the classes keeps them the same size.
    class_no[order] = position % np.repeat(n_classes, sizes)
    none = np.full(n, -1, np.int32)
    return Cohort(
        pid=pid.astype(np.int64),
        grade=grade.astype(np.int8),
        school=school.astype(np.int16),
        class_no=class_no.astype(np.int16),
        new_at_school=new_at_school.astype(bool),
        move_day=none,
        school2=school.astype(np.int16),
        class_no2=class_no.astype(np.int16),
        end_day=np.full(n, n_days - 1, np.int32),
    )


def class_counts(cohort: Cohort, n_schools: int) -> Array:
    """Number of classes per (school, grade): shape (n_schools, 7)."""
    counts = np.zeros((n_schools, 7), np.int64)
    np.maximum.at(counts, (cohort.school, cohort.grade), cohort.class_no.astype(np.int64) + 1)
    return counts


def add_moves(
    rng: np.random.Generator,
    cohort: Cohort,
    n_schools: int,
    n_days: int,
    eligible_leave: Array,
    forced_move_day: Array,
    assumptions: Assumptions,
) -> Cohort:
    """Draw mid-year transfers within the board and departures from the board.

    Parameters
    ----------
    eligible_leave : ndarray of bool
        Pupils who may leave the board mid-year (ordinary pupils: an onset never falls after
        a pupil's enrolment has ended).
    forced_move_day : ndarray of int32
        Last day at the school for pupils who must move (definitive exclusion), else -1.
    """
    a = assumptions
    n = cohort.size
    move = (rng.random(n) < a.p_transfer_midyear) & (n_schools > 1)
    move_day = np.where(move, rng.integers(10, max(11, n_days - 10), size=n), -1)
    forced = forced_move_day >= 0
    move_day = np.where(forced, np.minimum(forced_move_day, n_days - 2), move_day)
    move = move_day >= 0

    leave = eligible_leave & ~move & (rng.random(n) < a.p_leave_board_midyear)
    # A definitive exclusion on a one-school board means leaving the board.
    leave |= forced & (n_schools == 1)
    move &= n_schools > 1
    end_day = np.where(leave, rng.integers(5, max(6, n_days - 5), size=n), n_days - 1)
    end_day = np.where(forced & leave, np.minimum(forced_move_day, n_days - 1), end_day)

    school2 = (cohort.school + rng.integers(1, max(n_schools, 2), size=n)) % n_schools
    counts = class_counts(cohort, n_schools)
    class2 = np.floor(rng.random(n) * counts[school2, cohort.grade]).astype(np.int64)
    return Cohort(
        pid=cohort.pid,
        grade=cohort.grade,
        school=cohort.school,
        class_no=cohort.class_no,
        new_at_school=cohort.new_at_school,
        move_day=np.where(move, move_day, -1).astype(np.int32),
        school2=np.where(move, school2, cohort.school).astype(np.int16),
        class_no2=np.where(move, class2, cohort.class_no).astype(np.int16),
        end_day=end_day.astype(np.int32),
    )
