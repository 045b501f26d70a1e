from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib.image import imread

from models.ladder import Rung, RungResult
from models.metrics import METRIC_KEYS
from models.rules import FlemishBRule
from models.splits import Split
from pipelines.render import plots

MONDAY = dt.date(2024, 9, 2)
W = dt.timedelta(weeks=1)


def test_error_bars_reach_the_interval_and_vanish_where_it_misses_the_value() -> None:
    mid = np.array([0.5, 0.5, 0.5, 0.5])
    low = np.array([0.4, 0.6, np.nan, 0.5])
    high = np.array([0.7, 0.9, np.nan, 0.5])
    below, above = plots._spread(mid, low, high)
    assert below == pytest.approx([0.1, 0.0, 0.0, 0.0])  # 0.6 lies above 0.5: no bar below
    assert above == pytest.approx([0.2, 0.4, 0.0, 0.0])  # an unknown interval: no bar


def _result(name: str, precision: float) -> RungResult:
    metrics = dict.fromkeys(METRIC_KEYS, precision)
    return RungResult(Rung(name, "rule", lambda _f: FlemishBRule(), name), [metrics, metrics])


SPLIT = Split(
    "s1", MONDAY + 10 * W, MONDAY + 18 * W, MONDAY + 22 * W, MONDAY + 30 * W, MONDAY + 34 * W
)
SCORED = pl.DataFrame({"label": [0, 0, 1, 0, 1, 0], "risk": [0.01, 0.02, 0.3, 0.05, 0.2, 0.0]})
INTERVALS = pl.DataFrame(
    {
        "features": ["B-codes only", "full model"],
        "p": [0.1, 0.3],
        "p_low": [0.05, 0.2],
        "p_high": [0.2, 0.4],
    }
)
BINS = pl.DataFrame({"mean_risk": [0.01, 0.1], "observed": [0.0, 0.2]})
FAIRNESS = pl.DataFrame(
    {
        "attribute": ["gender"] * 2,
        "group": ["F", "M"],
        "metric": ["flag_rate"] * 2,
        "ratio": [1.0, 0.9],
        "ratio_low": [1.0, 0.7],
        "ratio_high": [1.0, 1.1],
        "verdict": ["reference", "uncertain"],
    }
)

PLOTS: dict[str, Callable[[Path], Path]] = {
    "splits": lambda p: plots.splits_plot([SPLIT], p),
    "precision_at_k": lambda p: plots.precision_at_k_plot(
        [_result("a", 0.1), _result("b", 0.2)], p
    ),
    "calibration": lambda p: plots.calibration_plot(SCORED, p, "rule", bins=3),
    "interval": lambda p: plots.interval_plot(INTERVALS, "features", "p", p, "title", "precision"),
    "lead_time": lambda p: plots.lead_time_plot(
        pl.DataFrame({"weeks_before": [0, 1, 2], "model": [0.6, 0.4, 0.1]}), p, 2
    ),
    "calibration_curves": lambda p: plots.calibration_curves({"model": BINS}, p),
    "importance": lambda p: plots.importance_plot(
        pl.DataFrame({"feature": ["b_rate_4w", "late_arrivals_4w"], "mean_abs_shap": [0.3, 0.1]}), p
    ),
    "dependence": lambda p: plots.dependence_plot(
        np.linspace(-1, 1, 60).reshape(20, 3), np.arange(60.0).reshape(20, 3), ["a", "b", "c"], p
    ),
    "weekly_precision": lambda p: plots.weekly_precision_plot(
        pl.DataFrame({"model": ["m", "m"], "as_of": [MONDAY, MONDAY + W], "precision": [0.1, 0.2]}),
        p,
        2,
    ),
    "fairness": lambda p: plots.fairness_plot(FAIRNESS, p, (0.8, 1.25)),
}


@pytest.mark.parametrize("name", list(PLOTS))
def test_each_plot_draws_a_png_where_it_is_asked(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.png"
    assert PLOTS[name](path) == path
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    pixels = imread(path)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10  # not blank


@pytest.mark.parametrize("name", sorted(set(PLOTS) - {"precision_at_k", "calibration"}))
def test_each_figure_of_the_research_report_fits_an_a4_page(name: str, tmp_path: Path) -> None:
    # (precision_at_k and calibration are drawn for MLflow, not for a printed page)
    width = imread(PLOTS[name](tmp_path / f"{name}.png")).shape[1]
    assert width <= plots.WIDTH * plots.DPI < 182 / 25.4 * plots.DPI  # A4 less 14 mm margins


def test_the_week_by_week_line_breaks_where_a_week_has_no_as_of_date() -> None:
    # June into the summer; back on a Tuesday in September (a Monday off), every week to the
    # one-week autumn break, then November: a null row in each gap, none between school weeks
    autumn = [dt.date(2024, 9, 9) + k * W for k in range(7)]
    dates = [dt.date(2024, 6, 17), dt.date(2024, 6, 24), dt.date(2024, 9, 3), *autumn]
    dates.append(dt.date(2024, 11, 4))
    series = pl.DataFrame({"as_of": dates[::-1], "precision": np.linspace(0.1, 0.5, len(dates))})
    line = plots.with_breaks(series)
    assert line["as_of"].is_sorted()
    assert line.filter(pl.col("precision").is_null())["as_of"].to_list() == [
        dt.date(2024, 7, 1),
        dt.date(2024, 10, 28),
    ]
    assert line.drop_nulls().equals(series.sort("as_of"))
