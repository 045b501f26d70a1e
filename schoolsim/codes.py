"""Why a pupil misses a half-day (reasons) and what the school registers (codes).

The simulator first decides *why* a slot is missed; `schoolsim.coding` then turns the
reasons into the school's codes, applying the parent's-note rules. Codes are those of the
``flanders`` profile (features/profiles/flanders.toml).
"""

from __future__ import annotations

import numpy as np

# Registered codes: index into CODE_LABELS.
NONE, Z, D, B, R, P, T, U, Y, V, L = range(11)
CODE_LABELS = ("", "Z", "D", "B", "R", "P", "T", "U", "Y", "V", "L")

# Codes for which a pupil misses the whole half-day (V and L are partial).
FULL_ABSENCE_CODES = (Z, D, B, R, P, T, U, Y)

# Reasons, in the order they are painted: a later reason overwrites an earlier one.
PRESENT = 0
ILL = 1  # ordinary illness: parents report it; note, certificate or B by the rules
AVOID = 2  # school refusal: reported as illness, coded by the same rules
CERT = 3  # long illness of a chronically ill pupil: always certified
TRUANT = 4
UNEXCUSED = 5  # a stray unjustified half-day
WITHDRAW_B = 6
WITHDRAW_P = 7
EXCUSED_R = 8
EXCUSED_P = 9
EXCL_Y = 10
EXCL_U = 11
EXCL_T = 12
EARLY = 13  # left during the half-day
LATE_CODE = 14  # late arrival registered as code L (one school)

# Reason -> code for reasons that need no rule; ILL and AVOID are decided run by run.
REASON_CODE = np.array([NONE, NONE, NONE, D, B, B, B, P, R, P, Y, U, T, V, L], dtype=np.uint8)

POOL_REASONS = (ILL, AVOID)
