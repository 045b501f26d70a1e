"""Fairness of the flags across groups of pupils (gender, SES, SEN), with fairlearn.

A pupil-week is *flagged* when it is in its school's top ``k``% that week (ties broken at
random, seeded). Per group: flag rate, recall, false positive rate and precision (fairlearn's
:class:`~fairlearn.metrics.MetricFrame`), then each metric's ratio to the reference group
(the largest) with a pupil bootstrap interval: pupils are resampled with all their weeks, the
flags stay as they were. The verdict per metric compares that interval with the 0.8-1.25 band
(``not defined`` where the metric has no denominator, e.g. recall in a group with no case).
Groups with fewer than :data:`MIN_GROUP` pupils are suppressed, not shown; so is a metric whose
denominator holds fewer than :data:`MIN_GROUP` pupils in the group or in the reference group
(recall over 3 cases, say): ``too few pupils``. Group sizes are rounded to tens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import precision_score

from models.ranking import random_tie_flags

FAIRNESS_BAND = (0.8, 1.25)
MIN_GROUP = 10
"""Groups with fewer pupils than this are suppressed, not shown."""
METRICS = ("flag_rate", "recall", "false_positive_rate", "precision")


def with_flags(frame: pl.DataFrame, k: float, seed: int) -> pl.DataFrame:
    """``frame`` with ``_flag``: the school's real list, ranked over *every* pupil of the week.

    Flags are set before any group filter: restricting the ranking to pupils whose attribute
    is known would measure lists that never existed.
    """
    return frame.with_columns(pl.Series("_flag", random_tie_flags(frame, k, seed)))


def group_metrics(
    frame: pl.DataFrame, attribute: str, k: float = 2.0, seed: int = 0
) -> pl.DataFrame:
    """Flag rate, recall, false positive rate and precision per group of ``attribute``.

    Flags are ranked over all rows of ``frame``; rows whose ``attribute`` is unknown are then
    left out. Columns: ``group``, the four metrics, ``pupils`` and ``attribute``. Small groups
    are *not* suppressed here (see :func:`fairness`). A rate without a denominator is NaN.
    """
    known = with_flags(frame, k, seed).filter(pl.col(attribute).is_not_null())
    if known.is_empty():
        return pl.DataFrame(
            schema={
                "group": pl.String,
                **dict.fromkeys(METRICS, pl.Float64),
                "pupils": pl.UInt32,
                "attribute": pl.String,
            }
        )
    metrics = MetricFrame(
        metrics={
            "flag_rate": selection_rate,
            "recall": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "precision": lambda t, p: precision_score(t, p, zero_division=0.0),
        },
        y_true=known["label"].to_numpy().astype(int),
        y_pred=known["_flag"].to_numpy().astype(int),
        sensitive_features=known[attribute].cast(pl.String).to_numpy(),
    )
    table = pl.from_pandas(
        metrics.by_group.reset_index().rename(columns={"sensitive_feature_0": "group"})
    )
    per_group = known.group_by(pl.col(attribute).cast(pl.String).alias("group")).agg(
        pl.col("student_key").n_unique().alias("pupils"),
        (pl.col("label") == 1).any().alias("_cases"),
        (pl.col("label") == 0).any().alias("_non_cases"),
        pl.col("_flag").any().alias("_flagged"),
    )
    # fairlearn reports 0 where a rate has no denominator; here that is "not defined" (NaN).
    return (
        table.join(per_group, on="group")
        .with_columns(
            pl.when(pl.col("_cases")).then(pl.col("recall")).otherwise(float("nan")),
            pl.when(pl.col("_non_cases"))
            .then(pl.col("false_positive_rate"))
            .otherwise(float("nan")),
            pl.when(pl.col("_flagged")).then(pl.col("precision")).otherwise(float("nan")),
            pl.lit(attribute).alias("attribute"),
        )
        .drop("_cases", "_non_cases", "_flagged")
        .sort("group")
    )


def _pupil_totals(frame: pl.DataFrame, attribute: str) -> pl.DataFrame:
    """Per pupil (and group): rows, flagged, true and false positives, positives, negatives.

    ``frame`` carries ``_flag`` (:func:`with_flags`).
    """
    label = pl.col("label").cast(pl.Int64)
    flag = pl.col("_flag").cast(pl.Int64)
    return (
        frame.group_by("student_key", pl.col(attribute).cast(pl.String).alias("group"))
        .agg(
            pl.len().alias("rows"),
            flag.sum().alias("flagged"),
            (flag * label).sum().alias("tp"),
            (flag * (1 - label)).sum().alias("fp"),
            label.sum().alias("positives"),
            (1 - label).sum().alias("negatives"),
        )
        .sort("student_key", "group")
    )


def _rates(totals: np.ndarray) -> np.ndarray:
    """The four metrics from summed totals (``rows, flagged, tp, fp, positives, negatives``).

    A metric without a denominator (recall in a group with no case, say) is NaN.
    """
    rows, flagged, tp, fp, positives, negatives = np.moveaxis(totals, -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack(
            [flagged / rows, tp / positives, fp / negatives, tp / flagged],
            axis=-1,
        )


def bootstrap_weights(pupils: int, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` x ``pupils`` resampling counts (each row sums to ``pupils``)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(pupils, np.full(pupils, 1.0 / pupils), size=n_boot).astype(float)


BOOTSTRAP_CHUNK_CELLS = 1 << 23
"""Resampling counts drawn at a time (64 MB of float64): whatever the board's size, a
bootstrap holds one chunk of resamples, not ``n_boot`` x ``pupils`` counts."""


def bootstrap_sums(
    pupils: int,
    parts: list[tuple[np.ndarray, np.ndarray]],
    n_boot: int,
    seed: int,
    chunk_cells: int = BOOTSTRAP_CHUNK_CELLS,
) -> list[np.ndarray]:
    """Per part ``(index, values)``, ``bootstrap_weights(pupils, n_boot, seed)[:, index] @
    values`` (``n_boot`` x columns), drawn a chunk of resamples at a time.

    The chunks come one after the other from the one seeded generator, so the resamples are
    those of :func:`bootstrap_weights`, row for row: with whole-number ``values`` (counts)
    every sum is exact and the result the same to the last bit; with fractions (expected
    places among ties) it may differ in the last bits, from the order of the additions.
    """
    rng = np.random.default_rng(seed)
    p = np.full(pupils, 1.0 / pupils)
    step = max(1, chunk_cells // max(pupils, 1))
    out: list[list[np.ndarray]] = [[] for _ in parts]
    for start in range(0, n_boot, step):
        counts = rng.multinomial(pupils, p, size=min(step, n_boot - start)).astype(float)
        for sums, (index, values) in zip(out, parts, strict=True):
            sums.append(counts[:, index] @ values)
    return [
        np.concatenate(sums) if sums else np.empty((0, values.shape[1]))
        for sums, (_, values) in zip(out, parts, strict=True)
    ]


def round_pupils(count: int, base: int = MIN_GROUP) -> int:
    """A group size rounded to a multiple of ``base``: sizes shown cannot be differenced."""
    return int(base * round(count / base))


def interval(values: np.ndarray, max_lost: float = 0.01) -> tuple[float, float]:
    """The central 95% of the resampled values.

    NaN when more than ``max_lost`` of them are not finite (a ratio to a resample with a zero
    denominator, say): dropping them would bias the interval.
    """
    finite = values[np.isfinite(values)]
    if not len(finite) or len(finite) < (1 - max_lost) * len(values):
        return float("nan"), float("nan")
    return float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


DENOMINATORS = {
    "flag_rate": "rows",
    "recall": "positives",
    "false_positive_rate": "negatives",
    "precision": "flagged",
}
"""Whose pupil-weeks each metric divides by."""


def _denominator_pupils(totals: pl.DataFrame) -> dict[tuple[str, str], int]:
    """Per (group, metric): the pupils with at least one week in the metric's denominator."""
    counts = totals.group_by("group").agg(
        [(pl.col(column) > 0).sum().alias(metric) for metric, column in DENOMINATORS.items()]
    )
    return {
        (row["group"], metric): int(row[metric])
        for row in counts.iter_rows(named=True)
        for metric in DENOMINATORS
    }


