"""Plots for MLflow and the reports (matplotlib, no display)."""

from __future__ import annotations

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


def splits_plot(splits: list[Split], path: Path) -> Path:
    """Fit, calibration and test slices of each forward split on a time line."""
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.45 * len(splits)))
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
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
    fig.savefig(path, dpi=110)
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
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
