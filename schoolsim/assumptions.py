"""Every number the simulator assumes, in one place, with where it comes from.

The source material (``shared/seeds``: the HOGENT project "Angst voor de schoolpoort")
gives the shape of school refusal but few numbers. Each comment names where a value comes
from: "material" (the seeds, quoted), "rule" (the Flemish registration rules as the design
states them), "brief" (the simulator's specification), or "choice" (a modelling choice,
picked so that ordinary pupils miss about 5% of half-days and the warning signs stay weak
and noisy). Where the material gives a direction but no number, the direction is its and the
number a choice. ``docs/simulator.md`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumptions:
    """The simulator's parameters. Rates are per pupil and per school day unless named."""

    # --- the board -------------------------------------------------------------------
    class_size: int = 22  # choice: typical Flemish secondary class
    grade_weights: tuple[float, ...] = (1.05, 1.02, 1.0, 0.98, 0.97, 0.95)  # choice: attrition
    school_size_concentration: float = 8.0  # choice: Dirichlet, school sizes differ by ~+-30%
    p_female: float = 0.49  # choice
    p_gender_x: float = 0.003  # choice: "X" is rare
    p_ses_low: float = 0.25  # choice: share of pupils with a low-SES indicator
    p_sen: float = 0.10  # choice: special needs incl. autism spectrum, learning disorders
    p_chronic_condition: float = 0.012  # choice: pupils with a chronic illness
    p_repeat_year: float = 0.035  # choice: grade repetition
    p_leave_board_summer: float = 0.03  # choice: leave the board between school years
    p_change_school_summer: float = 0.03  # choice: change school within the board in summer
    p_transfer_midyear: float = 0.02  # choice: brief: "a few per cent transfer mid-year"
    p_leave_board_midyear: float = 0.01  # choice
    school_start_minutes: tuple[int, ...] = (495, 500, 505, 510)  # choice: 08:15-08:30
    am_end_minutes: int = 725  # choice: morning ends 12:05
    pm_start_minutes: int = 785  # choice: afternoon 13:05-15:55
    pm_end_minutes: int = 955

    # --- ordinary illness ------------------------------------------------------------
    illness_hazard: float = 0.0135  # choice: new illness episodes per school day
    illness_frailty_shape: float = 1.5  # choice: gamma frailty, mean 1 (some pupils often ill)
    # P(episode lasts 1, 2, ... 10 school days); mean ~2.3 days.
    illness_lengths: tuple[float, ...] = (
        0.42,
        0.25,
        0.14,
        0.06,
        0.05,
        0.03,
        0.02,
        0.01,
        0.01,
        0.01,
    )
    illness_monday: float = 1.15  # choice: complaints that start in the weekend
    illness_after_break: float = 1.2  # choice
    illness_sen: float = 1.15  # choice
    illness_ses_low: float = 1.15  # choice: illness (not refusal) is more common with low SES
    season_amplitude: float = 0.35  # choice: illness peaks in January, lowest in June
    flu_waves_per_school: tuple[float, ...] = (0.0, 0.7, 0.3)  # choice: P(0, 1, 2 waves)
    flu_amplitude: tuple[float, float] = (0.8, 2.2)  # choice: hazard x (1 + amplitude) at peak
    flu_width_days: tuple[float, float] = (4.0, 8.0)  # choice: sd of the wave, school days
    flu_class_shift_sd: float = 3.0  # choice: classes peak a few days apart
    flu_class_amplitude_sd: float = 0.6  # choice: lognormal spread between classes

    # --- parent notes and certificates (rule: DESIGN.md "Codes") ------------------------
    note_max_calendar_days: int = 3  # rule: a parent's note covers at most 3 days
    note_max_per_year: int = 4  # rule: at most 4 parent's notes a school year
    note_holiday_window_days: int = 7  # rule: no note in the week before/after a holiday
    p_doctor_anyway: float = 0.15  # choice: short illness certified all the same
    p_certificate_no_note: float = 0.6  # choice: short illness, notes used up -> D, else B
    p_certificate_holiday: float = 0.85  # choice: short illness next to a holiday -> D, else B
    # A single missed half-day (a partial day, sent home at noon): often no note is written,
    # and no doctor certifies half a day.
    p_note_half_day: float = 0.75  # choice
    p_certificate_half_day: float = 0.3  # choice
    p_certificate_long: float = 0.95  # choice: illness over 3 days -> D, else B

    # --- other ordinary absences and events -------------------------------------------
    excused_r_rate: float = 0.0015  # choice: R (funeral, court, ...) days
    excused_p_rate: float = 0.0010  # choice: P (personal, with the head's consent) days
    p_excused_half_day: float = 0.4  # choice
    unexcused_rate: float = 0.0004  # choice: a stray B half-day (overslept, no note)
    p_never_late: float = 0.5  # choice
    late_rate: float = 0.02  # choice: mean late mornings per day among the late-prone
    late_shape: float = 0.7  # choice: gamma; a few chronic late-comers
    late_ses_low: float = 1.3  # choice
    late_minutes_median: float = 7.0  # choice
    sickbay_rate: float = 0.005  # choice: ~1 visit a year on average
    sickbay_shape: float = 0.5  # choice: gamma; a few frequent visitors
    sickbay_sen: float = 1.4  # choice
    # P(back_to_class, sent_home, parents_called, other) after a visit
    sickbay_outcomes: tuple[float, ...] = (0.72, 0.13, 0.12, 0.03)  # choice
    p_bad_stretch: float = 0.06  # choice: ordinary pupils with a rough few weeks
    bad_stretch_days: tuple[int, int] = (10, 30)  # choice
    bad_stretch_strength: float = 0.6  # choice: relative to a refusal prodrome
    bad_stretch_illness: float = 2.0  # choice: illness hazard during a bad stretch

    # --- school refusal (material unless marked) ----------------------------------------
    # brief: ~2% onsets a year (material: "1-5% - onder de radar"); the rate is a choice
    # that gives 2% with the factors below.
    refusal_rate: float = 0.0138
    # material: "beginnende tienerjaren - overgang", "extra aandacht voor ... de eerstejaars":
    # highest in grade 1; the factors are choices.
    refusal_grade: tuple[float, ...] = (2.5, 1.4, 1.1, 0.9, 0.75, 0.65)
    refusal_sen: float = 2.0  # material: "ASS & leerstoornis - grotere kwetsbaarheid"
    refusal_new_at_school: float = 1.3  # material: risk factor "transitiemomenten"
    # material: "jongens = meisjes" and "SES niet": no gender, no SES factor at all.
    p_sudden: float = 0.25  # material: "plots / gradueel"; brief: 20-30% sudden
    prodrome_days: tuple[int, int] = (15, 40)  # brief: "several weeks" of warning signs
    prodrome_strength_sd: float = 0.6  # choice: lognormal; some prodromes are faint
    # material: "kan voorafgegaan worden door ... ziekte ... maar is geen voorwaarde"
    p_after_illness: float = 0.3  # choice
    trigger_illness_days: tuple[int, int] = (2, 5)  # choice
    # material (Boris): "Na de eerste twee maanden in het middelbaar": few onsets in the
    # first weeks, full hazard after about two months. Numbers: choice.
    onset_early_days: int = 20
    onset_ramp_days: int = 40
    onset_early_level: float = 0.25
    onset_after_holiday: float = 2.0  # brief: "after a holiday"; x2 is a choice
    onset_after_holiday_days: int = 5  # choice
    onset_end_of_year: float = 0.4  # choice: few new onsets in the last weeks (exams)
    onset_end_days: int = 15
    # material: "meestal progressief wat kan leiden tot een volledige schoolafwezigheid
    # (soms van lange duur)"; the shape and numbers are choices.
    escalation_days: tuple[float, float] = (15.0, 45.0)  # choice: time constant, school days
    severity_sd: float = 0.45  # choice: lognormal severity; mild cases stay partial
    spell_max_days: float = 15.0  # choice: mean spell length when fully escalated
    gap_max_days: float = 10.0  # choice: mean days at school between spells at onset
    sudden_first_spell: tuple[int, int] = (3, 10)  # choice
    p_recovery: float = 0.35  # choice: share that returns to school within the year
    recovery_days: tuple[int, int] = (40, 120)  # choice: school days after onset
    p_relapse_spell: float = 0.15  # choice: share of spells kept after a return
    relapse_days: float = 2.0  # choice: mean length of such a relapse, school days
    # material: "Hoe langer iemand afwezig is, hoe moeilijker de terugkeer".
    p_carry_over: float = 0.65  # choice: unresolved refusal continues after the summer
    carry_over_attempt_days: tuple[int, int] = (3, 15)  # choice: a fresh start in September
    # P(a refusal absence run without a note gets a certificate); falls over time.
    # Material: refusal shows as justified absence ("ALLE afwezigheden, niet enkel B-codes"):
    # the GP certifies the somatic complaints at first; B-codes come late.
    refusal_cert_long: tuple[float, float] = (0.97, 0.6)  # choice: (at onset, ~7 months on)
    refusal_cert_short: tuple[float, float] = (0.92, 0.3)  # choice
    refusal_cert_decay_days: float = 150.0  # choice
    p_doctor_anyway_refusal: float = 0.25  # choice: somatic complaints -> the GP
    # Material risk factor "beperkte samenwerking school-thuis": some families do not
    # justify the absences, so B-codes come early for them.
    p_low_cooperation: float = 0.25  # choice: share of refusing pupils' families
    low_cooperation_note: float = 0.4  # choice: multiplies P(a note is written)
    low_cooperation_certificate: float = 0.4  # choice: multiplies P(a certificate)
    # Warning signs, material phase 1 ("signalen opmerken"): per school day, (level when the
    # prodrome starts, level added by its end). All choices; kept weak on purpose.
    prodrome_absent: tuple[float, float] = (0.02, 0.10)  # a day "ill" (parent's note)
    prodrome_partial: tuple[float, float] = (0.01, 0.05)  # "maar een paar uurtjes naar school"
    prodrome_late: tuple[float, float] = (0.03, 0.10)  # "kent het secretariaat als laatkomer"
    prodrome_sickbay: tuple[float, float] = (0.015, 0.05)  # "ligt vaak op het ziekenbedje"
    escalation_partial: float = 0.06  # on days at school once refusal has started
    escalation_late: float = 0.06
    escalation_sickbay: float = 0.04
    # material: "Zit er een bepaalde systematiek in de afwezigheden?"; the design names
    # weekdays and the day after a holiday. Factors: choice.
    pattern_monday: float = 1.8
    pattern_after_break: float = 2.2
    pattern_friday: float = 1.1
    pattern_wednesday: float = 0.8
    pattern_other: float = 0.9
    # ... for visits that are a warning sign: more often home, or a call home (material:
    # "vaak naar huis bellen")
    sickbay_outcomes_refusal: tuple[float, ...] = (0.35, 0.35, 0.25, 0.05)
    refusal_late_minutes_median: float = 20.0

    # --- truancy, chronic illness, withdrawal, exclusion (choice unless marked) ----------
    truancy_rate: float = 0.012
    truancy_grade: tuple[float, ...] = (0.1, 0.4, 0.9, 1.3, 1.6, 1.7)  # older pupils
    truancy_ses_low: float = 1.8
    truancy_male: float = 1.4
    truancy_sen: float = 1.2
    truancy_persist: float = 0.5  # P(truant again the next year)
    truancy_level: tuple[float, float] = (0.04, 0.15)  # skip probability per half-day
    truancy_ramp_days: float = 40.0
    truancy_pm: float = 2.0  # afternoons more than mornings
    truancy_monday_friday: float = 1.3
    truancy_full_day_share: float = 0.3
    truancy_note_share: float = 0.08  # some skipped days get a note all the same
    truancy_late: float = 0.10
    chronic_active: float = 0.7  # P(a pupil with a chronic condition has spells this year)
    chronic_spells_mean: float = 1.5  # 1 + Poisson(mean)
    chronic_spell_days: tuple[int, int] = (5, 30)
    chronic_frailty: float = 2.0
    withdrawal_rate: float = 0.002
    withdrawal_spell_days: tuple[int, int] = (5, 40)
    withdrawal_gap_days: tuple[int, int] = (2, 15)
    withdrawal_p_code_share: float = 0.3  # P instead of B
    exclusion_rate: float = 0.004
    exclusion_grade: tuple[float, ...] = (0.5, 0.8, 1.0, 1.2, 1.2, 1.0)
    exclusion_male: float = 2.0
    exclusion_ses_low: float = 1.5
    exclusion_y_days: tuple[int, int] = (1, 3)  # preventive suspension
    p_exclusion_u: float = 0.6
    exclusion_u_days: tuple[int, int] = (2, 5)  # temporary exclusion
    p_exclusion_t: float = 0.15
    exclusion_t_days: tuple[int, int] = (3, 8)  # definitive exclusion, then another school
    exclusion_late: float = 2.0  # multiplies the late-arrival propensity

    # --- care cases ----------------------------------------------------------------------
    case_b_halfdays: int = 5  # rule/brief: schools act at 5 B half-days (DESIGN.md)
    case_long_days: int = 10  # choice: "long absence": 10 school days absent ...
    case_long_window: int = 15  # ... within 15 school days (two weeks in a row count too)
    case_attentive_per_day: float = 0.006  # choice: ~3%/week noticed without B or long absence
    case_delay_days: tuple[int, float] = (3, 5.0)  # choice: minimum + geometric(mean), school days
    p_refusal_typed_truancy: float = 0.12  # choice: a B-triggered refusal read as truancy
    p_onset_recorded: float = 0.8  # brief: onset_on blank for ~20%
    p_case_truancy_ordinary: float = 0.35  # ordinary pupil at 5 B half-days
    p_case_illness_long: float = 0.15  # ordinary pupil with a long absence
    p_case_chronic: float = 0.5
    p_case_withdrawal: float = 0.9
    p_case_exclusion: float = 0.8
    other_case_rate: float = 0.015  # per pupil-year: learning, family, wellbeing cases
    p_onset_recorded_other: float = 0.3

    # --- one school's software records late arrivals as code L ---------------------------
    late_as_code_in_last_school: bool = True


DEFAULT = Assumptions()
"""The assumptions `schoolsim.simulate` uses unless told otherwise."""
