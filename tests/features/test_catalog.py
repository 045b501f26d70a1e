"""The catalog: each feature named once (after its signal function), described in both
languages, with its inputs readable off its code."""

from __future__ import annotations

from features.catalog import BY_NAME, CATALOG, FAMILIES, directions, names
from features.signals import absences, lateness, patterns
from tests.features.builders import prepared

ASSEMBLER_COLUMNS = {
    "grade",
    "new_at_school",
    "weeks_into_year",
    "days_ytd",
    "mondays_ytd",
    "after_break_days_ytd",
    "school_id",
    "class_key",
}
"""What :mod:`features.windows` says the assembler supplies by name."""
DAY_COLUMNS = {
    *prepared().pupil_days.columns,
    *(e.meta.output_name() for e in patterns.day_counts()),
}
"""The day-level columns a feature may count: the pupil-day frame's and the patterns' flags."""


def test_every_feature_is_named_after_its_signal_and_described() -> None:
    assert len(BY_NAME) == len(CATALOG)
    for feature in CATALOG:
        assert feature.family in FAMILIES
        assert feature.direction in (-1, 0, 1)
        assert feature.en and feature.nl and feature.unit
        signal = getattr(feature.expr, "func", feature.expr)  # a windowed one is a partial
        assert feature.name.startswith(signal.__name__), feature.name
    assert BY_NAME["absence_rate_4w"].expr.func is absences.absence_rate  # type: ignore[attr-defined]
    assert BY_NAME["absence_rate_4w"].en == (
        "Share of half-days absent, any reason (last 4 school weeks)"
    )


def test_a_feature_says_what_it_reads() -> None:
    assert BY_NAME["late_start_of_day_share_ytd"].inputs() == ("late_count", "late_start_of_day")
    assert BY_NAME["absence_rate_ytd"].inputs() == ("absent_halves", "periods_ytd")
    assert BY_NAME["class_absence_rate_4w"].inputs() == (
        "absence_rate_4w",
        "class_key",
        "school_id",
    )
    assert lateness.late_arrivals.__name__ == "late_arrivals"


def test_features_read_only_day_counts_periods_spells_assembler_columns_or_pupil_features() -> None:
    pupil_features = {f.name for f in CATALOG if f.stage == "pupil"}
    for feature in CATALOG:
        for name in feature.inputs():
            known = (
                name in ASSEMBLER_COLUMNS
                or name.startswith(("periods_", "s_"))
                or (feature.stage == "context" and name in pupil_features)
                or name in DAY_COLUMNS
            )
            assert known, (feature.name, name)
        if feature.stage == "pupil":  # reads no other feature
            assert not set(feature.inputs()) & (pupil_features - {feature.name}), feature.name


def test_names_and_directions_follow_the_catalog_order() -> None:
    assert names(("lateness",)) == [
        "late_arrivals_4w",
        "late_arrivals_ytd",
        "late_minutes_4w",
        "late_start_of_day_share_ytd",
    ]
    assert directions(["absence_rate_1w", "class_absence_rate_4w"]) == [1, 0]
