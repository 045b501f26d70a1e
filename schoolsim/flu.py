"""Winter flu waves: a few weeks of raised illness, shared by a school, peaking per class.

Each school gets 0-2 waves between 1 December and 10 March. A class follows its school's
wave a few days earlier or later and more or less strongly, so illness is correlated
within a class, and somewhat within a school.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from schoolsim.assumptions import Assumptions
from schoolsim.days import YearDays

Array = npt.NDArray[Any]


def flu_matrix(
    rng: np.random.Generator, days: YearDays, class_school: Array, n_schools: int, a: Assumptions
) -> Array:
    """Multiplier of the illness hazard per class and school day.

    Parameters
    ----------
    rng : numpy.random.Generator
    days : YearDays
    class_school : ndarray of int, shape (C,)
        School of each class.
    n_schools : int
    a : Assumptions

    Returns
    -------
    ndarray of float32, shape (C, D)
        1 outside waves, up to about 1 + amplitude at a class's peak.
    """
    lo = np.datetime64(f"{days.year}-12-01").astype(np.int64)
    hi = np.datetime64(f"{days.year + 1}-03-10").astype(np.int64)
    window = np.flatnonzero((days.epoch >= lo) & (days.epoch <= hi))
    probs = np.asarray(a.flu_waves_per_school) / np.sum(a.flu_waves_per_school)
    n_waves = rng.choice(probs.size, size=n_schools, p=probs)
    d = np.arange(days.n_days, dtype=np.float32)[None, :]
    out = np.ones((class_school.size, days.n_days), np.float32)
    if window.size == 0:
        return out
    sd = a.flu_class_amplitude_sd
    for wave in range(probs.size - 1):  # at most a couple of waves: a loop over wave number
        active = n_waves[class_school] > wave
        centre = rng.choice(window, size=n_schools).astype(np.float64)[class_school]
        amplitude = rng.uniform(*a.flu_amplitude, size=n_schools)[class_school]
        width = rng.uniform(*a.flu_width_days, size=n_schools)[class_school]
        centre += rng.normal(0.0, a.flu_class_shift_sd, size=class_school.size)
        amplitude *= np.exp(rng.normal(-sd * sd / 2, sd, size=class_school.size))
        bump = np.exp(-0.5 * ((d - centre[:, None]) / width[:, None]) ** 2)
        out += (np.where(active, amplitude, 0.0)[:, None] * bump).astype(np.float32)
    return out
