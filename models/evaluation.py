"""Research evaluation over the forward test slices: which signals predict, how early, at what cost.

Pure functions of scored test rows (``split, as_of, school_id, student_key, label, label_date``
plus a ``score``, a calibrated ``risk`` where needed, and features). Every ranking metric uses
the same honest top-k% per school as training (:mod:`models.metrics`); every interval is a
pupil bootstrap (a pupil's weeks are resampled together, the rankings stay as they were).
Fairness is in :mod:`models.fairness`, the research extract in :mod:`models.extract`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.catalog import BY_NAME, CATALOG, FAMILIES, Family, names
from models.fairness import bootstrap_sums, interval
from models.metrics import lead_times, precision_recall_at_k
from models.ranking import random_tie_flags, top_k_membership

MIN_CELL = 10
"""A count of fewer pupils than this is suppressed in any table of the report."""

ABLATIONS: tuple[tuple[str, tuple[Family, ...]], ...] = (
    ("B-codes only", ("b_codes",)),
    ("all absences", ("b_codes", "absence_all", "illness")),
    ("+ late arrivals", ("b_codes", "absence_all", "illness", "lateness")),
    ("+ sick-bay visits", ("b_codes", "absence_all", "illness", "lateness", "sick_bay")),
    (
        "+ patterns and trends",
        ("b_codes", "absence_all", "illness", "lateness", "sick_bay", "pattern", "trend"),
    ),
    ("full model", FAMILIES),
)
"""The ablation ladder: what schools watch today, then one group of signals added at a time."""
BASELINE = ABLATIONS[0][0]
FULL = ABLATIONS[-1][0]


def ablation_sets() -> dict[str, list[str]]:
    """Feature names of each ablation, in the order of :data:`ABLATIONS`."""
    return {label: names(families) for label, families in ABLATIONS}


def family_sets() -> dict[str, list[str]]:
    """Feature names of each catalog family on its own."""
    return {family: names((family,)) for family in FAMILIES}


def family_prevalence(frame: pl.DataFrame) -> pl.DataFrame:
    """Per family: the share of pupil-weeks where at least one of its features is not 0."""
    return pl.DataFrame(
        {
            "family": list(FAMILIES),
            "prevalence": [
                _mean(frame.select(pl.any_horizontal(pl.col(names((f,))) != 0)).to_series())
                for f in FAMILIES
            ],
        }
    )


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
        rows.append(
            {
                "feature": name,
                "family": BY_NAME[name].family,
                "prevalence": _mean(frame[name] != 0),
                "precision": precision,
                "recall": recall,
                "lift": precision / base if base else float("nan"),
                "median_lead_weeks": _median_lead(scored, k),
            }
        )
    return pl.DataFrame(rows).sort("precision", descending=True, maintain_order=True)


def _median_lead(frame: pl.DataFrame, k: float) -> float:
    leads = lead_times(frame, k=k).filter(pl.col("first_flag").is_not_null())
    median = leads["lead_weeks"].median() if leads.height else None
    return float(median) if isinstance(median, (int, float)) else float("nan")


def _pupil_hits(frame: pl.DataFrame, k: float, pupils: pl.Series) -> np.ndarray:
    """Per pupil (in the order of ``pupils``): expected hits, places taken and positive weeks."""
    member = top_k_membership(frame, k)
    per_pupil = (
        frame.select("student_key", "label")
        .with_columns(member.alias("_m"), pl.col("label").cast(pl.Float64))
        .group_by("student_key")
        .agg(
            (pl.col("_m") * pl.col("label")).sum().alias("hits"),
            pl.col("_m").sum().alias("places"),
            pl.col("label").sum().alias("positives"),
        )
    )
    aligned = pl.DataFrame({"student_key": pupils}).join(per_pupil, on="student_key", how="left")
    return aligned.select("hits", "places", "positives").fill_null(0.0).to_numpy()


def ranking_table(
    scored: dict[str, pl.DataFrame],
    ks: tuple[float, ...] = (2.0, 5.0),
    n_boot: int = 200,
    seed: int = 0,
    baseline: str | None = None,
) -> pl.DataFrame:
    """Precision and recall in the top k% of each school per model, with pupil-bootstrap intervals.

    The same resampled pupils serve every model (paired intervals when the frames hold the
    same test rows; a pupil missing from a model's rows adds nothing to it). Precision and
    recall are pooled over all test weeks; ``splits`` counts the splits a model was tested on. With ``baseline`` (a key of ``scored``), ``gain_at_<k>`` is each
    model's precision divided by the baseline's, with its paired interval; ``lift_at_<k>`` is
    precision divided by the model's base rate of positive weeks. Also: the share of
    cases flagged (top ``ks[0]``%) at least 4 weeks before their label date, and the median
    lead time of the flagged cases.
    """
    # Each model's pupils first: the models' test rows are never stacked into one column.
    pupils = pl.concat([f["student_key"].unique() for f in scored.values()]).unique().sort()
    totals = {
        name: {k: _pupil_hits(frame, k, pupils) for k in ks} for name, frame in scored.items()
    }
    # Every model's totals resampled with the same pupils, a chunk of resamples at a time.
    everyone = np.arange(len(pupils))
    cells = [(name, k) for name in scored for k in ks]
    sums = bootstrap_sums(len(pupils), [(everyone, totals[n][k]) for n, k in cells], n_boot, seed)
    resampled = dict(zip(cells, sums, strict=True))

    def boot(name: str, k: float) -> tuple[np.ndarray, np.ndarray]:
        t = resampled[name, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            return t[:, 0] / t[:, 1], t[:, 0] / t[:, 2]

    rows = []
    for name, frame in scored.items():
        row: dict[str, object] = {
            "model": name,
            "splits": frame["split"].n_unique() if "split" in frame.columns else 1,
        }
        for k in ks:
            hits, places, positives = totals[name][k].sum(axis=0)
            precision, recall = boot(name, k)
            row[f"precision_at_{k:g}"] = hits / places if places else float("nan")
            row[f"precision_at_{k:g}_low"], row[f"precision_at_{k:g}_high"] = interval(precision)
            row[f"recall_at_{k:g}"] = hits / positives if positives else float("nan")
            row[f"recall_at_{k:g}_low"], row[f"recall_at_{k:g}_high"] = interval(recall)
            base_rate = _mean(frame["label"])
            row[f"lift_at_{k:g}"] = (
                row[f"precision_at_{k:g}"] / base_rate  # type: ignore[operator]
                if base_rate
                else float("nan")
            )
            if baseline in totals:
                b_hits, b_places, _ = totals[baseline][k].sum(axis=0)
                base_precision = b_hits / b_places if b_places else float("nan")
                with np.errstate(invalid="ignore", divide="ignore"):
                    gain = precision / boot(baseline, k)[0]
                row[f"gain_at_{k:g}"] = (
                    row[f"precision_at_{k:g}"] / base_precision  # type: ignore[operator]
                    if base_precision
                    else float("nan")
                )
                row[f"gain_at_{k:g}_low"], row[f"gain_at_{k:g}_high"] = interval(gain)
        leads = lead_weeks(frame, k=ks[0])
        flagged = leads[~np.isnan(leads)]
        row["flagged_4w_ahead"] = float((leads >= 4).mean()) if leads.size else float("nan")
        row["median_lead_weeks"] = float(np.median(flagged)) if flagged.size else float("nan")
        rows.append(row)
    return pl.DataFrame(rows)


TIE_DRAWS = 5
"""Random tie-breaks averaged over in lead times (rules give many pupils the same score)."""


def lead_weeks(frame: pl.DataFrame, k: float, draws: int = TIE_DRAWS) -> np.ndarray:
    """Each case's lead in weeks (NaN when never flagged), for ``draws`` seeded tie-breaks.

    A flat array of ``cases x draws`` values, so shares and medians average over the draws.
    """
    return np.concatenate(
        [
            lead_times(frame, k=k, seed=seed)["lead_weeks"].fill_null(float("nan")).to_numpy()
            for seed in range(draws)
        ]
    )


def lead_time_curve(
    scored: dict[str, pl.DataFrame], k: float = 2.0, max_weeks: int = 8
) -> pl.DataFrame:
    """Share of future cases flagged (top ``k``%) at least N weeks before their label date.

    One row per N = 0..``max_weeks``, one column per model or rule. A case never flagged
    counts in the denominator, not the numerator; ties are broken at random, averaged over
    :data:`TIE_DRAWS` draws. NaN where a model has no case.
    """
    out: dict[str, list[float] | list[int]] = {"weeks_before": list(range(max_weeks + 1))}
    for name, frame in scored.items():
        leads = lead_weeks(frame, k)
        out[name] = [
            float((leads >= n).mean()) if leads.size else float("nan") for n in range(max_weeks + 1)
        ]
    return pl.DataFrame(out)


def sample_sizes(frame: pl.DataFrame) -> pl.DataFrame:
    """What a model was tested on, in one row: ``splits, schools, pupils, weeks, pupil_weeks,
    positive_weeks, cases``.

    ``weeks`` counts distinct as-of dates; a case is a pupil's label date reached from a
    positive week, as in :func:`models.metrics.lead_times`.
    """
    positive = frame.filter(pl.col("label") == 1)
    return pl.DataFrame(
        {
            "splits": [frame["split"].n_unique() if "split" in frame.columns else 1],
            "schools": [frame["school_id"].n_unique()],
            "pupils": [frame["student_key"].n_unique()],
            "weeks": [frame["as_of"].n_unique()],
            "pupil_weeks": [frame.height],
            "positive_weeks": [positive.height],
            "cases": [positive.select("student_key", "label_date").n_unique()],
        }
    )


def weekly_precision(scored: dict[str, pl.DataFrame], k: float = 5.0) -> pl.DataFrame:
    """Precision in the top ``k``% week by week: ``as_of, model, precision``.

    Weekly counts of cases are not returned: many weeks have fewer than ten.
    """
    parts = []
    for name, frame in scored.items():
        member = top_k_membership(frame, k)
        parts.append(
            frame.select("as_of", "label")
            .with_columns(member.alias("_m"), pl.col("label").cast(pl.Float64))
            .group_by("as_of")
            .agg(
                ((pl.col("_m") * pl.col("label")).sum() / pl.col("_m").sum()).alias("precision"),
            )
            .with_columns(pl.lit(name).alias("model"))
        )
    return pl.concat(parts).select("as_of", "model", "precision").sort("model", "as_of")


def calibration_bins(frame: pl.DataFrame, bins: int = 10) -> pl.DataFrame:
    """Mean predicted risk against the observed share of new cases, in equal-count bins."""
    order = np.argsort(frame["risk"].to_numpy(), kind="stable")
    risk = frame["risk"].to_numpy()[order]
    label = frame["label"].to_numpy().astype(float)[order]
    rows = [
        {
            "bin": i + 1,
            "rows": len(chunk),
            "mean_risk": float(risk[chunk].mean()),
            "observed": float(label[chunk].mean()),
        }
        for i, chunk in enumerate(np.array_split(np.arange(len(order)), bins))
        if len(chunk)
    ]
    return pl.DataFrame(rows)


def error_profile(
    frame: pl.DataFrame,
    features: list[str],
    k: float = 2.0,
    seed: int = 0,
    min_cell: int = MIN_CELL,
) -> pl.DataFrame:
    """Mean feature values of flagged true positives next to flagged false positives.

    ``difference`` is false minus true positives in standard deviations of the feature over
    all rows of ``frame``; rows are sorted by its size. A side with fewer than ``min_cell``
    pupils shows no means.
    """
    flagged = frame.with_columns(pl.Series("_flag", random_tie_flags(frame, k, seed))).filter(
        pl.col("_flag")
    )
    tp = flagged.filter(pl.col("label") == 1)
    fp = flagged.filter(pl.col("label") == 0)
    tp_shown = tp["student_key"].n_unique() >= min_cell
    fp_shown = fp["student_key"].n_unique() >= min_cell
    spread = [frame[f].cast(pl.Float64).std() for f in features]
    return (
        pl.DataFrame(
            {
                "feature": features,
                "family": [BY_NAME[f].family for f in features],
                "true_positives": [_mean(tp[f]) if tp_shown else None for f in features],
                "false_positives": [_mean(fp[f]) if fp_shown else None for f in features],
                "sd": [float(s) if isinstance(s, (int, float)) and s > 0 else None for s in spread],
            }
        )
        .with_columns(
            ((pl.col("false_positives") - pl.col("true_positives")) / pl.col("sd")).alias(
                "difference_sd"
            )
        )
        .drop("sd")
        .sort(pl.col("difference_sd").abs(), descending=True, nulls_last=True, maintain_order=True)
    )


def false_positive_outcomes(
    frame: pl.DataFrame, k: float = 2.0, seed: int = 0, min_cell: int = MIN_CELL
) -> pl.DataFrame:
    """What the flagged pupil-weeks without a new refusal case turn out to be.

    ``frame`` needs ``outcome`` (the first case of any type in the label window, or ``none``)
    and ``later_refusal`` (a refusal case after the window). Categories with fewer than
    ``min_cell`` pupils show no counts.
    """
    flagged = frame.with_columns(pl.Series("_flag", random_tie_flags(frame, k, seed))).filter(
        pl.col("_flag") & (pl.col("label") == 0)
    )
    turns_out = (
        pl.when(pl.col("outcome") != "none")
        .then(pl.col("outcome") + pl.lit(" case in the window"))
        .when(pl.col("later_refusal"))
        .then(pl.lit("school refusal after the window"))
        .otherwise(pl.lit("no case"))
    )
    table = (
        flagged.group_by(turns_out.alias("turns_out"))
        .agg(pl.col("student_key").n_unique().alias("pupils"))
        .sort("pupils", "turns_out", descending=[True, False])
    )
    return suppress_small(table, ["pupils"], min_cell)


def suppress_small(
    table: pl.DataFrame, columns: list[str], min_cell: int = MIN_CELL, pupils: str = "pupils"
) -> pl.DataFrame:
    """Blank ``columns`` on rows counting fewer than ``min_cell`` ``pupils``.

    When exactly one row would be blanked, the next smallest is blanked too, so that the
    hidden count cannot be found by subtracting the shown ones from a total.
    """
    small = (pl.col(pupils) < min_cell).fill_null(False)
    hidden = table.select(small.sum()).item()
    if hidden == 1 and table.height > 1:
        smallest_shown = table.filter(~small)[pupils].min()
        small = small | (pl.col(pupils) == smallest_shown)
    flag = pl.col("suppressed")
    return table.with_columns(small.alias("suppressed")).with_columns(
        [pl.when(flag).then(None).otherwise(pl.col(c)).alias(c) for c in columns]
    )


def global_importance(values: np.ndarray, features: list[str]) -> pl.DataFrame:
    """Mean absolute SHAP value per feature (``values``: rows x features), largest first."""
    return pl.DataFrame(
        {
            "feature": features,
            "family": [BY_NAME[f].family for f in features],
            "mean_abs_shap": np.abs(values).mean(axis=0),
        }
    ).sort("mean_abs_shap", descending=True, maintain_order=True)


def _mean(values: pl.Series) -> float:
    mean = values.cast(pl.Float64).mean()
    return float(mean) if isinstance(mean, (int, float)) else 0.0


def catalog_names() -> list[str]:
    """All catalog features, in catalog order."""
    return [f.name for f in CATALOG]
