"""Tests for the school-board simulator (schoolsim/).

One 5,000-pupil, 3-year board (seed 1) serves the checks of contract, calendar and rates;
small boards check determinism. The rate bands are the ones docs/simulator.md promises.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.school.calendar import flemish_calendar, school_year_of
from schoolsim import Simulation, SimulationSettings, simulate, write_export

SETTINGS = SimulationSettings(students=5000, schools=4, years=3, last_year=2024, seed=1)
COLUMNS = {
    "enrolments": ["student_id", "school_id", "grade", "start_date", "class_id", "end_date"],
    "absences": ["student_id", "date", "period", "code", "minutes"],
    "late_arrivals": ["student_id", "date", "time", "minutes_late"],
    "sick_bay_visits": ["student_id", "date", "time", "minutes", "outcome"],
    "students": ["student_id", "gender", "ses_low", "sen"],
    "care_cases": ["student_id", "opened_on", "case_type", "onset_on"],
}
FLANDERS_CODES = {"Z", "D", "B", "R", "P", "T", "U", "Y", "V", "L"}
MISSED = ["Z", "D", "B", "R", "P", "T", "U", "Y", "V"]


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(SETTINGS)


@pytest.fixture(scope="module")
def calendar() -> pl.DataFrame:
    """The built-in calendar over the simulated years, with summer on both sides."""
    return flemish_calendar(dt.date(2022, 7, 1), dt.date(2025, 8, 31))


@pytest.fixture(scope="module")
def slots(calendar: pl.DataFrame) -> pl.DataFrame:
    """Every registrable half-day in order: date, period, slot (a running number)."""
    days = calendar.filter(pl.col("school_day")).select("date", "periods")
    am = days.select("date", pl.lit("AM").alias("period"))
    pm = days.filter(pl.col("periods") == 2).select("date", pl.lit("PM").alias("period"))
    return pl.concat([am, pm]).sort("date", "period").with_row_index("slot")


@pytest.fixture(scope="module")
def pupil_years(sim: Simulation) -> pl.DataFrame:
    """The truth per pupil-year with the pupil's attributes."""
    return sim.truth.join(sim.tables["students"], on="student_id").with_columns(
        ((pl.col("trajectory") == "refusal") & ~pl.col("carried_over")).alias("new_refusal")
    )


def _mean(values: pl.Series) -> float:
    """Mean of a numeric or boolean series, as a float."""
    mean = values.cast(pl.Float64).mean()
    assert isinstance(mean, float)
    return mean


def _with_year(frame: pl.DataFrame, column: str = "date") -> pl.DataFrame:
    """Add the school year of a column of school days (September to June)."""
    day = pl.col(column)
    year = (day.dt.year() - (day.dt.month() < 9).cast(pl.Int32)).cast(pl.Int16)
    return frame.with_columns(year.alias("school_year"))


# --- contract -----------------------------------------------------------------------------


def test_tables_have_exactly_the_contract_columns(sim: Simulation) -> None:
    assert {name: frame.columns for name, frame in sim.tables.items()} == COLUMNS
    assert all(frame.height > 0 for frame in sim.tables.values())


def test_tables_pass_the_input_contract(sim: Simulation) -> None:
    from features.canonical.contract import MODELS

    for name, frame in sim.tables.items():
        MODELS[name].validate(frame, lazy=True)


def test_values_are_in_their_domains(sim: Simulation) -> None:
    t = sim.tables
    assert set(t["absences"]["code"].unique()) <= FLANDERS_CODES
    assert set(t["absences"]["period"].unique()) == {"AM", "PM"}
    assert t["enrolments"]["grade"].is_between(1, 6).all()
    assert t["enrolments"]["student_id"].str.contains(r"^L\d{7}$").all()
    assert t["enrolments"]["school_id"].str.contains(r"^SCH\d{2}$").all()
    classes = t["enrolments"].select(
        pl.col("class_id").str.head(1) == pl.col("grade").cast(pl.String)
    )
    assert classes.to_series().all()
    assert set(t["students"]["gender"].unique()) <= {"F", "M", "X"}
    assert t["students"]["student_id"].is_unique().all()
    assert set(t["sick_bay_visits"]["outcome"].unique()) == {
        "back_to_class",
        "sent_home",
        "parents_called",
        "other",
    }
    assert t["late_arrivals"]["time"].str.contains(r"^0[89]:[0-5]\d$|^1[01]:[0-5]\d$").all()