def verdict(low: float, high: float, band: tuple[float, float] = FAIRNESS_BAND) -> str:
    """``within`` when the interval lies in ``band``, ``outside`` when wholly outside it."""
    if np.isnan(low) or np.isnan(high):
        return "uncertain"
    if band[0] <= low and high <= band[1]:
        return "within"
    if high < band[0] or low > band[1]:
        return "outside"
    return "uncertain"


_EMPTY = {
    "attribute": pl.String,
    "group": pl.String,
    "pupils": pl.Int64,
    "metric": pl.String,
    "value": pl.Float64,
    "reference": pl.String,
    "ratio": pl.Float64,
    "ratio_low": pl.Float64,
    "ratio_high": pl.Float64,
    "verdict": pl.String,
}
"""The columns of :func:`fairness`, for an attribute with fewer than two groups to compare."""


def fairness(
    frame: pl.DataFrame,
    attribute: str,
    *,
    k: float = 2.0,
    n_boot: int = 200,
    seed: int = 0,
    min_group: int = MIN_GROUP,
) -> pl.DataFrame:
    """One row per (shown group, metric): value, ratio to the reference group, interval, verdict.

    Parameters
    ----------
    frame : pl.DataFrame
        Scored pupil-weeks: ``student_key, as_of, school_id, score, label`` and ``attribute``.
    attribute : str
        The column whose groups are compared (rows where it is null are left out after the
        flags are set).
    k : float, default 2.0
        A pupil-week is flagged when in its school's top ``k``% that week.
    n_boot : int, default 200
        Pupil bootstrap resamples for the ratio intervals.
    seed : int, default 0
        Seeds the tie-breaking of the flags and the resamples.
    min_group : int, default MIN_GROUP
        Groups under this many pupils are dropped before anything is compared; a metric
        whose denominator holds fewer pupils, in the group or in the reference group, is
        blanked (``too few pupils``).

    Returns
    -------
    pl.DataFrame
        ``attribute, group, pupils, metric, value, reference, ratio, ratio_low, ratio_high,
        verdict``; the reference group is the largest shown group. Empty when fewer than two
        groups are shown.
    """
    point = group_metrics(frame, attribute, k, seed).filter(pl.col("pupils") >= min_group)
    if point.height < 2:
        return pl.DataFrame(schema=_EMPTY)
    reference = point.sort(["pupils", "group"], descending=[True, False])["group"][0]
    known = with_flags(frame, k, seed).filter(pl.col(attribute).is_not_null())
    totals = _pupil_totals(known, attribute)
    boot = _resampled_rates(totals, point["group"], n_boot, seed)
    comparison = _Comparison(
        attribute=attribute,
        reference=reference,
        reference_point=point.filter(pl.col("group") == reference).row(0, named=True),
        reference_boot=boot[reference],
        counted=_denominator_pupils(totals),
        min_group=min_group,
    )
    rows = []
    for row in point.iter_rows(named=True):
        rows.extend(comparison.group_rows(row, boot[row["group"]]))
    return pl.DataFrame(rows)


