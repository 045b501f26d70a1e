from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import polars as pl
import pytest

from features.catalog import CATALOG
from models import ladder
from models.metrics import METRIC_KEYS
from models.rules import FlemishBRule
from tests.models.test_estimators import FEATURES as ALL_FEATURES
from tests.models.test_estimators import against_the_catalog


def rung(name: str, kind: str = "model") -> ladder.Rung:
    return ladder.Rung(name, kind, lambda _f: FlemishBRule(), name)


def result(name: str, precision_at_2: list[float], failures: int = 0) -> ladder.RungResult:
    """A rung's result with the given precision in the top 2% per split (NaN: not calibrated)."""
    metrics = [dict.fromkeys(METRIC_KEYS, 0.0) | {"precision_at_2": p} for p in precision_at_2]
    return ladder.RungResult(
        rung(name), metrics=metrics, failures=[f"split {i}: refused" for i in range(failures)]
    )


def test_the_ladder_climbs_from_todays_rules_to_learned_models() -> None:
    rungs = ladder.default_ladder()
    assert [(r.name, r.kind) for r in rungs] == [
        ("rule_flanders_b5", "rule"),
        ("rule_mzl", "rule"),
        ("rule_absence_10pct", "rule"),
        ("scorecard", "model"),
        ("scorecard_free", "model"),
        ("monotone_gbm", "model"),
    ]
    assert [r.name for r in rungs if r.comparison_only] == ["scorecard_free"]
    assert rungs[0].description == (
        "Flanders: act at 5 or more B-code half-days in the school year; rank by the count."
    )


def test_the_selection_score_is_the_mean_less_half_the_spread_over_the_splits() -> None:
    steady = result("steady", [0.3, 0.3])
    erratic = result("erratic", [0.2, 0.6])  # mean 0.4, spread (population std) 0.2
    assert ladder.selection_score(steady) == pytest.approx(0.3)
    assert ladder.selection_score(erratic) == pytest.approx(0.4 - 0.5 * 0.2)
    assert ladder.selection_score(erratic, penalty=0.0) == pytest.approx(0.4)
    # a split without metrics (NaN) is left out of the mean and the spread alike
    gap = result("gap", [0.2, float("nan"), 0.6])
    assert (gap.mean("precision_at_2"), gap.std("precision_at_2")) == pytest.approx((0.4, 0.2))
    assert np.isnan(result("none", [float("nan")]).mean("precision_at_2"))


def test_the_champion_is_the_best_penalised_precision_not_the_best_mean() -> None:
    results = [
        result("rule", [0.10, 0.12]),  # 0.11 - 0.005 = 0.105
        result("erratic", [0.10, 0.50]),  # 0.30 - 0.10 = 0.20
        result("steady", [0.24, 0.26]),  # 0.25 - 0.005 = 0.245
    ]
    assert ladder.select(results).rung.name == "steady"
    assert ladder.select(results, penalty=0.0).rung.name == "erratic"  # the mean alone


def test_a_rung_not_calibrated_on_every_split_cannot_be_champion() -> None:
    results = [
        result("rule", [0.10, 0.10]),
        result("best_where_it_ran", [0.90, float("nan")], failures=1),
    ]
    assert ladder.select(results).rung.name == "rule"


def test_a_tie_goes_to_the_earlier_rung_so_a_rule_beats_an_equal_model() -> None:
    results = [result("rule_a", [0.2, 0.2]), result("model_b", [0.2, 0.2])]
    assert ladder.select(results).rung.name == "rule_a"
    assert ladder.select(results[::-1]).rung.name == "model_b"