def test_one_row_per_absent_half_day_and_one_visit_a_day(sim: Simulation) -> None:
    t = sim.tables
    assert not t["absences"].select("student_id", "date", "period").is_duplicated().any()
    assert not t["late_arrivals"].select("student_id", "date").is_duplicated().any()
    assert not t["sick_bay_visits"].select("student_id", "date").is_duplicated().any()


def test_every_pupil_in_students_and_ids_stable(sim: Simulation) -> None:
    enrolled = set(sim.tables["enrolments"]["student_id"])
    assert enrolled == set(sim.tables["students"]["student_id"])
    for name in ("absences", "late_arrivals", "sick_bay_visits", "care_cases"):
        assert set(sim.tables[name]["student_id"]) <= enrolled
    # the same pupil keeps the same id over the years
    years = sim.truth.group_by("student_id").len()
    assert years["len"].max() == SETTINGS.years


# --- enrolments ---------------------------------------------------------------------------


def test_enrolments_follow_the_school_years(sim: Simulation) -> None:
    enrol = _with_year(sim.tables["enrolments"], "start_date")
    per_year = enrol.group_by("school_year").agg(pl.col("student_id").n_unique())
    for n in per_year["student_id"]:
        assert abs(n - SETTINGS.students) < 0.1 * SETTINGS.students
    # only the last year has open rows; every earlier row ends in its own school year
    open_rows = enrol.filter(pl.col("end_date").is_null())
    assert set(open_rows["school_year"]) == {SETTINGS.last_year}
    ended = enrol.filter(pl.col("end_date").is_not_null())
    assert (
        ended["end_date"].map_elements(school_year_of, return_dtype=pl.Int64)
        == ended["school_year"]
    ).all()


def test_grades_advance_and_grade_1_intake(sim: Simulation) -> None:
    first = (
        _with_year(sim.tables["enrolments"], "start_date")
        .sort("start_date")
        .group_by("student_id", "school_year")
        .agg(pl.col("grade").first())
    )
    nxt = first.join(
        first.with_columns(pl.col("school_year") - 1),
        on=["student_id", "school_year"],
        suffix="_next",
    )
    step = (nxt["grade_next"] - nxt["grade"]).value_counts().sort("grade_next")
    steps = dict(zip(step["grade_next"], step["count"], strict=True))
    assert set(steps) <= {0, 1}
    assert 0.01 < steps.get(0, 0) / nxt.height < 0.08  # a few repeat the year
    assert (
        not first.filter(pl.col("grade") == 6)
        .join(nxt.filter(pl.col("grade") == 6, pl.col("grade_next") != 6), on="student_id")
        .height
    )
    intake = first.join(
        first.with_columns(pl.col("school_year") + 1), on=["student_id", "school_year"], how="anti"
    ).filter(pl.col("school_year") > 2022)
    share_g1 = (intake["grade"] == 1).sum() / SETTINGS.students / (SETTINGS.years - 1)
    assert 1 / 8 < share_g1 < 1 / 5  # about a sixth of the board each year


def test_mid_year_transfers_start_the_next_school_day(
    sim: Simulation, calendar: pl.DataFrame
) -> None:
    enrol = sim.tables["enrolments"].sort("student_id", "start_date")
    school_days = calendar.filter(pl.col("school_day"))["date"].to_list()
    following = dict(itertools.pairwise(school_days))
    pairs = enrol.with_columns(
        pl.col("start_date").shift(-1).over("student_id").alias("next_start"),
        pl.col("school_id").shift(-1).over("student_id").alias("next_school"),
    ).filter(
        pl.col("end_date").is_not_null()
        & (pl.col("next_start") <= pl.col("end_date") + dt.timedelta(days=10))
    )
    assert pairs.height > 0.01 * SETTINGS.students * SETTINGS.years
    for end, start in zip(pairs["end_date"], pairs["next_start"], strict=True):
        assert following[end] == start
    assert (pairs["school_id"] != pairs["next_school"]).all()
    # some pupils leave the board during a year
    left = (
        enrol.filter(pl.col("end_date").is_not_null())
        .group_by("student_id")
        .agg(pl.col("end_date").max())
    )
    last_days = {
        school_days[i]
        for i in range(1, len(school_days))
        if school_days[i].month == 6
        and (i + 1 == len(school_days) or school_days[i + 1].month == 9)
    }
    assert left.filter(~pl.col("end_date").is_in(list(last_days))).height > 0


