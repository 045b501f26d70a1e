from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.build import KEY_COLUMNS, META_COLUMNS, feature_table
from features.catalog import CATALOG, FAMILIES
from features.running import look_up
from features.school.calendar import flemish_calendar
from features.windows import between, running_lookups
from tests.features.builders import AS_OF, EXPORT, features_at, prepared, row

P1 = row(features_at(), "P1")
P2 = row(features_at(), "P2")
P3 = row(features_at(), "P3")


def test_the_table_and_the_catalog_agree_column_for_column() -> None:
    table = features_at()
    assert table.columns == [*KEY_COLUMNS, *META_COLUMNS, *[f.name for f in CATALOG]]
    assert len({f.name for f in CATALOG}) == len(CATALOG)
    for feature in CATALOG:
        assert feature.family in FAMILIES
        assert feature.direction in (-1, 0, 1)
        assert feature.en and feature.nl and feature.unit
        assert table[feature.name].null_count() == 0, feature.name


def test_only_pupils_enrolled_on_the_as_of_date_one_row_each() -> None:
    table = features_at()
    assert table.height == 3
    assert table["as_of"].unique().to_list() == [AS_OF]
    assert (P1["school_id"], P1["class_key"], P1["grade"]) == ("S1", "1A", 1)
    assert features_at(dt.date(2024, 8, 26)).height == 0  # summer: nobody enrolled yet


def test_a_pupil_with_no_events_gets_zero_everywhere() -> None:
    features = {f.name for f in CATALOG if f.family not in ("context", "transition")}
    assert all(P2[name] == 0 for name in features)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("absence_rate_1w", 5 / 9),
        ("absence_rate_2w", 5 / 18),
        ("absence_rate_4w", 6 / 36),
        ("absence_rate_8w", 6 / 45),  # not enrolled before 2 September: 5 weeks count
        ("absence_rate_ytd", 6 / 45),
        ("absent_halfdays_ytd", 6),
        ("partial_days_4w", 2),  # the B morning, and being sent home on 3 October
        ("partial_days_ytd", 2),
        ("longest_spell_ytd", 3),
        ("spells_ytd", 1),
        ("current_spell_days", 0),  # back at school on Thursday 3 October
    ],
)
def test_all_absence_features_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("b_rate_1w", 0),
        ("b_rate_4w", 1 / 36),
        ("b_rate_ytd", 1 / 45),
        ("b_halfdays_ytd", 1),  # the B-code on the as-of date itself is not seen
        ("b_longest_spell_ytd", 0),
        ("illness_rate_4w", 5 / 36),
        ("illness_rate_ytd", 5 / 45),
        ("parent_note_halfdays_ytd", 5),
        ("parent_note_spells_ytd", 1),
        ("certified_halfdays_ytd", 0),
        ("illness_reports_12w", 1),
        ("illness_longest_spell_ytd", 3),
    ],
)
def test_b_code_and_illness_features_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("late_arrivals_4w", 2),
        ("late_arrivals_ytd", 2),
        ("late_minutes_4w", 15),
        ("late_start_of_day_share_ytd", 0.5),
        ("sick_bay_visits_4w", 1),
        ("sick_bay_visits_ytd", 1),
        ("sick_bay_sent_home_8w", 1),
        ("sick_bay_sent_home_share_ytd", 1.0),
    ],
)
def test_lateness_and_sick_bay_features_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # 4 absent days (16 Sep, 30 Sep, 1 Oct, 2 Oct); 5 of the 25 school days are Mondays.
        ("monday_excess_ytd", 2 / 4 - 5 / 25),
        # After a break: the 5 Mondays. Absent on 2 of them; 2 of the 20 other days.
        ("after_break_excess_ytd", 2 / 5 - 2 / 20),
        ("after_holiday_absences_ytd", 0),
        # All 4 absent days include the morning; 25 days over 45 half-days is chance.
        ("first_period_excess_ytd", 4 / 4 - 25 / 45),
        ("weekday_concentration_ytd", 2 / 4 - 0.2),
    ],
)
def test_pattern_features_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


