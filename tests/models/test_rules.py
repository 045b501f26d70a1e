from __future__ import annotations

import pandas as pd

from models.rules import AbsenceTenPercentRule, DutchMZLRule, FlemishBRule


def test_rules_flag_at_the_thresholds_schools_use() -> None:
    X = pd.DataFrame(
        {
            "b_halfdays_ytd": [4, 5, 0, 0],
            "illness_reports_12w": [0, 0, 4, 1],
            "illness_longest_spell_ytd": [0, 0, 1, 7],
            "absence_rate_ytd": [0.05, 0.099, 0.10, 0.2],
        }
    )
    assert FlemishBRule().fit(X).predict(X).tolist() == [0, 1, 0, 0]
    assert DutchMZLRule().fit(X).predict(X).tolist() == [0, 0, 1, 1]
    assert AbsenceTenPercentRule().fit(X).predict(X).tolist() == [0, 0, 1, 1]
    # Ranking follows the counted quantity.
    assert FlemishBRule().fit(X).decision_function(X).tolist() == [0.8, 1.0, 0.0, 0.0]