# --- events on the calendar ------------------------------------------------------------------


@pytest.mark.parametrize("table", ["absences", "late_arrivals", "sick_bay_visits"])
def test_events_only_on_school_days_within_enrolment(
    sim: Simulation, calendar: pl.DataFrame, table: str
) -> None:
    events = sim.tables[table].select("student_id", "date").unique()
    school_days = calendar.filter(pl.col("school_day")).select("date")
    assert events.join(school_days, on="date", how="anti").height == 0
    enrol = sim.tables["enrolments"].with_columns(pl.col("end_date").fill_null(dt.date(2100, 1, 1)))
    covered = (
        events.join(enrol, on="student_id")
        .filter(pl.col("date").is_between(pl.col("start_date"), pl.col("end_date")))
        .select("student_id", "date")
        .unique()
    )
    assert covered.height == events.height


def test_no_afternoon_on_wednesday(sim: Simulation) -> None:
    ab = sim.tables["absences"]
    assert ab.filter((pl.col("period") == "PM") & (pl.col("date").dt.weekday() == 3)).is_empty()
    sb = sim.tables["sick_bay_visits"]
    assert sb.filter((pl.col("date").dt.weekday() == 3) & (pl.col("time") >= "12:05")).is_empty()


def test_late_arrivals_and_visits_only_when_at_school(sim: Simulation) -> None:
    ab = sim.tables["absences"].filter(pl.col("code").is_in(MISSED))
    am_absent = ab.filter(pl.col("period") == "AM").select("student_id", "date")
    late = sim.tables["late_arrivals"].select("student_id", "date")
    assert late.join(am_absent, on=["student_id", "date"]).is_empty()
    sb = sim.tables["sick_bay_visits"].with_columns(
        pl.when(pl.col("time") < "12:05").then(pl.lit("AM")).otherwise(pl.lit("PM")).alias("period")
    )
    missed = ab.filter(pl.col("code") != "V").select("student_id", "date", "period")
    assert sb.join(missed, on=["student_id", "date", "period"]).is_empty()


def test_sent_home_misses_the_rest_of_the_day(sim: Simulation) -> None:
    sent = sim.tables["sick_bay_visits"].filter(pl.col("outcome") == "sent_home")
    ab = sim.tables["absences"]
    v = ab.filter(pl.col("code") == "V").select("student_id", "date", "period")
    sent = sent.with_columns(
        pl.when(pl.col("time") < "12:05").then(pl.lit("AM")).otherwise(pl.lit("PM")).alias("period")
    )
    assert sent.join(v, on=["student_id", "date", "period"], how="anti").is_empty()
    morning = sent.filter((pl.col("period") == "AM") & (pl.col("date").dt.weekday() != 3))
    pm = ab.filter(pl.col("period") == "PM").select("student_id", "date")
    assert morning.join(pm, on=["student_id", "date"], how="anti").is_empty()


# --- the parent's-note rules ----------------------------------------------------------------


def _z_runs(sim: Simulation, slots: pl.DataFrame) -> pl.DataFrame:
    """Runs of consecutive registrable half-days coded Z, per pupil."""
    z = sim.tables["absences"].filter(pl.col("code") == "Z").join(slots, on=["date", "period"])
    z = _with_year(z.sort("student_id", "slot"))
    new = (pl.col("slot").diff().over("student_id") != 1).fill_null(True)
    z = z.with_columns(new.cum_sum().over("student_id").alias("run"))
    return z.group_by("student_id", "run").agg(
        pl.col("school_year").first(),
        pl.col("date").n_unique().alias("days"),
        pl.col("date").min().alias("first"),
        pl.col("date").max().alias("last"),
    )


