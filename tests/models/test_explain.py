from __future__ import annotations

import numpy as np
import pytest

from features.catalog import BY_NAME
from models.estimators import calibrate, constrained_scorecard, monotone_boosting, scorecard
from models.explain import explain, log_odds
from models.reasons import format_value, top_reasons
from models.rules import FlemishBRule
from tests.models.test_estimators import FEATURES, synthetic

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


def test_a_rule_names_only_the_criterion_that_set_its_score() -> None:
    import pandas as pd

    from models.rules import DutchMZLRule

    X = pd.DataFrame({"illness_reports_12w": [4.0, 1.0], "illness_longest_spell_ytd": [0.0, 14.0]})
    parts = DutchMZLRule().fit(X).parts(X)
    assert parts["illness_reports_12w"].tolist() == [1.0, 0.0]
    assert parts["illness_longest_spell_ytd"].tolist() == [0.0, 2.0]
