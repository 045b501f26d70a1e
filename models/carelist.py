"""The care team's list from week to week: who is on it, who is new, who waits, who rests.

A school's ranking (:func:`models.ranking.rank_in_school`) says who is above the cut this
week. A care team can take on only a few new names a week, and needs to see which names are
new, which rise, and which left. The list therefore remembers the last list actually made
(a holiday in between does not make every pupil new) and what the care team said of each
pupil (its feedback: :data:`STATUSES`):

- **followed**: a pupil the care team follows (``in opvolging``, ``dossier geopend``) or with
  a school-refusal case is listed apart, in a short section, and takes no place on the list;
- **resting**: a pupil marked ``geen zorg nu`` (no concern now) is not listed for
  :attr:`Capacity.rest_weeks` weeks after the list it was marked on, unless the risk rises
  clearly (:attr:`Capacity.rest_rise` times the risk it had then);
- **list**: every other pupil who was on the last list stays while above the cut (or within
  the wider :attr:`Capacity.keep_percent`); pupils above the cut who were not are new, at most
  :attr:`Capacity.max_new` a week, best ranked first;
- **waiting**: the pupils above the cut beyond that capacity; they may get a place next week.

Feedback only decides where a pupil appears: it is never a model feature.

One rule for the weekly lists (``score``) and for the evaluation of list sizes
(:func:`simulate`), which replays it week by week without feedback.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import polars as pl

from models.ranking import list_size_expr

STATUSES = ("besproken", "in opvolging", "geen zorg nu", "dossier geopend", "niet bereikt")
"""What a care team can say of a listed pupil (discussed, being followed up, no concern now,
case file opened, not reached)."""

FOLLOWED = ("in opvolging", "dossier geopend")
"""Statuses after which a pupil is followed, no longer flagged."""

RESTING = "geen zorg nu"
"""The status after which a pupil rests (see :class:`Capacity`)."""

Section = Literal["list", "followed", "resting", "waiting"]

RISING = 1.25
"""A listed pupil's risk this many times the last list's is *rising*; the inverse, *falling*."""

FEEDBACK_SCHEMA = {
    "school_id": pl.String,
    "student_key": pl.String,
    "list_date": pl.Date,
    "status": pl.String,
    "status_date": pl.Date,
}
"""The care team's feedback as the workspace keeps it: pseudonymised, one row per mark."""

LISTED_SCHEMA = {
    "school_id": pl.String,
    "student_key": pl.String,
    "rank": pl.Int32,
    "risk": pl.Float64,
    "weeks_on_list": pl.Int32,
}
"""A list as the workspace remembers it: the pupils on it, pseudonymised."""

MARKED_SCHEMA = {
    "school_id": pl.String,
    "student_key": pl.String,
    "list_date": pl.Date,
    "risk": pl.Float64,
}
"""A pupil's risk on a list the care team marked it on (a resting pupil is compared with it)."""


@dataclass(frozen=True)
class Capacity:
    """How many new names a care team takes on, and how long ``geen zorg nu`` holds."""

    max_new: int = 5
    """New names a school's list takes a week, on top of the pupils already on it."""
    rest_weeks: int = 6
    """Weeks a pupil marked ``geen zorg nu`` is not listed again."""
    rest_rise: float = 1.5
    """A resting pupil whose risk reaches this many times its risk when marked is listed."""
    keep_percent: float | None = None
    """A pupil on the list stays while in this top share of its school's ranking (a wider
    cut than the list's own, so that a pupil does not leave and come back with every small
    move of the ranking); ``None``: while above the list's cut."""


def latest_feedback(feedback: pl.DataFrame) -> pl.DataFrame:
    """Each pupil's latest mark (by the list it was given on, then the date it was given)."""
    return (
        feedback.sort(["school_id", "student_key", "list_date", "status_date"], nulls_last=False)
        .group_by(["school_id", "student_key"], maintain_order=True)
        .last()
    )