def test_parent_notes_cover_at_most_three_days(sim: Simulation, slots: pl.DataFrame) -> None:
    runs = _z_runs(sim, slots)
    assert (runs["days"] <= 3).all()
    assert ((runs["last"] - runs["first"]).dt.total_days() <= 2).all()  # 3 calendar days


def test_at_most_four_parent_notes_a_year(sim: Simulation, slots: pl.DataFrame) -> None:
    per_year = _z_runs(sim, slots).group_by("student_id", "school_year").len()
    assert (per_year["len"] <= 4).all()
    assert (per_year["len"] == 4).sum() > 0  # the limit binds for some pupils


def test_no_parent_note_next_to_a_holiday(sim: Simulation, calendar: pl.DataFrame) -> None:
    vacations = (
        calendar.filter(pl.col("holiday").str.ends_with("vakantie"))
        .group_by("holiday", "school_year")
        .agg(pl.col("date").min().alias("start"), pl.col("date").max().alias("end"))
    )
    z = sim.tables["absences"].filter(pl.col("code") == "Z").select("date").unique()
    week = dt.timedelta(days=7)
    near = z.join(vacations, how="cross").filter(
        pl.col("date").is_between(pl.col("start") - week, pl.col("start"))
        | pl.col("date").is_between(pl.col("end"), pl.col("end") + week)
    )
    assert near.is_empty()


# --- rates the docs promise -----------------------------------------------------------------


def test_refusal_onsets_about_two_per_cent_a_year(pupil_years: pl.DataFrame) -> None:
    rate = pupil_years.group_by("school_year").agg(pl.col("new_refusal").mean())
    assert rate["new_refusal"].is_between(0.013, 0.029).all()  # ~100 onsets a year: noisy
    assert 0.017 < _mean(pupil_years["new_refusal"]) < 0.024


def _rate(frame: pl.DataFrame, mask: pl.Expr) -> tuple[float, int]:
    sub = frame.filter(mask)
    return _mean(sub["new_refusal"]), sub.height


def test_refusal_hazard_highest_in_grade_1_and_for_sen(pupil_years: pl.DataFrame) -> None:
    g1, _ = _rate(pupil_years, pl.col("grade") == 1)
    rest, _ = _rate(pupil_years, pl.col("grade") > 1)
    assert g1 > 1.6 * rest
    sen, _ = _rate(pupil_years, pl.col("sen"))
    not_sen, _ = _rate(pupil_years, ~pl.col("sen"))
    assert sen > 1.3 * not_sen  # the hazard ratio is 2; ~150 SEN onsets leave some noise


