"""Drift: does this week's feature table look like the rows the champion was trained on?

At training, each feature's distribution over the training rows is kept as a *reference*:
the edges of its deciles (fewer when values repeat, as counts of rare events do) and the share
of rows in each bin. Each week, the population stability index (PSI) compares a school's
pupils with it, feature by feature, and a family's PSI is the mean over its features:

    PSI = sum over bins of (share now - share then) * ln(share now / share then)

Under 0.1 is no change worth a look, 0.1 to 0.25 a moderate shift, over :data:`SHIFT` (0.25)
a shift large enough that the champion's probabilities may no longer hold for that school.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

SHIFT = 0.25
"""A family PSI above this is reported as a shift."""
_FLOOR = 1e-4  # an empty bin's share, so that the logarithm is defined
_QUANTILES = np.linspace(0.1, 0.9, 9)

Reference = dict[str, dict[str, list[float]]]
"""Per feature: ``edges`` (inner bin edges, increasing) and ``shares`` (one more than edges)."""


def reference(frame: pl.DataFrame, features: list[str]) -> Reference:
    """Each feature's decile bins over ``frame`` (the training rows) and their shares."""
    out: Reference = {}
    for name in features:
        values = frame[name].drop_nulls().to_numpy().astype(float)
        if values.size == 0:
            continue
        edges = np.unique(np.quantile(values, _QUANTILES, method="lower"))  # values that occur
        out[name] = {"edges": edges.tolist(), "shares": _shares(values, edges).tolist()}
    return out


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin: ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """The population stability index of ``actual`` shares against ``expected`` ones."""
    e, a = np.maximum(expected, _FLOOR), np.maximum(actual, _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def family_psi(frame: pl.DataFrame, ref: Reference, families: Mapping[str, str]) -> pl.DataFrame:
    """Per school and family of features: the mean PSI of its features against ``ref``.

    ``frame`` is a week's feature table (``school_id`` and the features); ``families`` maps
    each feature to its family. Returns ``school_id, family, psi, features``, sorted.
    """
    rows = []
    for (school,), pupils in frame.group_by("school_id", maintain_order=True):
        for name, bins in ref.items():
            if name not in pupils.columns or name not in families:
                continue
            values = pupils[name].drop_nulls().to_numpy().astype(float)
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
