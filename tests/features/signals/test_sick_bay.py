"""Sick-bay visits on the tiny export of :mod:`tests.features.builders`, by hand: P1 was
sent home once, on 3 October."""

from __future__ import annotations

import pytest

from tests.features.builders import EXPORT, features_at, row
from tests.features.builders import P1_ROW as P1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sick_bay_visits_4w", 1),
        ("sick_bay_visits_ytd", 1),
        ("sick_bay_sent_home_8w", 1),
        ("sick_bay_sent_home_share_ytd", 1.0),
    ],
)
def test_sick_bay_by_hand(name: str, expected: float) -> None:
    assert P1[name] == pytest.approx(expected)


def test_a_visit_back_to_class_counts_as_a_visit_not_as_sent_home() -> None:
    visits = EXPORT["sick_bay_visits.csv"] + "P1;2024-09-03;11:00;15;back_to_class\n"
    p1 = row(features_at(files={**EXPORT, "sick_bay_visits.csv": visits}), "P1")
    assert (p1["sick_bay_visits_ytd"], p1["sick_bay_visits_4w"]) == (
        2,
        1,
    )  # 3 September: 5 school weeks back
    assert p1["sick_bay_sent_home_share_ytd"] == pytest.approx(1 / 2)
