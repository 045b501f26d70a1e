from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.build import KEY_COLUMNS, META_COLUMNS, feature_table
from features.catalog import CATALOG
from features.school.calendar import flemish_calendar
from tests.features.builders import AS_OF, EXPORT, features_at, prepared, row
from tests.features.builders import P1_ROW as P1
from tests.features.builders import P2_ROW as P2


def test_the_table_and_the_catalog_agree_column_for_column() -> None:
    table = features_at()
    assert table.columns == [*KEY_COLUMNS, *META_COLUMNS, *[f.name for f in CATALOG]]
    for feature in CATALOG:
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