def test_trend_features_by_hand() -> None:
    # Weekly shares, latest week first: 30 Sep (5/9), 23 Sep (0), 16 Sep (1/9), 9 Sep, 2 Sep;
    # the three June weeks before them do not count (not enrolled yet).
    weekly = [5 / 9, 0, 1 / 9, 0, 0]
    slope = np.polyfit([-1, -2, -3, -4, -5], weekly, 1)[0]
    assert P1["absence_slope_8w"] == pytest.approx(slope)
    assert P1["absence_change_vs_year"] == pytest.approx(6 / 36 - 0 / 9)
    assert P1["absence_change_vs_last_year"] == 0  # not on the board last year
    last_year = flemish_calendar(dt.date(2023, 9, 1), dt.date(2024, 6, 30))["periods"].sum()
    assert P3["absence_change_vs_last_year"] == pytest.approx(0 - 2 / last_year)


def test_context_and_transition_features_by_hand() -> None:
    school = (6 / 36 + 0 + 0) / 3
    assert P1["class_absence_rate_4w"] == pytest.approx(6 / 36)  # alone in 1A this year
    assert P1["school_absence_rate_4w"] == pytest.approx(school)
    assert P1["absence_rate_vs_class_4w"] == pytest.approx(0)
    assert P2["school_absence_rate_4w"] == pytest.approx(school)
    assert (P1["first_year_secondary"], P1["new_at_school"], P1["school_weeks_into_year"]) == (
        1,
        1,
        5,
    )
    assert (P3["first_year_secondary"], P3["new_at_school"]) == (0, 0)


def test_as_of_dates_are_the_first_school_day_of_each_school_week() -> None:
    dates = prepared().as_of_dates(dt.date(2024, 10, 21), dt.date(2024, 11, 18))
    # The autumn holiday (28 Oct - 3 Nov) is no week; 11 November (Armistice) moves the week to Tuesday.
    assert dates == [
        dt.date(2024, 10, 21),
        dt.date(2024, 11, 4),
        dt.date(2024, 11, 12),
        dt.date(2024, 11, 18),
    ]


LATER_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3"]),
        st.dates(AS_OF, dt.date(2024, 12, 20)),
        st.sampled_from(["AM", "PM"]),
        st.sampled_from(["Z", "D", "B", "R", "L", "V"]),
    ),
    max_size=12,
)


def _school_days_only(
    events: list[tuple[str, dt.date, str, str]],
) -> list[tuple[str, dt.date, str, str]]:
    """Events on registrable half-days, one code per pupil and half-day (two codes for one
    period are a quarantined conflict, not a later event), none on the export's own."""
    calendar = flemish_calendar(dt.date(2024, 9, 2), dt.date(2024, 12, 31))
    periods = dict(zip(calendar["date"].to_list(), calendar["periods"].to_list(), strict=True))
    taken = {("P1", dt.date(2024, 10, 7), "AM")}  # the export's own event on the as-of date
    kept = []
    for e in events:
        if (periods[e[1]] == 2 or (periods[e[1]] == 1 and e[2] == "AM")) and e[:3] not in taken:
            taken.add(e[:3])
            kept.append(e)
    return kept


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=LATER_EVENTS, drop_as_of_event=st.booleans(), late=st.booleans())
def test_events_on_or_after_the_as_of_date_never_change_a_feature(
    events: list[tuple[str, dt.date, str, str]], drop_as_of_event: bool, late: bool
) -> None:
    absences = EXPORT["absences.csv"]
    if drop_as_of_event:
        absences = absences.replace("P1;2024-10-07;AM;B;\n", "")
    absences += "".join(
        f"{p};{d.isoformat()};{h};{c};\n" for p, d, h, c in _school_days_only(events)
    )
    files = {**EXPORT, "absences.csv": absences}
    if late:
        files["late_arrivals.csv"] = EXPORT["late_arrivals.csv"] + "P2;2024-10-07;08:50;20\n"
        files["sick_bay_visits.csv"] = (
            EXPORT["sick_bay_visits.csv"] + "P3;2024-10-08;11:00;30;sent_home\n"
        )
    changed = feature_table(prepared(files), AS_OF).collect()
    assert_frame_equal(changed, features_at())


