"""Who is on a school's list: its size, the order within a school, and what a tie does.

One rule for the weekly lists (``score``), the ladder's metrics (precision and lead time) and
fairness. A list holds the top ``percent`` of a school's ranked pupils in a week, rounded up,
and at least ``minimum`` (the care team's list has a floor; the metrics' top k% has 1).
Pupils are ranked within their school and as-of date, best first. Ties are resolved one of
three ways, each for a reason:

- the weekly list breaks them by pupil key, so a rerun lists the same pupils;
- precision counts tied pupils at the cut by their expected share of the places left
  (:func:`expected_in_top`), so a rule's many equal scores neither flatter nor punish it;
- lead time and fairness need each pupil in or out, so ties are broken at random (seeded).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

GROUP = ("as_of", "school_id")
"""A list: one school in one week."""


def list_size(n: int, percent: float, minimum: int = 1) -> int:
    """Places on the list of a school with ``n`` ranked pupils (0 when there are none)."""
    return max(minimum, math.ceil(n * percent / 100.0)) if n else 0


def list_size_expr(percent: float, minimum: int = 1) -> pl.Expr:
    """:func:`list_size` of each group, as an expression to evaluate ``.over(group)``."""
    return pl.max_horizontal(pl.lit(minimum), (pl.len() * percent / 100.0).ceil())


def expected_in_top(scores: pl.Expr, size: pl.Expr) -> pl.Expr:
    """Each row's probability of being in the top ``size`` under random tie-breaking."""
    above = scores.rank("min", descending=True) - 1  # rows strictly better
    tied = scores.rank("max", descending=True) - above  # rows with the same score, incl. self
    room = (size - above).clip(lower_bound=0)
    return (room / tied).clip(upper_bound=1.0)


def top_k_membership(frame: pl.DataFrame, k: float, group: tuple[str, ...] = GROUP) -> pl.Series:
    """Expected membership of each row in its group's top ``k`` per cent (column ``score``)."""
    size = list_size_expr(k)
    return frame.select(
        expected_in_top(pl.col("score"), size).over(list(group)).alias(f"top{k:g}")
    ).to_series()


def random_tie_flags(
    frame: pl.DataFrame, k: float, seed: int, group: tuple[str, ...] = GROUP
) -> np.ndarray:
    """In or out of each group's top ``k`` per cent by ``score``, ties broken at random (seeded)."""
    rng = np.random.default_rng(seed)
    ranked = frame.with_columns(pl.Series("_tie", rng.random(frame.height)))
    order = pl.struct(pl.col("score"), pl.col("_tie")).rank("ordinal", descending=True)
    size = list_size_expr(k)
    return ranked.select((order.over(list(group)) <= size.over(list(group))).alias("f"))[
        "f"
    ].to_numpy()


def rank_in_school(
    frame: pl.DataFrame, percent: float, minimum: int, explain_percent: float
) -> pl.DataFrame:
    """The weekly list of each school: ``rank`` (1 = highest ``risk``, ties by ``student_key``),
    ``listed`` (on the care team's list) and ``explained`` (reasons are worked out)."""
    ranked = frame.sort(["school_id", "risk", "student_key"], descending=[False, True, False])
    rank = pl.int_range(1, pl.len() + 1).over("school_id").cast(pl.Int32)
    return ranked.with_columns(rank=rank).with_columns(
        listed=pl.col("rank") <= list_size_expr(percent, minimum).over("school_id"),
        explained=pl.col("rank") <= list_size_expr(explain_percent, minimum).over("school_id"),
    )