def _resampled_rates(
    totals: pl.DataFrame, shown: pl.Series, n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    """Per shown group, its four metrics in each of ``n_boot`` pupil resamples (boots x metrics).

    ``totals`` come from :func:`_pupil_totals`: a pupil is drawn with all their weeks, and a
    pupil in two groups counts in each with the same weight.
    """
    pupils = totals["student_key"].unique().sort()
    index = (
        totals.select(
            pl.col("student_key").replace_strict(
                pupils, pl.int_range(len(pupils)), return_dtype=pl.Int64
            )
        )
        .to_series()
        .to_numpy()
    )
    values = totals.select("rows", "flagged", "tp", "fp", "positives", "negatives").to_numpy()
    groups = totals["group"].to_numpy()
    names = list(shown)
    parts = [(index[groups == g], values[groups == g].astype(float)) for g in names]
    sums = bootstrap_sums(len(pupils), parts, n_boot, seed)  # per group: boots x totals
    return {g: _rates(s) for g, s in zip(names, sums, strict=True)}


@dataclass(frozen=True)
class _Comparison:
    """What every group of one attribute is held against: the reference group's values and
    resampled rates, and the pupils behind each metric's denominator."""

    attribute: str
    reference: str
    reference_point: dict[str, Any]  # the reference group's row of :func:`group_metrics`
    reference_boot: np.ndarray  # its rates per resample (boots x metrics)
    counted: dict[tuple[str, str], int]  # :func:`_denominator_pupils`
    min_group: int

    def group_rows(self, point: dict[str, Any], boot: np.ndarray) -> list[dict[str, object]]:
        """The rows of one shown group (``point``, its row of :func:`group_metrics`), one per
        metric, with the ratios of its resampled rates (``boot``) to the reference's."""
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios = boot / self.reference_boot
        return [self._metric_row(point, metric, ratios[:, j]) for j, metric in enumerate(METRICS)]

    def _metric_row(
        self, point: dict[str, Any], metric: str, ratios: np.ndarray
    ) -> dict[str, object]:
        """One group's ``metric``: value, ratio to the reference with its interval, verdict."""
        value, base = float(point[metric]), self.reference_point[metric]
        low, high = interval(ratios)
        if self._too_few_pupils(point["group"], metric):
            # a rate over fewer than min_group pupils is a small cell: not shown (nor is
            # any ratio to it)
            judged, value, low, high = (
                "too few pupils",
                float("nan"),
                float("nan"),
                float("nan"),
            )
        elif point["group"] == self.reference:
            judged = "reference"
        elif np.isnan(value) or not base:
            judged = "not defined"
        else:
            judged = verdict(low, high)
        return {
            "attribute": self.attribute,
            "group": point["group"],
            "pupils": round_pupils(point["pupils"], self.min_group),
            "metric": metric,
            "value": value,
            "reference": self.reference,
            "ratio": value / base if base and not np.isnan(value) else float("nan"),
            "ratio_low": low,
            "ratio_high": high,
            "verdict": judged,
        }

    def _too_few_pupils(self, group: str, metric: str) -> bool:
        """Whether ``metric``'s denominator holds under ``min_group`` pupils in ``group`` or in
        the reference group."""
        fewest = min(self.counted[(group, metric)], self.counted[(self.reference, metric)])
        return fewest < self.min_group