def test_windows_count_right_when_the_export_calendar_lists_only_school_days() -> None:
    # The school's own calendar lists its school days only, and Monday 23 September is a free
    # day it does not list: the 2-week window still starts that Monday and counts its 7 half-days.
    days = [
        d
        for d in (dt.date(2024, 9, 2) + dt.timedelta(days=i) for i in range(40))
        if d.weekday() < 5 and d != dt.date(2024, 9, 23)
    ]
    calendar = "date;school_day;periods\n" + "".join(
        f"{d.isoformat()};true;{1 if d.weekday() == 2 else 2}\n" for d in days
    )
    absences = EXPORT["absences.csv"].replace("P3;2024-06-03;AM;D;\nP3;2024-06-03;PM;D;\n", "")
    table = features_at(files={**EXPORT, "absences.csv": absences, "calendar.csv": calendar})
    assert row(table, "P1")["absence_rate_2w"] == pytest.approx(5 / (7 + 9))
    assert row(table, "P1")["absence_rate_4w"] == pytest.approx(6 / (9 + 9 + 7 + 9))


def test_a_spell_running_over_the_summer_counts_only_its_days_this_school_year() -> None:
    # P3 is ill on a parent's note on the last two school days of June and the first two of
    # September: one run of consecutive school days, of which two fall in this school year.
    across = "".join(
        f"P3;{d};{half};Z;\n"
        for d in ("2024-06-27", "2024-06-28", "2024-09-02", "2024-09-03")
        for half in ("AM", "PM")
    )
    table = features_at(files={**EXPORT, "absences.csv": EXPORT["absences.csv"] + across})
    p3 = row(table, "P3")
    assert (p3["longest_spell_ytd"], p3["spells_ytd"], p3["current_spell_days"]) == (2, 1, 0)
    assert (p3["illness_longest_spell_ytd"], p3["parent_note_spells_ytd"]) == (2, 1)
    assert p3["illness_reports_12w"] == 1


def test_window_counts_add_up_exactly_the_pupil_days_between_their_edges() -> None:
    prep = prepared()
    first, last = dt.date(2024, 6, 1), AS_OF  # what the pupils may see: edges are moved inside
    edges = pl.date_range(dt.date(2024, 5, 27), dt.date(2024, 10, 14), "1d", eager=True)
    grid = (
        prep.pupils.lazy()
        .join(pl.LazyFrame({"lo": edges}), how="cross")
        .join(pl.LazyFrame({"hi": edges}), how="cross")
        .filter(pl.col("lo") <= pl.col("hi"))
    )
    counts = [
        between("absent_halves", "lo", "hi").alias("absent"),
        between("late_minutes", "lo", "hi").alias("minutes"),
    ]
    got = look_up(grid, prep.counts, running_lookups(counts), (pl.lit(first), pl.lit(last)))
    inside = (pl.col("date") >= pl.col("lo").clip(first, last)) & (
        pl.col("date") < pl.col("hi").clip(first, last)
    )
    expected = (
        grid.join(
            prep.pupil_days.lazy().join(prep.pupils.lazy(), on="student_key"),
            on="pupil",
            how="left",
        )
        .group_by("pupil", "lo", "hi")
        .agg(
            pl.when(inside).then(pl.col(c)).otherwise(0).sum().cast(pl.Int32).alias(name)
            for c, name in (("absent_halves", "absent"), ("late_minutes", "minutes"))
        )
    )
    keys = ["pupil", "lo", "hi"]
    assert_frame_equal(
        got.select(*keys, *counts).sort(keys).collect(), expected.sort(keys).collect()
    )
    assert expected.select(pl.col("absent").max()).collect().item() > 0
