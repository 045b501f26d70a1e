from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from pipelines.settings import IngestSettings
from pipelines.steps.features import FeatureStore, build_features, load_prepared
from pipelines.steps.ingest import run_ingest
from pipelines.workspace import Workspace
from tests.conftest import write_export
from tests.features.builders import EXPORT

DATES = [dt.date(2024, 9, 23), dt.date(2024, 9, 30), dt.date(2024, 10, 7), dt.date(2024, 10, 14)]


def ingest(tmp_path: Path, workspace: Path, files: dict[str, str]) -> Workspace:
    ws = Workspace(workspace)
    run_ingest(write_export(tmp_path / "export", files), ws, IngestSettings(), say=lambda _: None)
    return ws


def test_dates_are_stored_partitioned_and_only_rebuilt_when_their_inputs_change(
    tmp_path: Path, workspace: Path
) -> None:
    ws = ingest(tmp_path, workspace, EXPORT)
    messages: list[str] = []
    paths = build_features(ws, DATES, say=messages.append)
    assert [p.parent.name for p in paths] == [f"as_of={d.isoformat()}" for d in DATES]
    stamps = {p: p.stat().st_mtime_ns for p in paths}

    build_features(ws, DATES, say=messages.append)
    assert {p: p.stat().st_mtime_ns for p in paths} == stamps
    assert messages[-1] == "features: all 4 as-of dates unchanged"

    # A new absence on Wednesday 9 October changes only the last date's inputs.
    later = {**EXPORT, "absences.csv": EXPORT["absences.csv"] + "P2;2024-10-09;AM;Z;\n"}
    ws = ingest(tmp_path, workspace, later)
    build_features(ws, DATES, say=messages.append)
    changed = [p for p in paths if p.stat().st_mtime_ns != stamps[p]]
    assert changed == [paths[-1]]
    table = FeatureStore(ws).scan(DATES).collect()
    assert table.height == 3 * len(DATES)
    assert (
        table.filter(pl.col("as_of") == DATES[-1])["absent_halfdays_ytd"].sum() == 7 + 1
    )  # P1 incl. 7 Oct, P2


def test_missing_canonical_tables_name_the_command_to_run(workspace: Path) -> None:
    try:
        load_prepared(Workspace(workspace))
    except FileNotFoundError as exc:
        assert "run `schoolpoort ingest` first" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected an error")