@pytest.mark.parametrize(
    ("name", "group"),
    [("ses", pl.col("ses_low")), ("gender", pl.col("gender") == "F")],
)
def test_refusal_has_no_ses_or_gender_link(
    pupil_years: pl.DataFrame, name: str, group: pl.Expr
) -> None:
    p1, n1 = _rate(pupil_years, group)
    p0, n0 = _rate(pupil_years, ~group)
    pooled = (p1 * n1 + p0 * n0) / (n1 + n0)
    z = (p1 - p0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    assert abs(z) < 2.5, name
    assert 0.7 < p1 / p0 < 1.4, name


def test_some_refusals_are_sudden(pupil_years: pl.DataFrame) -> None:
    new = pupil_years.filter(pl.col("new_refusal"))
    assert 0.15 < _mean(new["sudden"]) < 0.4
    assert new.filter(~pl.col("sudden"))["prodrome_start"].null_count() == 0
    assert (new["prodrome_start"] <= new["onset"]).all()


def _missed_share(sim: Simulation, calendar: pl.DataFrame, trajectory: str) -> float:
    """Share of the registrable half-days a trajectory's pupils missed (V counts)."""
    days = calendar.filter(pl.col("school_day"))
    cum = days.select("date", pl.col("periods").cast(pl.Int64).cum_sum().alias("cum"))
    last = days.group_by("school_year").agg(pl.col("date").max().alias("last"))
    enrol = (
        _with_year(sim.tables["enrolments"], "start_date")
        .join(last, on="school_year")
        .with_columns(pl.col("end_date").fill_null(pl.col("last")))
    )
    spans = enrol.join(cum, left_on="start_date", right_on="date").join(
        cum, left_on="end_date", right_on="date", suffix="_end"
    )
    first_periods = days.select("date", "periods")
    spans = spans.join(first_periods, left_on="start_date", right_on="date").with_columns(
        (pl.col("cum_end") - pl.col("cum") + pl.col("periods")).alias("registrable")
    )
    who = sim.truth.filter(pl.col("trajectory") == trajectory).select("student_id", "school_year")
    registrable = int(spans.join(who, on=["student_id", "school_year"])["registrable"].sum())
    missed = _with_year(sim.tables["absences"].filter(pl.col("code").is_in(MISSED)))
    return missed.join(who, on=["student_id", "school_year"]).height / registrable


def test_ordinary_absence_rate(sim: Simulation, calendar: pl.DataFrame) -> None:
    assert 0.04 < _missed_share(sim, calendar, "ordinary") < 0.07
    assert _missed_share(sim, calendar, "refusal") > 0.25


def test_winter_has_more_illness(sim: Simulation) -> None:
    ill = sim.tables["absences"].filter(pl.col("code").is_in(["Z", "D"]))
    by_month = ill.group_by(pl.col("date").dt.month().alias("m")).len()
    counts = dict(zip(by_month["m"], by_month["len"], strict=True))
    assert counts[1] + counts[2] > 1.3 * (counts[10] + counts[5])


def test_truancy_is_b_codes_of_older_pupils(sim: Simulation) -> None:
    truants = sim.truth.filter(pl.col("trajectory") == "truancy")
    assert _mean(truants["grade"] >= 3) > 0.85
    ab = _with_year(sim.tables["absences"]).join(
        truants.select("student_id", "school_year"), on=["student_id", "school_year"]
    )
    assert _mean(ab["code"] == "B") > 0.5
    assert _mean(ab.filter(pl.col("code") == "B")["period"] == "PM") > 0.5
    visits = _with_year(sim.tables["sick_bay_visits"]).join(
        truants.select("student_id", "school_year"), on=["student_id", "school_year"]
    )
    assert visits.is_empty()


# --- care cases -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def refusal_cases(sim: Simulation) -> pl.DataFrame:
    """School-refusal cases of new refusals, with the truth and B-codes that year."""
    cases = _with_year(sim.tables["care_cases"], "opened_on").filter(
        pl.col("case_type") == "school_refusal"
    )
    truth = sim.truth.filter((pl.col("trajectory") == "refusal") & ~pl.col("carried_over"))
    b = _with_year(sim.tables["absences"].filter(pl.col("code") == "B")).select(
        "student_id", "school_year", "date"
    )
    joined = cases.join(
        truth.select("student_id", "school_year", "onset"), on=["student_id", "school_year"]
    )
    return (
        joined.join(b, on=["student_id", "school_year"], how="left")
        .group_by("student_id", "school_year", "opened_on", "onset_on", "onset")
        .agg(
            (pl.col("date") < pl.col("opened_on")).sum().alias("b_before_case"),
            (pl.col("date") < pl.col("onset")).sum().alias("b_before_onset"),
        )
    )


def test_refusal_cases_open_weeks_after_onset(refusal_cases: pl.DataFrame) -> None:
    delay = (refusal_cases["opened_on"] - refusal_cases["onset"]).dt.total_days()
    assert (delay > 0).all()
    assert 21 <= _mean(delay.sort().gather([delay.len() // 2])) <= 90  # the median
    recorded = refusal_cases.filter(pl.col("onset_on").is_not_null())
    assert (recorded["onset_on"] == recorded["onset"]).all()
    assert 0.1 < refusal_cases["onset_on"].null_count() / refusal_cases.height < 0.3


def test_b_codes_come_late_for_refusal(refusal_cases: pl.DataFrame) -> None:
    # The Flemish rule (5+ B half-days) rarely fires before the problem starts, and most
    # refusal cases are opened for other reasons than that rule.
    assert _mean(refusal_cases["b_before_onset"] >= 5) < 0.15
    assert _mean(refusal_cases["b_before_case"] >= 5) < 0.5


def test_most_refusals_get_a_case_not_all(sim: Simulation, pupil_years: pl.DataFrame) -> None:
    new = pupil_years.filter(pl.col("new_refusal")).height
    cases = sim.tables["care_cases"].filter(pl.col("case_type") == "school_refusal").height
    assert 0.5 * new < cases < new


def test_case_onsets_come_before_the_case(sim: Simulation) -> None:
    cases = sim.tables["care_cases"]
    assert cases.filter(pl.col("onset_on") >= pl.col("opened_on")).is_empty()
    assert 0.1 < cases["onset_on"].null_count() / cases.height < 0.4


def test_truancy_cases_after_five_b_half_days(sim: Simulation) -> None:
    cases = _with_year(sim.tables["care_cases"], "opened_on").filter(
        pl.col("case_type") == "truancy"
    )
    b = _with_year(sim.tables["absences"].filter(pl.col("code") == "B"))
    counted = (
        cases.join(b, on=["student_id", "school_year"], how="left")
        .group_by("student_id", "opened_on")
        .agg((pl.col("date") < pl.col("opened_on")).sum().alias("b"))
    )
    assert (counted["b"] >= 5).all()


def test_warning_signs_are_weak(sim: Simulation, pupil_years: pl.DataFrame) -> None:
    # Most pupils with sick-bay visits or parent's notes never develop refusal.
    for frame in (
        sim.tables["sick_bay_visits"],
        sim.tables["absences"].filter(pl.col("code") == "Z"),
    ):
        frequent = (
            _with_year(frame).group_by("student_id", "school_year").len().filter(pl.col("len") >= 2)
        )
        hit = frequent.join(pupil_years, on=["student_id", "school_year"])["new_refusal"]
        assert _mean(hit) < 0.15
    # ... and ordinary pupils have rough stretches too.
    assert _mean(pupil_years.filter(pl.col("trajectory") == "ordinary")["bad_stretch"]) > 0.03


# --- one school writes late arrivals as code L ------------------------------------------------


def test_one_school_registers_late_as_code_l(sim: Simulation) -> None:
    enrol = sim.tables["enrolments"].with_columns(pl.col("end_date").fill_null(dt.date(2100, 1, 1)))

    def schools(frame: pl.DataFrame) -> set[str]:
        at = frame.join(enrol, on="student_id").filter(
            pl.col("date").is_between(pl.col("start_date"), pl.col("end_date"))
        )
        return set(at["school_id"])

    last = f"SCH{SETTINGS.schools:02d}"
    assert schools(sim.tables["absences"].filter(pl.col("code") == "L")) == {last}
    assert last not in schools(sim.tables["late_arrivals"])


# --- determinism and export -------------------------------------------------------------------


def test_same_seed_same_tables_other_seed_differs(tmp_path: Path) -> None:
    small = SimulationSettings(students=600, schools=2, years=2, seed=7)
    a, b = simulate(small), simulate(small)
    for name in a.tables:
        assert_frame_equal(a.tables[name], b.tables[name])
    assert_frame_equal(a.truth, b.truth)
    pa, pb = write_export(a, tmp_path / "a"), write_export(b, tmp_path / "b")
    assert all(pa[k].read_bytes() == pb[k].read_bytes() for k in pa)
    other = simulate(SimulationSettings(students=600, schools=2, years=2, seed=8))
    assert not other.tables["absences"].equals(a.tables["absences"])


def test_export_writes_the_contract_tables_only(sim: Simulation, tmp_path: Path) -> None:
    small = simulate(SimulationSettings(students=300, years=1, seed=2))
    paths = write_export(small, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.csv" for n in COLUMNS)
    for name, path in paths.items():
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[0] == ";".join(COLUMNS[name])
        back = pl.read_csv(path, separator=";", infer_schema=False)
        assert back.height == small.tables[name].height
    enrol = pl.read_csv(paths["enrolments"], separator=";", infer_schema=False)
    assert enrol["start_date"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert (enrol["end_date"].is_null()).any()  # blank = still enrolled


@pytest.mark.parametrize("bad", [{"students": 0}, {"years": 0}, {"last_year": 2040}])
def test_bad_settings_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"."):
        SimulationSettings(**bad)


def test_tiny_and_single_school_boards_work() -> None:
    sim = simulate(SimulationSettings(students=30, schools=1, years=2, seed=3))
    assert sim.tables["enrolments"]["school_id"].unique().to_list() == ["SCH01"]
    assert "L" not in set(sim.tables["absences"]["code"])
