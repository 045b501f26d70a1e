"""Metrics that matter to a care team: rank quality at the top of each school, lead time and
calibration.

Precision in the top k% is computed per (as-of date, school): the list has ``ceil(k% * n)``
places (at least one). Ties at the cut are shared out by their expected value under a random
order, so a rule that gives hundreds of pupils the same score is not flattered (nor punished)
by an arbitrary tie-break.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models.ranking import random_tie_flags, top_k_membership

TOP_KS = (2, 5, 10)
METRIC_KEYS = (
    "rows",
    "positives",
    *[f"{kind}_at_{k}" for k in TOP_KS for kind in ("precision", "recall")],
    "pr_auc",
    "roc_auc",
    "brier",
    "ece",
    "cases",
    "cases_flagged_at_2",
    "median_lead_weeks",
)
"""What :func:`summarise` reports, in order."""


def precision_recall_at_k(frame: pl.DataFrame, k: float) -> tuple[float, float]:
    """Micro-averaged precision and recall in the top ``k`` per cent of every (as-of, school).

    ``frame`` has ``as_of, school_id, score, label`` for the ranked pupils.
    """
    member = top_k_membership(frame, k)
    hits = float((member * frame["label"]).sum())
    places = float(member.sum())
    positives = float(frame["label"].sum())
    return (hits / places if places else 0.0, hits / positives if positives else 0.0)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-count bins (risks are small: equal-width bins would all sit in the first)."""
    if len(y) == 0:
        return 0.0
    order = np.argsort(p, kind="stable")
    total = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            total += len(chunk) * abs(float(np.mean(y[chunk])) - float(np.mean(p[chunk])))
    return total / len(y)


def lead_times(frame: pl.DataFrame, k: float = 2.0, seed: int = 0) -> pl.DataFrame:
    """Weeks from the first as-of date a future case enters its school's top ``k``% to its label date.

    ``frame`` needs ``student_key, as_of, school_id, score, label, label_date``. Ties are broken
    at random (seeded). Returns one row per case that was ever a positive row: its
    ``label_date``, ``first_flag`` (null if never flagged before the label date) and
    ``lead_weeks``.
    """
    flagged = frame.with_columns(pl.Series("flag", random_tie_flags(frame, k, seed)))
    cases = (
        flagged.filter(pl.col("label") == 1)
        .group_by("student_key", "label_date")
        .agg(pl.col("as_of").filter(pl.col("flag")).min().alias("first_flag"))
    )
    return cases.with_columns(
        ((pl.col("label_date") - pl.col("first_flag")).dt.total_days() / 7.0).alias("lead_weeks")
    ).sort("label_date", "student_key")


def summarise(frame: pl.DataFrame) -> dict[str, float]:
    """All metrics for one scored test slice (``score`` may be a rule's; ``risk`` a probability)."""
    y = frame["label"].to_numpy().astype(int)
    out: dict[str, float] = {"rows": float(frame.height), "positives": float(y.sum())}
    for k in TOP_KS:
        precision, recall = precision_recall_at_k(frame, k)
        out[f"precision_at_{k}"] = precision
        out[f"recall_at_{k}"] = recall
    p = frame["risk"].to_numpy()
    both = 0 < y.sum() < len(y)
    out["pr_auc"] = (
        float(average_precision_score(y, frame["score"].to_numpy())) if both else float("nan")
    )
    out["roc_auc"] = float(roc_auc_score(y, frame["score"].to_numpy())) if both else float("nan")
    out["brier"] = float(brier_score_loss(y, p)) if len(y) else float("nan")
    out["ece"] = expected_calibration_error(y, p)
    leads = lead_times(frame)
    flagged = leads.filter(pl.col("first_flag").is_not_null())
    out["cases"] = float(leads.height)
    out["cases_flagged_at_2"] = float(flagged.height)
    median = flagged["lead_weeks"].median() if flagged.height else None
    out["median_lead_weeks"] = float(median) if isinstance(median, (int, float)) else float("nan")
    return out
