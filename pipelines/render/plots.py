"""Plots for MLflow and the reports (matplotlib, no display)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import polars as pl

if TYPE_CHECKING:
    from models.ladder import RungResult
    from models.splits import Split

WIDTH = 7.0
"""Inches: the widest a report's figure is drawn, an A4 page's width inside 14 mm margins."""
DPI = 110


def splits_plot(splits: list[Split], path: Path) -> Path:
    """Fit, calibration and test slices of each forward split on a time line."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.6 + 0.45 * len(splits)))
    for i, s in enumerate(splits):
        start = min(s.fit_end, s.calibration_start)
        ax.barh(
            i,
            (s.fit_end - start).days + 120,
            left=np.datetime64(s.fit_end) - np.timedelta64(120, "D"),
            color="#9ecae1",
            label="fit" if i == 0 else None,
        )
        ax.barh(
            i,
            (s.calibration_end - s.calibration_start).days,
            left=np.datetime64(s.calibration_start),
            color="#fdae6b",
            label="calibration" if i == 0 else None,
        )
        ax.barh(
            i,
            (s.test_end - s.test_start).days,
            left=np.datetime64(s.test_start),
            color="#31a354",
            label="test" if i == 0 else None,
        )
    ax.set_yticks(range(len(splits)), [s.name for s in splits])
    ax.set_title("Forward-in-time splits (fit continues to the left)")
    ax.legend(loc="lower right", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def precision_at_k_plot(results: list[RungResult], path: Path) -> Path:
    """Mean precision in the top 2, 5 and 10% per rung, with the spread over splits."""
    ks = (2, 5, 10)
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(results), 1)
    for i, r in enumerate(results):
        means = [r.mean(f"precision_at_{k}") for k in ks]
        stds = [r.std(f"precision_at_{k}") for k in ks]
        ax.bar(
            np.arange(len(ks)) + i * width, means, width, yerr=stds, label=r.rung.name, capsize=2
        )
    ax.set_xticks(np.arange(len(ks)) + width * (len(results) - 1) / 2, [f"top {k}%" for k in ks])
    ax.set_ylabel("precision (mean over forward splits)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def calibration_plot(scored: pl.DataFrame, path: Path, title: str, bins: int = 10) -> Path:
    """Observed rate against predicted risk, in equal-count bins."""
    y = scored["label"].to_numpy().astype(float)
    p = scored["risk"].to_numpy()
    order = np.argsort(p, kind="stable")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    ax.plot([p[c].mean() for c in chunks], [y[c].mean() for c in chunks], marker="o")
    top = max(0.02, float(np.max(p)) if len(p) else 0.02)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted risk")
    ax.set_ylabel("observed share of new cases")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _spread(mid: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Error-bar lengths below and above ``mid`` (0 where an interval does not contain it)."""
    return np.nan_to_num(np.clip(np.vstack([mid - low, high - mid]), 0, None))


def interval_plot(
    table: pl.DataFrame, label: str, value: str, path: Path, title: str, xlabel: str
) -> Path:
    """One horizontal bar per row of ``table`` with its ``<value>_low``..``<value>_high`` interval."""
    names = table[label].to_list()
    mid = table[value].to_numpy()
    low = table[f"{value}_low"].to_numpy()
    high = table[f"{value}_high"].to_numpy()
    fig, ax = plt.subplots(figsize=(WIDTH, 0.8 + 0.4 * len(names)))
    y = np.arange(len(names))[::-1]
    ax.barh(y, mid, color="#6baed6")
    ax.errorbar(mid, y, xerr=_spread(mid, low, high), fmt="none", ecolor="#333", capsize=3)
    ax.set_yticks(y, names)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def lead_time_plot(curve: pl.DataFrame, path: Path, k: float) -> Path:
    """Share of cases flagged at least N weeks before their label date, per model."""
    fig, ax = plt.subplots(figsize=(WIDTH, 4))
    weeks = curve["weeks_before"].to_numpy()
    for name in curve.columns[1:]:
        ax.plot(weeks, curve[name].to_numpy(), marker="o", label=name)
    ax.set_xlabel("weeks before the label date (at least)")
    ax.set_ylabel(f"share of new cases flagged (top {k:g}%)")
    ax.set_ylim(0, None)
    ax.legend(fontsize=8)
    return _save(fig, path)


def calibration_curves(bins: dict[str, pl.DataFrame], path: Path) -> Path:
    """Observed share of new cases against mean predicted risk per bin, one line per model."""
    fig, ax = plt.subplots(figsize=(5, 5))
    top = 0.02
    for name, table in bins.items():
        ax.plot(table["mean_risk"], table["observed"], marker="o", label=name)
        top = max(
            top,
            float(table["mean_risk"].to_numpy().max()),
            float(table["observed"].to_numpy().max()),
        )
    ax.plot([0, top], [0, top], color="grey", lw=1, ls="--")
    ax.set_xlabel("predicted risk (bin mean)")
    ax.set_ylabel("observed share of new cases")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _wrap(label: str, width: int) -> str:
    """A long label broken into lines of at most ``width`` characters."""
    return textwrap.fill(label, width)


def importance_plot(importance: pl.DataFrame, path: Path, top: int = 15) -> Path:
    """Mean absolute SHAP value of the ``top`` features (long names wrapped)."""
    head = importance.head(top)
    labels = [_wrap(name, 45) for name in head["feature"]]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.8 + 0.12 * lines + 0.18 * head.height))
    y = np.arange(head.height)[::-1]
    ax.barh(y, head["mean_abs_shap"].to_numpy(), color="#fd8d3c")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(-0.6, head.height - 0.4)
    ax.set_xlabel("mean |SHAP| (log-odds)")
    return _save(fig, path)


def dependence_plot(
    values: np.ndarray, data: np.ndarray, names: list[str], path: Path, min_rows: int = 10
) -> Path:
    """Mean SHAP value against mean feature value per bin, one panel per feature.

    Rows are sorted by the feature and cut into at most 20 equal-count bins of at least
    ``min_rows`` rows: the curve's shape without any single pupil's value.
    """
    cols = min(len(names), 2)
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH / 2 * cols, 2.8 * rows), squeeze=False)
    bins = max(1, min(20, len(values) // min_rows))
    for i, name in enumerate(names):
        ax = axes[i // cols][i % cols]
        chunks = np.array_split(np.argsort(data[:, i], kind="stable"), bins)
        x = [float(data[c, i].mean()) for c in chunks if len(c)]
        y = [float(values[c, i].mean()) for c in chunks if len(c)]
        ax.plot(x, y, marker="o", ms=3, color="#3182bd")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(_wrap(name, 55), fontsize=8)
        ax.set_xlabel("feature value (bin mean)", fontsize=8)
        ax.set_ylabel("mean SHAP (log-odds)", fontsize=8)
    for j in range(len(names), rows * cols):
        axes[j // cols][j % cols].axis("off")
    return _save(fig, path)


def with_breaks(series: pl.DataFrame, date: str = "as_of") -> pl.DataFrame:
    """``series`` sorted by ``date``, with a row of nulls in every run of weeks without a date.

    A holiday has no as-of date; a line drawn through the null row breaks there instead of
    joining the last week before the summer to the first one after it. The null row's date is
    the Monday after the last date before the gap.
    """
    ordered = series.sort(date)
    week = pl.col(date).dt.truncate("1w")
    gaps = ordered.filter((week.shift(-1) - week) > pl.duration(weeks=1)).select(
        (pl.col(date).dt.truncate("1w") + pl.duration(weeks=1)).cast(ordered.schema[date])
    )
    return pl.concat([ordered, gaps], how="diagonal").sort(date)


def weekly_precision_plot(weekly: pl.DataFrame, path: Path, k: float) -> Path:
    """Precision in the top ``k``% week by week, one line per model, broken across holidays."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    for (name,), part in weekly.group_by("model", maintain_order=True):
        line = with_breaks(part.select("as_of", "precision"))
        ax.plot(
            line["as_of"].to_numpy(),
            line["precision"].fill_null(float("nan")).to_numpy(),
            marker=".",
            label=str(name),
        )
    ax.set_ylabel(f"precision in the top {k:g}%")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _save(fig, path)


def fairness_plot(table: pl.DataFrame, path: Path, band: tuple[float, float]) -> Path:
    """Each group's ratio to its reference group with its interval, against the band."""
    shown = table.filter(pl.col("verdict") != "reference")
    labels = [
        f"{a} {g}: {m}" for a, g, m in shown.select("attribute", "group", "metric").iter_rows()
    ]
    fig, ax = plt.subplots(figsize=(WIDTH, 0.8 + 0.3 * max(len(labels), 1)))
    y = np.arange(len(labels))[::-1]
    ax.axvspan(*band, color="#c7e9c0", alpha=0.6, label=f"{band[0]}-{band[1]}")
    ratio = shown["ratio"].to_numpy()
    low = shown["ratio_low"].to_numpy()
    high = shown["ratio_high"].to_numpy()
    ax.errorbar(ratio, y, xerr=_spread(ratio, low, high), fmt="o", color="#333", capsize=2)
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("ratio to the reference group")
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)