def test_with_no_eligible_rung_the_error_names_each_rungs_first_failure_in_one_line() -> None:
    results = [result("a", [float("nan")], failures=2), result("b", [float("nan")], failures=1)]
    with pytest.raises(ladder.CalibrationError) as refused:
        ladder.select(results)
    assert str(refused.value) == (
        "no rung that may be champion could be calibrated on every split: "
        "split 0: refused; split 0: refused"
    )
    # a comparison rung calibrated everywhere does not make one
    free = ladder.RungResult(
        ladder.Rung("free", "model", lambda _f: FlemishBRule(), "free", comparison_only="free"),
        metrics=[{"precision_at_2": 0.5}],
    )
    with pytest.raises(ladder.CalibrationError, match="no rung that may be champion"):
        ladder.select([*results, free])


MONDAY = dt.date(2024, 9, 2)


def rows(b_halfdays: list[float], label: list[int], week: int = 0) -> pl.DataFrame:
    """Pupil-weeks of one school with one feature, ``b_halfdays_ytd``."""
    n = len(label)
    return pl.DataFrame(
        {
            "student_key": [f"k{i}" for i in range(n)],
            "as_of": [MONDAY + dt.timedelta(weeks=week)] * n,
            "school_id": ["S"] * n,
            "b_halfdays_ytd": b_halfdays,
            "label": label,
        },
        schema_overrides={"b_halfdays_ytd": pl.Float64, "label": pl.Int32},
    )


FEATURES = ["b_halfdays_ytd"]
B_RULE = rung("rule_flanders_b5", "rule")
OPTIONS = ladder.FitOptions()


def test_a_calibration_slice_with_one_case_is_refused_before_anything_is_fitted() -> None:
    fit = rows([0, 6], [0, 1])
    one_case = rows([0, 1, 6], [0, 0, 1], week=4)
    with pytest.raises(ladder.CalibrationError, match=r"^rule_flanders_b5: 1 case\(s\) in the"):
        ladder.fit_calibrated(B_RULE, fit, one_case, FEATURES, OPTIONS)


def test_a_learned_rung_needs_a_case_in_its_fit_slice_and_a_rule_does_not() -> None:
    no_case = rows([0, 1, 2], [0, 0, 0])
    calibration = rows([0, 1, 2, 6, 7, 8], [0, 0, 0, 1, 1, 1], week=4)
    learned = ladder.Rung("learned", "model", lambda _f: FlemishBRule(), "")
    with pytest.raises(ladder.CalibrationError, match="no case in the fit slice to learn from"):
        ladder.fit_calibrated(learned, no_case, calibration, FEATURES, OPTIONS)
    ladder.fit_calibrated(B_RULE, no_case, calibration, FEATURES, OPTIONS)  # a rule fits as is


def test_a_calibration_that_would_reverse_the_ranking_is_refused() -> None:
    fit = rows([0, 6], [0, 1])
    # the cases have the fewest B-codes: Platt's slope would turn the rule's order around
    reversed_slice = rows([0, 0, 0, 6, 7, 8, 9, 10], [1, 1, 1, 0, 0, 0, 0, 0], week=4)
    with pytest.raises(
        ladder.CalibrationError, match="calibration on the later weeks would reverse the ranking"
    ):
        ladder.fit_calibrated(B_RULE, fit, reversed_slice, FEATURES, OPTIONS)


def test_a_rule_is_scored_by_its_own_quantity_and_a_calibrated_risk_in_the_same_order() -> None:
    fit = rows([0, 6], [0, 1])
    calibration = rows([0, 1, 2, 3, 6, 7, 8, 9], [0, 0, 0, 1, 0, 1, 1, 1], week=4)
    model = ladder.fit_calibrated(B_RULE, fit, calibration, FEATURES, OPTIONS)
    test = rows([10, 5, 0, 2.5], [1, 0, 0, 0], week=8)
    scored = ladder.score(model, test, FEATURES)
    assert scored.drop("score", "risk").equals(test)
    assert scored["score"].to_list() == [2.0, 1.0, 0.0, 0.5]  # B half-days / 5, the threshold
    risk = scored["risk"].to_list()
    assert risk[0] > risk[1] > risk[3] > risk[2] > 0


