"""Research evaluation over the forward test slices: which signals predict, how early, for whom.

Pure functions of scored test rows (``as_of, school_id, student_key, label, label_date`` plus a
``score`` and, where needed, features or group attributes). Every ranking metric uses the same
honest top-k% per school as training (:mod:`models.metrics`).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import precision_score

from features.catalog import BY_NAME, CATALOG
from models.metrics import lead_times, precision_recall_at_k

FAIRNESS_BAND = (0.8, 1.25)
MIN_GROUP = 10
"""Groups with fewer pupils than this are suppressed, not shown."""


def signal_table(frame: pl.DataFrame, features: list[str], k: float = 5.0) -> pl.DataFrame:
    """Each feature on its own, ranking pupils by its value in its expected direction.

    Columns: ``feature, family, prevalence`` (share of pupil-weeks where it is not 0),
    ``precision, recall, lift`` in the top ``k``% of each school, and ``median_lead_weeks``.
    """
    base = _mean(frame["label"])
    rows = []
    for name in features:
        direction = BY_NAME[name].direction or 1
        scored = frame.with_columns((pl.col(name) * direction).alias("score"))
        precision, recall = precision_recall_at_k(scored, k)
        leads = lead_times(scored, k=k).filter(pl.col("first_flag").is_not_null())
        median = leads["lead_weeks"].median() if leads.height else None
        rows.append(
            {
                "feature": name,
                "family": BY_NAME[name].family,
                "prevalence": _mean(frame[name] != 0),
                "precision": precision,
                "recall": recall,
                "lift": precision / base if base else float("nan"),
                "median_lead_weeks": float(median)
                if isinstance(median, (int, float))
                else float("nan"),
            }
        )
    return pl.DataFrame(rows).sort("precision", descending=True)


def lead_time_curve(
    scored: dict[str, pl.DataFrame], k: float = 2.0, max_weeks: int = 8
) -> pl.DataFrame:
    """Share of future cases flagged (top ``k``%) at least N weeks before their label date.

    One row per N = 0..``max_weeks``, one column per model or rule. A case never flagged
    counts in the denominator, not the numerator.
    """
    out: dict[str, list[float]] = {"weeks_before": [float(n) for n in range(max_weeks + 1)]}
    for name, frame in scored.items():
        leads = lead_times(frame, k=k)
        lead = leads["lead_weeks"].fill_null(-1.0).to_numpy()
        cases = max(len(lead), 1)
        out[name] = [float((lead >= n).sum()) / cases for n in range(max_weeks + 1)]
    return pl.DataFrame(out)


def _flags(frame: pl.DataFrame, k: float, seed: int) -> np.ndarray:
    """Top-``k``% membership per (as-of, school), ties broken at random (seeded)."""
    rng = np.random.default_rng(seed)
    ranked = frame.with_columns(pl.Series("_tie", rng.random(frame.height)))
    size = (pl.len() * k / 100.0).ceil().clip(lower_bound=1)
    order = pl.struct(pl.col("score"), pl.col("_tie")).rank("ordinal", descending=True)
    return ranked.select(
        (order.over("as_of", "school_id") <= size.over("as_of", "school_id")).alias("f")
    )["f"].to_numpy()


def group_metrics(
    frame: pl.DataFrame, attribute: str, k: float = 2.0, seed: int = 0
) -> pl.DataFrame:
    """Flag rate, recall, false positive rate and precision per group of ``attribute`` (fairlearn)."""
    known = frame.filter(pl.col(attribute).is_not_null())
    y = known["label"].to_numpy().astype(int)
    flagged = _flags(known, k, seed).astype(int)
    groups = known[attribute].cast(pl.String).to_numpy()
    metrics = MetricFrame(
        metrics={
            "flag_rate": selection_rate,
            "recall": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "precision": lambda t, p: precision_score(t, p, zero_division=0.0),
        },
        y_true=y,
        y_pred=flagged,
        sensitive_features=groups,
    )
    table = pl.from_pandas(
        metrics.by_group.reset_index().rename(columns={"sensitive_feature_0": "group"})
    )
    pupils = known.group_by(pl.col(attribute).cast(pl.String).alias("group")).agg(
        pl.col("student_key").n_unique().alias("pupils")
    )
    return table.join(pupils, on="group").with_columns(pl.lit(attribute).alias("attribute"))


def fairness(
    frame: pl.DataFrame, attribute: str, k: float = 2.0, n_boot: int = 200, seed: int = 0
) -> pl.DataFrame:
    """Per group: metrics, their ratio to the largest group, a bootstrap interval and a verdict.

    Pupils are resampled (all their weeks together). Groups under :data:`MIN_GROUP` pupils are
    suppressed. The verdict per metric: ``within`` when the whole interval lies in the
    0.8-1.25 band, ``outside`` when the whole interval lies outside it, else ``uncertain``.
    """
    point = group_metrics(frame, attribute, k, seed)
    point = point.filter(pl.col("pupils") >= MIN_GROUP)
    if point.height < 2:
        return point.with_columns(pl.lit(None, dtype=pl.String).alias("reference"))
    reference = point.sort("pupils", descending=True)["group"][0]
    names = ["flag_rate", "recall", "false_positive_rate", "precision"]
    rng = np.random.default_rng(seed)
    pupils = frame["student_key"].unique().sort()
    samples: dict[tuple[str, str], list[float]] = {}
    for b in range(n_boot):
        chosen = pupils.sample(len(pupils), with_replacement=True, seed=int(rng.integers(1 << 31)))
        boot = frame.join(pl.DataFrame({"student_key": chosen}), on="student_key", how="inner")
        table = group_metrics(boot, attribute, k, seed + b + 1)
        ref = table.filter(pl.col("group") == reference)
        if ref.height == 0:
            continue
        for row in table.iter_rows(named=True):
            for m in names:
                denominator = ref[m][0]
                if denominator:
                    samples.setdefault((row["group"], m), []).append(row[m] / denominator)
    rows = []
    lo_band, hi_band = FAIRNESS_BAND
    for row in point.iter_rows(named=True):
        ref_row = point.filter(pl.col("group") == reference).row(0, named=True)
        for m in names:
            ratio = row[m] / ref_row[m] if ref_row[m] else float("nan")
            ratios = samples.get((row["group"], m), [])
            lo, hi = (
                (float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5)))
                if ratios
                else (float("nan"), float("nan"))
            )
            verdict = (
                "within"
                if lo_band <= lo and hi <= hi_band
                else "outside"
                if hi < lo_band or lo > hi_band
                else "uncertain"
            )
            rows.append(
                {
                    "attribute": attribute,
                    "group": row["group"],
                    "pupils": row["pupils"],
                    "metric": m,
                    "value": row[m],
                    "reference": reference,
                    "ratio": ratio,
                    "ratio_low": float(lo),
                    "ratio_high": float(hi),
                    "verdict": "reference" if row["group"] == reference else verdict,
                }
            )
    return pl.DataFrame(rows)


def error_profile(
    frame: pl.DataFrame, features: list[str], k: float = 2.0, seed: int = 0
) -> pl.DataFrame:
    """Mean feature values of flagged true positives next to flagged false positives."""
    flagged = frame.with_columns(pl.Series("_flag", _flags(frame, k, seed))).filter(pl.col("_flag"))
    tp = flagged.filter(pl.col("label") == 1)
    fp = flagged.filter(pl.col("label") == 0)
    return pl.DataFrame(
        {
            "feature": features,
            "true_positives": [_mean(tp[f]) for f in features],
            "false_positives": [_mean(fp[f]) for f in features],
        }
    )


def _mean(values: pl.Series) -> float:
    mean = values.cast(pl.Float64).mean()
    return float(mean) if isinstance(mean, (int, float)) else 0.0


def catalog_names() -> list[str]:
    """All catalog features, in catalog order."""
    return [f.name for f in CATALOG]
