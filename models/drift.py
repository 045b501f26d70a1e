"""Drift: does this week's feature table look like the rows the champion was trained on?

A feature that counts "this school year" grows from September to June, so a week is compared
with the training rows *at the same point of the school year*: the rows whose
``school_weeks_into_year`` lies within :data:`SEASON_WEEKS` of each value. At training, each
feature's distribution over those rows is kept as a *reference*: the edges of its deciles
(fewer when values repeat, as counts of rare events do), at two decimals, and the share of
rows in each bin.
Each week, the population stability index (PSI) compares a school's pupils with it, feature
by feature, and a family's PSI is the mean over its features:

    PSI = sum over bins of (share now - share then) * ln(share now / share then)

Under 0.1 is no change worth a look, 0.1 to 0.25 a moderate shift, over :data:`SHIFT` (0.25)
a shift large enough that the champion's probabilities may no longer hold for that school.
Features that are one value for a whole school or class in a week (the class's and school's
absence, the week of the school year), or a pupil's distance from the class's value, are left
out: a school's pupils come in classes, not as independent draws of them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

SHIFT = 0.25
"""A family PSI above this is reported as a shift."""
SEASON_WEEKS = 2
"""A week is compared with the training rows this many school weeks either side of it."""
WEEK = "school_weeks_into_year"
LEFT_OUT = frozenset(
    {
        WEEK,
        "class_absence_rate_4w",
        "school_absence_rate_4w",
        "absence_rate_vs_class_4w",
        "illness_rate_vs_class_4w",
    }
)
"""Features that are one value for a whole school or class in a week, or a pupil's distance
from the class's value: a school's pupils are not independent draws of them."""
_FLOOR = 1e-4  # an empty bin's share, so that the logarithm is defined
_DECIMALS = 2
"""Values are binned at this precision: a share that differs in its third decimal from school
to school (1 - school days / half-days, say) is one value, not a cluster of bin edges."""
_QUANTILES = np.linspace(0.1, 0.9, 9)

Bins = dict[str, list[float]]
"""``edges`` (inner bin edges, increasing) and ``shares`` (one more than edges)."""
Reference = dict[str, dict[str, Bins]]
"""Per week of the school year (as text, for JSON), per feature: its bins."""


def reference(frame: pl.DataFrame | pl.LazyFrame, features: list[str]) -> Reference:
    """Each feature's decile bins over the rows of ``frame`` (the training rows) near each
    week of the school year it holds.

    A lazy ``frame`` is read :data:`COLUMNS_AT_A_TIME` features at a time (with the week
    beside them), so that only a few columns of the training rows are held at once, whatever
    their number.
    """
    kept = [f for f in features if f not in LEFT_OUT]
    lazy = frame.lazy()
    out: Reference = {}
    for start in range(0, len(kept), COLUMNS_AT_A_TIME):
        batch = kept[start : start + COLUMNS_AT_A_TIME]
        # The week is read beside its features: two reads of a lazy join need not keep order.
        columns = lazy.select(pl.col(WEEK).cast(pl.Int64), *batch).collect()
        weeks = columns[WEEK]
        for week in sorted(weeks.unique().to_list()):
            near = columns.filter((weeks - week).abs() <= SEASON_WEEKS)
            season = out.setdefault(str(week), {})
            for name in batch:
                season[name] = _bins(near[name])
    return out


COLUMNS_AT_A_TIME = 4
"""Features :func:`reference` reads from a lazy frame in one pass."""


def _bins(column: pl.Series) -> Bins:
    values = _rounded(column)
    edges: np.ndarray = np.asarray([], dtype=float)
    if values.size:
        edges = np.unique(np.quantile(values, _QUANTILES, method="lower"))
    return {"edges": edges.tolist(), "shares": _shares(values, edges).tolist()}


def _rounded(column: pl.Series) -> np.ndarray:
    return np.round(column.drop_nulls().to_numpy().astype(float), _DECIMALS)


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin: ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """The population stability index of ``actual`` shares against ``expected`` ones."""
    e, a = np.maximum(expected, _FLOOR), np.maximum(actual, _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def family_psi(frame: pl.DataFrame, ref: Reference, families: Mapping[str, str]) -> pl.DataFrame:
    """Per school and family of features: the mean PSI of its features against the reference
    of the school's week of the school year (the nearest week the reference has).

    ``frame`` is a week's feature table (``school_id``, ``school_weeks_into_year`` and the
    features); ``families`` maps each feature to its family. Returns ``school_id, family, psi,
    features``, sorted.
    """
    known = sorted(int(w) for w in ref)
    rows = []
    for (school,), pupils in frame.group_by("school_id", maintain_order=True):
        if not known:
            continue
        week = int(pupils[WEEK].cast(pl.Int64).max() or 0)  # type: ignore[arg-type]  # one per school
        season = ref[str(min(known, key=lambda w: (abs(w - week), w)))]
        for name, bins in season.items():
            if name not in pupils.columns or name not in families:
                continue
            values = _rounded(pupils[name])
            edges = np.asarray(bins["edges"], dtype=float)
            value = psi(np.asarray(bins["shares"]), _shares(values, edges))
            rows.append((str(school), families[name], value))
    schema = {"school_id": pl.String, "family": pl.String, "psi": pl.Float64}
    per_feature = pl.DataFrame(rows, schema=schema, orient="row")
    return (
        per_feature.group_by("school_id", "family")
        .agg(pl.col("psi").mean(), pl.len().alias("features"))
        .sort("school_id", "family")
    )
