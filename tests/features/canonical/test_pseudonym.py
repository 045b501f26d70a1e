from __future__ import annotations

import polars as pl
import pytest

from features.canonical.pseudonym import PSEUDONYM_CHARS, pseudonym, pseudonym_map, pseudonymise

KEY = bytes(range(32))


def test_pseudonym_is_keyed_stable_and_short() -> None:
    assert pseudonym(KEY, "L1") == pseudonym(KEY, "L1")
    assert pseudonym(KEY, "L1") != pseudonym(bytes(32), "L1")
    assert len(pseudonym(KEY, "L1")) == PSEUDONYM_CHARS
    assert "L1" not in pseudonym(KEY, "L1")


def test_pseudonymise_replaces_the_id_column() -> None:
    ids = pseudonym_map(KEY, pl.Series(["L2", "L1", "L1", None]))
    assert ids.height == 2
    out = pseudonymise(pl.LazyFrame({"student_id": ["L1"], "x": [1]}), ids).collect()
    assert out.columns == ["student_key", "x"]
    assert out["student_key"][0] == pseudonym(KEY, "L1")


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        pseudonym_map(b"short", pl.Series(["L1"]))
