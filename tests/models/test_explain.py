from __future__ import annotations

import numpy as np
import pytest

from features.catalog import BY_NAME
from models.estimators import calibrate, constrained_scorecard, monotone_boosting, scorecard
from models.explain import explain, log_odds
from models.reasons import format_value, shows, top_reasons
from models.rules import FlemishBRule
from tests.models.test_estimators import FEATURES, against_the_catalog, synthetic

MAKERS = {
    "scorecard": scorecard,
    "scorecard_constrained": constrained_scorecard,
    "scorecard_splines": lambda f: scorecard(f, splines=True),
    "monotone_gbm": monotone_boosting,
    "rule": lambda _f: FlemishBRule(),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_base_value_plus_contributions_is_the_model_output(name: str) -> None:
    X, y = synthetic(3000, 1)
    Xc, yc = synthetic(1500, 2)
    model = calibrate(MAKERS[name](FEATURES).fit(X, y), Xc, yc)
    rows = X.head(50)
    explanation = explain(model, rows, X.sample(100, random_state=0))
    assert explanation.values.shape == (50, len(FEATURES))
    assert list(explanation.feature_names) == FEATURES
    total = explanation.base_values + explanation.values.sum(axis=1)
    assert np.allclose(total, log_odds(model, rows), atol=1e-8)


def test_reasons_quote_the_feature_value_and_only_push_risk_up() -> None:
    X, y = synthetic(3000, 1)
    Xc, yc = synthetic(1500, 2)
    model = calibrate(scorecard(FEATURES).fit(X, y), Xc, yc)
    rows = X.head(20)
    explanation = explain(model, rows, X.sample(100, random_state=0))
    typical = np.zeros(explanation.values.shape)
    for i, reasons in enumerate(top_reasons(explanation, typical, "en")):
        assert len(reasons) <= 3
        for reason in reasons:
            assert reason.contribution > 0
            assert reason.value == rows.iloc[i][reason.feature]
            if BY_NAME[reason.feature].unit == "yes/no":  # a yes/no signal is named, not quoted
                assert reason.text == BY_NAME[reason.feature].en
            else:
                assert format_value(reason.feature, reason.value, "en") in reason.text


@pytest.mark.parametrize("maker", [scorecard, constrained_scorecard])
def test_no_reason_quotes_a_zero_the_safe_side_or_context_as_the_pupils_own(maker: object) -> None:
    # The free scorecard learns that being on time raises the risk here; the reasons must
    # still name only what the pupil shows, in the catalog's direction.
    X, y = against_the_catalog(3000, 11)
    Xc, yc = against_the_catalog(1500, 12)
    model = calibrate(maker(FEATURES).fit(X, y), Xc, yc)  # type: ignore[operator]
    rows = X.head(200).copy()
    rows["late_arrivals_ytd"] = np.where(np.arange(200) % 2 == 0, 0.0, rows["late_arrivals_ytd"])
    explanation = explain(model, rows, X.sample(100, random_state=0))
    typical = np.tile(np.median(X.to_numpy(), axis=0), (len(rows), 1))
    quoted = [r for reasons in top_reasons(explanation, typical, "en", n=5) for r in reasons]
    assert quoted
    for reason in quoted:
        spec = BY_NAME[reason.feature]
        assert reason.contribution > 0 and shows(reason.feature, reason.value, reason.typical)
        assert reason.value != 0
        if spec.unit == "yes/no":
            assert reason.value >= 0.5  # a yes
        elif spec.direction == 1:
            assert reason.value > max(0.0, reason.typical)
        assert reason.context == (spec.direction == 0)
        assert reason.text.startswith("Context: ") == reason.context


def test_a_rule_names_only_the_criterion_that_set_its_score() -> None:
    import pandas as pd

    from models.rules import DutchMZLRule

    X = pd.DataFrame({"illness_reports_12w": [4.0, 1.0], "illness_longest_spell_ytd": [0.0, 14.0]})
    parts = DutchMZLRule().fit(X).parts(X)
    assert parts["illness_reports_12w"].tolist() == [1.0, 0.0]
    assert parts["illness_longest_spell_ytd"].tolist() == [0.0, 2.0]
