from __future__ import annotations

import datetime as dt

import polars as pl

from models import carelist
from models.carelist import Capacity

WEEK1, WEEK2 = dt.date(2025, 3, 3), dt.date(2025, 3, 10)
NO_FEEDBACK = pl.DataFrame(schema=carelist.FEEDBACK_SCHEMA)
NO_RISK = pl.DataFrame(
    schema={
        "school_id": pl.String,
        "student_key": pl.String,
        "list_date": pl.Date,
        "risk": pl.Float64,
    }
)


def ranked(risks: dict[str, float | None], cut: int, known: tuple[str, ...] = ()) -> pl.DataFrame:
    """One school's week: pupils in rank order, the first ``cut`` above the cut."""
    keys = list(risks)
    return pl.DataFrame(
        {
            "school_id": ["S"] * len(keys),
            "student_key": keys,
            "risk": list(risks.values()),
            "rank": [i + 1 for i in range(len(keys))],
            "above_cut": [i < cut for i in range(len(keys))],
            "known_case": [k in known for k in keys],
            "recent_case": [k in known for k in keys],
        },
        schema_overrides={"rank": pl.Int32, "risk": pl.Float64},
    )


def feedback(*marks: tuple[str, dt.date, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [("S", key, day, status, day) for key, day, status in marks],
        schema=carelist.FEEDBACK_SCHEMA,
        orient="row",
    )


THREE = Capacity(max_new=3)


def place(
    week: pl.DataFrame,
    previous: pl.DataFrame,
    day: dt.date,
    marks=NO_FEEDBACK,
    risk=NO_RISK,
    capacity=THREE,
):  # type: ignore[no-untyped-def]
    return carelist.weekly_list(week, previous, marks, risk, day, capacity)


def sections(frame: pl.DataFrame) -> dict[str, str | None]:
    return dict(frame.select("student_key", "section").iter_rows())


FIRST = ranked({f"p{i}": 0.5 - i / 100 for i in range(8)}, cut=5)


def test_the_first_list_takes_as_many_new_names_as_the_care_team_can_hold() -> None:
    week = place(FIRST, pl.DataFrame(schema=carelist.LISTED_SCHEMA), WEEK1)
    assert sections(week) == {
        "p0": "list",
        "p1": "list",
        "p2": "list",
        "p3": "waiting",
        "p4": "waiting",
        "p5": None,
        "p6": None,
        "p7": None,
    }
    listed = week.filter("listed")
    assert listed["change"].to_list() == ["new"] * 3
    assert listed["weeks_on_list"].to_list() == [1, 1, 1]


def test_a_listed_pupil_keeps_its_place_while_above_the_cut_and_new_ones_fill_up() -> None:
    previous = carelist.listed_of(place(FIRST, pl.DataFrame(schema=carelist.LISTED_SCHEMA), WEEK1))
    # Week 2: p1 rose, p0 fell below the cut, p2 steady; p3, p4 and p6 are above the cut.
    second = ranked({"p1": 0.9, "p2": 0.48, "p3": 0.47, "p4": 0.46, "p6": 0.45, "p0": 0.1}, cut=5)
    week = place(second, previous, WEEK2)
    assert sections(week) == {
        "p1": "list",
        "p2": "list",
        "p3": "list",
        "p4": "list",
        "p6": "list",
        "p0": None,
    }
    changes = dict(week.filter("listed").select("student_key", "change").iter_rows())
    assert changes == {"p1": "rising", "p2": "steady", "p3": "new", "p4": "new", "p6": "new"}
    weeks = dict(week.filter("listed").select("student_key", "weeks_on_list").iter_rows())
    assert (weeks["p1"], weeks["p3"]) == (2, 1)
    left = carelist.left_list(previous, week)
    assert left.select("student_key", "why", "weeks_on_list").rows() == [("p0", "below the cut", 1)]


def test_a_rule_s_list_moves_by_rank() -> None:
    previous = pl.DataFrame(
        [("S", "a", 2, None, 1), ("S", "b", 1, None, 1)],
        schema=carelist.LISTED_SCHEMA,
        orient="row",
    )
    week = place(ranked({"a": None, "b": None}, cut=2), previous, WEEK2)
    assert week.select("student_key", "change").rows() == [("a", "rising"), ("b", "falling")]


def test_followed_pupils_and_cases_take_no_place_and_a_resting_pupil_waits_its_weeks() -> None:
    previous = carelist.listed_of(place(FIRST, pl.DataFrame(schema=carelist.LISTED_SCHEMA), WEEK1))
    marks = feedback(("p0", WEEK1, "in opvolging"), ("p1", WEEK1, "geen zorg nu"))
    marked = previous.select("school_id", "student_key", "risk").with_columns(
        list_date=pl.lit(WEEK1)
    )
    week = place(FIRST, previous, WEEK2, marks, marked)
    assert sections(week) == {
        "p0": "followed",
        "p1": "resting",
        "p2": "list",
        "p3": "list",
        "p4": "list",
        "p5": None,
        "p6": None,
        "p7": None,
    }
    assert week.filter(pl.col("student_key") == "p1")["status"].to_list() == ["geen zorg nu"]
    # A case opened: followed too.
    with_case = ranked({"p2": 0.5, "p3": 0.4}, cut=2, known=("p2",))
    assert sections(place(with_case, previous, WEEK2))["p2"] == "followed"
    # The risk rose to 1.5 times the marked one: listed again, as new.
    risen = FIRST.with_columns(
        risk=pl.when(pl.col("student_key") == "p1").then(0.49 * 1.5).otherwise(pl.col("risk"))
    )
    again = place(risen, previous.filter(pl.col("student_key") != "p1"), WEEK2, marks, marked)
    assert sections(again)["p1"] == "list"
    # Six weeks after the mark the rest is over.
    later = WEEK1 + dt.timedelta(weeks=6)
    assert sections(place(FIRST, previous, later, marks, marked))["p1"] == "list"


def test_replayed_lists_never_take_more_new_names_than_the_capacity() -> None:
    weeks = []
    for i in range(6):
        day = WEEK1 + dt.timedelta(weeks=i)
        risks = {f"p{(j * 7 + i) % 20}": 0.9 - j / 30 for j in range(20)}
        weeks.append(ranked(risks, cut=6).with_columns(as_of=pl.lit(day)))
    lists = carelist.simulate(pl.concat(weeks), Capacity(max_new=2))
    flow = carelist.list_flow(lists)
    assert flow["new"].max() == 2
    assert flow["listed"].to_list()[0] == 2  # the first week: two new names
    assert flow["kept"].drop_nulls().is_between(0, 1).all()


def test_capacity_lists_are_compared_with_every_pupil_above_the_cut_on_the_same_weeks() -> None:
    # Two schools, eight weeks, 50 pupils each; the scores drift, so the top changes a little.
    rows = []
    for week in range(8):
        day = WEEK1 + dt.timedelta(weeks=week)
        for school in ("A", "B"):
            for pupil in range(50):
                score = ((pupil * 13) % 50) / 50 + 0.15 * ((pupil * (week + 3)) % 7) / 7
                label = int(pupil % 10 == 0)
                rows.append(
                    (day, school, f"{school}{pupil}", score, score, label, dt.date(2025, 6, 2))
                )
    scored = pl.DataFrame(
        rows,
        schema=["as_of", "school_id", "student_key", "score", "risk", "label", "label_date"],
        orient="row",
    )
    table = carelist.compare_policies(
        scored, 10.0, 3, {"all": Capacity(max_new=10_000), "two": Capacity(max_new=2)}
    )
    every, two = table.rows(named=True)
    assert every["names_a_week"] == 5.0  # 10% of 50 pupils
    assert two["new_a_week"] <= 2.0 and two["new_a_week"] < every["new_a_week"]
    # A list that fills up slowly keeps a smaller share in its first weeks: no order here.
    assert 0 < two["kept_from_last_week"] <= 1 and 0 < every["kept_from_last_week"] <= 1
    # A capacity list only lists pupils above the cut: never more pupils than every one of them.
    assert two["pupils_ever_listed"] <= every["pupils_ever_listed"] <= 1.0
    assert 0.0 <= two["precision"] <= 1.0 and 0.0 <= two["cases_listed"] <= 1.0


def test_a_listed_pupil_stays_while_within_the_wider_keep_cut() -> None:
    previous = carelist.listed_of(place(FIRST, pl.DataFrame(schema=carelist.LISTED_SCHEMA), WEEK1))
    # 40 pupils, 5 above the cut; the last list's p0, p1, p2 now rank 7, 8 and 9.
    risks = {f"q{i}": 0.9 - i / 100 for i in range(6)} | {"p0": 0.2, "p1": 0.1, "p2": 0.06}
    risks |= {f"r{i}": 0.05 - i / 1000 for i in range(31)}
    week = ranked(risks, cut=5)
    keep = Capacity(max_new=3, keep_percent=20.0)  # 8 of 40 places
    placed = sections(place(week, previous, WEEK2, capacity=keep))
    assert (placed["p0"], placed["p1"]) == ("list", "list")  # ranks 7 and 8: within 20%
    assert placed["p2"] is None  # rank 9: off the list
    without = sections(place(week, previous, WEEK2))
    assert (without["p0"], without["p1"]) == (None, None)