def weekly_list(
    ranked: pl.DataFrame,
    previous: pl.DataFrame,
    feedback: pl.DataFrame,
    marked_risk: pl.DataFrame,
    as_of: dt.date,
    capacity: Capacity,
) -> pl.DataFrame:
    """Each pupil's place in this week's lists.

    Parameters
    ----------
    ranked
        Every pupil of the week: ``school_id, student_key, risk`` (null for a rule),
        ``rank`` (null for a known case), ``above_cut`` (within the school's top share) and
        ``recent_case`` (a school-refusal case opened lately: followed).
    previous
        The last list made before ``as_of`` (:data:`LISTED_SCHEMA`); empty for the first.
    feedback
        The care team's marks (:data:`FEEDBACK_SCHEMA`), of lists before ``as_of``.
    marked_risk
        :data:`MARKED_SCHEMA`: each pupil's risk on the lists it was marked on.
    as_of
        The list's date.
    capacity
        New names a week and the rest after ``geen zorg nu``.

    Returns
    -------
    pl.DataFrame
        ``ranked`` with ``section`` (:data:`Section`, null for a pupil in none), ``listed``
        (section ``list``), ``change`` (``new``, ``rising``, ``steady``, ``falling`` for a
        listed pupil), ``weeks_on_list`` and ``status`` (the pupil's latest mark, if any).
    """
    marks = latest_feedback(feedback.filter(pl.col("list_date") < as_of))
    marks = marks.join(
        marked_risk.rename({"risk": "marked_risk"}),
        on=["school_id", "student_key", "list_date"],
        how="left",
    ).select(
        "school_id", "student_key", "status", pl.col("list_date").alias("marked_on"), "marked_risk"
    )
    last = previous.select(
        "school_id",
        "student_key",
        pl.col("rank").alias("last_rank"),
        pl.col("risk").alias("last_risk"),
        pl.col("weeks_on_list").alias("last_weeks"),
    )
    frame = ranked.join(marks, on=["school_id", "student_key"], how="left").join(
        last, on=["school_id", "student_key"], how="left"
    )
    rest_ends = pl.col("marked_on") + pl.duration(weeks=capacity.rest_weeks)
    risen = pl.col("risk") >= capacity.rest_rise * pl.col("marked_risk")
    followed = (pl.col("recent_case") | pl.col("status").is_in(FOLLOWED)).fill_null(False)
    resting = (
        (pl.col("status") == RESTING) & (pl.lit(as_of) < rest_ends) & ~risen.fill_null(False)
    ).fill_null(False)
    above = pl.col("above_cut").fill_null(False)
    if capacity.keep_percent is None:
        within = above
    else:
        ranked_pupils = pl.col("rank").is_not_null().sum().over("school_id")
        keep = (ranked_pupils * capacity.keep_percent / 100.0).ceil()
        within = above | (pl.col("rank") <= keep).fill_null(False)
    staying = pl.col("last_rank").is_not_null() & within & ~followed & ~resting
    candidate = above & ~followed & ~resting
    newcomer = candidate & pl.col("last_rank").is_null()
    # The best-ranked newcomers of each school take the week's new places.
    new_place = pl.when(newcomer).then(pl.col("rank")).rank("ordinal").over("school_id")
    admitted = newcomer & (new_place <= capacity.max_new)
    frame = frame.with_columns(
        section=pl.when(followed)
        .then(pl.lit("followed"))
        .when(resting & pl.col("above_cut").fill_null(False))
        .then(pl.lit("resting"))
        .when(staying | admitted)
        .then(pl.lit("list"))
        .when(newcomer)
        .then(pl.lit("waiting"))
    )
    listed = pl.col("section") == "list"
    return frame.with_columns(
        listed=listed.fill_null(False),
        change=pl.when(listed).then(_change()),
        weeks_on_list=pl.when(listed).then(pl.col("last_weeks").fill_null(0) + 1).cast(pl.Int32),
    ).drop("marked_on", "marked_risk", "last_rank", "last_risk", "last_weeks")


def _change() -> pl.Expr:
    """New, or how the pupil moved since the last list: by risk (a rule's list: by rank)."""
    by_risk = (
        pl.when(pl.col("risk") >= RISING * pl.col("last_risk"))
        .then(pl.lit("rising"))
        .when(pl.col("risk") * RISING <= pl.col("last_risk"))
        .then(pl.lit("falling"))
        .otherwise(pl.lit("steady"))
    )
    by_rank = (
        pl.when(pl.col("rank") < pl.col("last_rank"))
        .then(pl.lit("rising"))
        .when(pl.col("rank") > pl.col("last_rank"))
        .then(pl.lit("falling"))
        .otherwise(pl.lit("steady"))
    )
    return (
        pl.when(pl.col("last_rank").is_null())
        .then(pl.lit("new"))
        .when(pl.col("risk").is_not_null() & pl.col("last_risk").is_not_null())
        .then(by_risk)
        .otherwise(by_rank)
    )


def left_list(previous: pl.DataFrame, week: pl.DataFrame) -> pl.DataFrame:
    """The pupils of the last list who are not on this one, and why: ``followed`` (the care
    team follows them now, or a case opened), ``resting``, ``below the cut``, ``waiting``
    (should not happen: a pupil on the list keeps its place while above the cut) or ``gone``
    (no longer enrolled at the school)."""
    now = week.select("school_id", "student_key", "section", "above_cut")
    gone = previous.join(now, on=["school_id", "student_key"], how="left")
    return gone.filter(pl.col("section").is_null() | (pl.col("section") != "list")).select(
        "school_id",
        "student_key",
        pl.col("rank").alias("last_rank"),
        "weeks_on_list",
        pl.when(pl.col("section").is_not_null())
        .then(pl.col("section"))
        .when(pl.col("above_cut").is_null())
        .then(pl.lit("gone"))
        .otherwise(pl.lit("below the cut"))
        .alias("why"),
    )


def listed_of(week: pl.DataFrame) -> pl.DataFrame:
    """What the workspace remembers of this week's lists (:data:`LISTED_SCHEMA`)."""
    return (
        week.filter("listed")
        .select(pl.col(name).cast(dtype) for name, dtype in LISTED_SCHEMA.items())
        .sort("school_id", "rank")
    )