def test_each_rung_is_told_in_words_why_it_is_or_is_not_the_champion() -> None:
    rungs = {r.name: r for r in ladder.default_ladder()}
    results = [
        ladder.RungResult(rungs[name], metrics=[{"precision_at_2": p}, {"precision_at_2": p}])
        for name, p in (("rule_flanders_b5", 0.1), ("scorecard", 0.3), ("scorecard_free", 0.4))
    ]
    failed = ladder.RungResult(rungs["monotone_gbm"], metrics=[{"precision_at_2": float("nan")}])
    failed.failures.append(
        "split 1: monotone_gbm: 1 case(s) in the calibration slice, fewer than 2"
    )
    assert ladder.select([*results, failed]) is results[1]
    words = ladder.eligibility([*results, failed], results[1])
    assert words == {
        "rule_flanders_b5": "eligible, selection score 0.100, below the champion's 0.300",
        "scorecard": "champion: the best selection score of the eligible rungs, 0.300 (mean "
        "precision in the top 2% 0.300 less half its spread 0.000)",
        "scorecard_free": "not eligible: a comparison only, its weights are free, so a signal "
        "can count against the catalog's risk direction (being on time raising the risk); "
        "selection score 0.400, the champion's 0.300",
        "monotone_gbm": "not eligible: it could not be calibrated on every split (split 1: "
        "monotone_gbm: 1 case(s) in the calibration slice, fewer than 2)",
    }


def test_no_rung_that_may_be_champion_can_contradict_the_catalog() -> None:
    # On rows where late arrivals lower the risk, every rung that may be champion still never
    # lowers a pupil's risk when a +1 signal rises; the free scorecard does, so it is only a
    # comparison.
    fit, calibration = against_the_catalog_frame(3000, 1), against_the_catalog_frame(1500, 2)
    X = against_the_catalog_frame(300, 3).select(ALL_FEATURES).to_pandas()
    rising = [f.name for f in CATALOG if f.direction == 1]
    contradicts = {}
    rungs = [r for r in ladder.default_ladder() if r.kind == "model"]  # rules are thresholds
    for rung in rungs:
        model = ladder.fit_calibrated(rung, fit, calibration, ALL_FEATURES, ladder.FitOptions())
        base = model.predict_proba(X)[:, 1]
        contradicts[rung.name] = any(
            (model.predict_proba(X.assign(**{f: X[f] + 2.0}))[:, 1] < base - 1e-12).any()
            for f in rising
        )
    assert contradicts == {r.name: bool(r.comparison_only) for r in rungs}
    assert contradicts["scorecard_free"]


def against_the_catalog_frame(n: int, seed: int) -> pl.DataFrame:
    """:func:`tests.models.test_estimators.against_the_catalog` as the ladder's rows."""
    X, y = against_the_catalog(n, seed)
    return pl.from_pandas(X).with_columns(label=pl.Series(y))


def test_boosting_fitted_from_the_rows_is_the_model_the_pipeline_fits_on_a_frame() -> None:
    # The boosting rung's column selection learns nothing, so the ladder fits its estimator on
    # one float64 array filled from the rows: the same model, byte for byte, as the pipeline
    # fitted on a pandas frame of 32-bit features (the training table's).
    rows = against_the_catalog_frame(3000, 1).with_columns(pl.col(ALL_FEATURES).cast(pl.Float32))
    weights = np.random.default_rng(0).uniform(1.0, 4.0, rows.height)
    rung = next(r for r in ladder.default_ladder() if r.name == "monotone_gbm")
    on_rows, on_frame = rung.make(ALL_FEATURES), rung.make(ALL_FEATURES)
    ladder._fit_weighted(on_rows, rows, ALL_FEATURES, weights)
    on_frame.fit(
        rows.select(ALL_FEATURES).to_pandas(),
        rows["label"].to_numpy(),
        clf__sample_weight=weights,
    )
    assert pickle.dumps(on_rows) == pickle.dumps(on_frame)