def simulate(scored: pl.DataFrame, capacity: Capacity) -> pl.DataFrame:
    """Replay the weekly lists over every ``as_of`` of ``scored`` in order, without feedback.

    ``scored`` has ``as_of`` and what :func:`weekly_list` reads of ``ranked``; returns it with
    ``section``, ``listed``, ``change`` and ``weeks_on_list`` per week, for the evaluation of
    a list size (churn, new names a week, weeks on the list).
    """
    previous = pl.DataFrame(schema=LISTED_SCHEMA)
    feedback = pl.DataFrame(schema=FEEDBACK_SCHEMA)
    marked = pl.DataFrame(schema=MARKED_SCHEMA)
    weeks = []
    for (as_of,), week in scored.sort("as_of").group_by(["as_of"], maintain_order=True):
        assert isinstance(as_of, dt.date)
        placed = weekly_list(week, previous, feedback, marked, as_of, capacity)
        weeks.append(placed)
        previous = listed_of(placed)
    return pl.concat(weeks) if weeks else scored


def list_flow(lists: pl.DataFrame) -> pl.DataFrame:
    """Per school and week of replayed lists (:func:`simulate`): how many pupils are listed,
    how many are new, and the share of the list that was on the last one (``kept``)."""
    per_week = (
        lists.group_by("school_id", "as_of")
        .agg(
            listed=pl.col("listed").sum(),
            new=(pl.col("change") == "new").sum(),
        )
        .sort("school_id", "as_of")
    )
    return per_week.with_columns(
        kept=pl.when(pl.col("listed") > 0).then(1 - pl.col("new") / pl.col("listed"))
    )


def ranked_weeks(scored: pl.DataFrame, percent: float, minimum: int) -> pl.DataFrame:
    """Scored rows (``as_of, school_id, student_key, score``) ranked as the weekly lists rank
    (best score first, ties by pupil key) with ``above_cut`` as their cut places it
    (:func:`models.ranking.list_size`), for :func:`simulate`."""
    group = ["as_of", "school_id"]
    ordered = scored.sort([*group, "score", "student_key"], descending=[False, False, True, False])
    rank = pl.int_range(1, pl.len() + 1).over(group).cast(pl.Int32)
    return ordered.with_columns(rank=rank, recent_case=pl.lit(False)).with_columns(
        above_cut=pl.col("rank") <= list_size_expr(percent, minimum).over(group)
    )


def spells(lists: pl.DataFrame) -> pl.Series:
    """The length in weeks of each spell a pupil spent on a replayed list without a break."""
    listed = lists.filter("listed").sort("school_id", "student_key", "as_of")
    spell = (pl.col("weeks_on_list") == 1).cum_sum().over("school_id", "student_key")
    return (
        listed.with_columns(spell=spell)
        .group_by("school_id", "student_key", "spell")
        .agg(pl.col("weeks_on_list").max())["weeks_on_list"]
    )


def policy_summary(lists: pl.DataFrame) -> dict[str, float]:
    """What replayed lists (:func:`simulate`, rows with ``label`` and ``label_date``) ask of
    a care team and what they find: names a week, new names a week, the share of a list that
    was on the last one, weeks on the list, the share of pupils ever listed, precision, the
    share of cases listed before their label date and the median lead in weeks."""
    flow = list_flow(lists)
    listed = lists.filter("listed")
    cases = (
        lists.filter(pl.col("label") == 1)
        .group_by("student_key", "label_date")
        .agg(pl.col("as_of").filter(pl.col("listed")).min().alias("first"))
        .with_columns(lead=(pl.col("label_date") - pl.col("first")).dt.total_days() / 7.0)
    )
    lengths = spells(lists)

    def value(x: object) -> float:
        return float(x) if isinstance(x, int | float) else float("nan")

    return {
        "names_a_week": value(flow["listed"].mean()),
        "new_a_week": value(flow["new"].mean()),
        "kept_from_last_week": value(flow["kept"].mean()),
        "median_weeks_on_list": value(lengths.median()),
        "pupils_ever_listed": value(
            listed["student_key"].n_unique() / max(1, lists["student_key"].n_unique())
        ),
        "precision": value(listed["label"].cast(pl.Float64).mean()),
        "cases_listed": value(cases["first"].is_not_null().mean()),
        "median_lead_weeks": value(cases["lead"].median()),
    }


def compare_policies(
    scored: pl.DataFrame, percent: float, minimum: int, capacities: dict[str, Capacity]
) -> pl.DataFrame:
    """One row per list policy, named: :func:`policy_summary` of the weekly lists replayed
    over ``scored`` (test rows: ``as_of, school_id, student_key, score, risk, label,
    label_date``) with that capacity."""
    weeks = ranked_weeks(scored, percent, minimum)
    rows = [
        {"lists": name, **policy_summary(simulate(weeks, capacity))}
        for name, capacity in capacities.items()
    ]
    return pl.DataFrame(rows)
