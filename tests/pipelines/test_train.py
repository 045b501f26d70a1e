from __future__ import annotations

import datetime as dt
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest

from pipelines import tracking
from pipelines.features import FeatureStore
from pipelines.ingest import run_ingest
from pipelines.settings import IngestSettings, TrainSettings
from pipelines.train import TrainReport, run_train
from pipelines.workspace import KEY_ENV, Workspace
from tests.conftest import BOARD_KEY, BOARD_UNTIL, cut_export
from tests.privacy import found, identifying_needles, mlflow_blobs

KEY = BOARD_KEY
UNTIL = BOARD_UNTIL
SETTINGS = TrainSettings(until=UNTIL, max_splits=2)


def quiet(_: str) -> None:
    return None


def a_test_week(ws: Workspace, report: TrainReport) -> pl.DataFrame:
    """The feature rows of the first stored as-of date in the last test slice."""
    stored = sorted(dt.date.fromisoformat(d) for d in FeatureStore(ws).manifest())
    first = next(d for d in stored if d >= report.splits[-1].test_start)
    return FeatureStore(ws).scan([first]).collect()


def trained(
    export: Path, root: Path, settings: TrainSettings = SETTINGS
) -> tuple[Workspace, TrainReport]:
    ws = Workspace(root)
    run_ingest(export, ws, IngestSettings(), say=quiet)
    return ws, run_train(ws, settings, say=quiet)


@pytest.fixture(scope="module")
def board_run(
    small_board: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Workspace, TrainReport]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, KEY.hex())
        return trained(small_board, tmp_path_factory.mktemp("ws"))


def test_training_logs_a_parent_run_nested_rungs_and_registers_the_champion(
    board_run: tuple[Workspace, TrainReport],
) -> None:
    ws, report = board_run
    assert [r.rung.name for r in report.results] == [
        "rule_flanders_b5",
        "rule_mzl",
        "rule_absence_10pct",
        "scorecard",
        "monotone_gbm",
    ]
    assert len(report.splits) == 2
    tracking.use_workspace(ws.root)
    client = mlflow.MlflowClient()
    parent = client.get_run(report.run_id)
    assert parent.data.params["champion"] == report.champion
    assert parent.data.params["until"] == UNTIL.isoformat()
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{report.run_id}'"
    )
    assert len(children) == 5
    failed = {r.rung.name: len(r.failures) for r in report.results}
    assert failed[report.champion] == 0  # a rung not calibrated on every split cannot win
    for child in children:
        history = client.get_metric_history(child.info.run_id, "precision_at_2")
        name = child.data.params["rung"]
        # one value per split it could be calibrated on; the others are named in a tag
        assert len(history) == 2 - failed[name]
        assert ("calibration_failures" in child.data.tags) == (failed[name] > 0)
    version = client.get_model_version_by_alias("schoolpoort-risk", "champion")
    assert str(version.version) == report.model_version
    artifacts = {a.path for a in client.list_artifacts(report.run_id, "report")}
    assert {
        "report/splits.png",
        "report/precision_at_k.png",
        "report/calibration.png",
        "report/feature_catalog.csv",
    } <= artifacts
    model = mlflow.sklearn.load_model("models:/schoolpoort-risk@champion")
    features = a_test_week(ws, report)
    risk = model.predict_proba(features.select(model.feature_names_in_.tolist()).to_pandas())[:, 1]
    assert ((risk > 0) & (risk < 1)).all()


def test_nothing_in_the_mlflow_store_identifies_a_pupil(
    board_run: tuple[Workspace, TrainReport], small_board: Path
) -> None:
    ws, _ = board_run
    blobs = mlflow_blobs(ws.root, tracking.artifact_root(ws.root))
    assert found(identifying_needles(small_board, KEY), blobs) == []


def test_a_model_trained_until_a_date_ignores_everything_after_it(
    board_run: tuple[Workspace, TrainReport],
    small_board: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws_full, full = board_run
    monkeypatch.setenv(KEY_ENV, KEY.hex())
    ws_cut, cut = trained(cut_export(small_board, tmp_path / "cut", UNTIL), tmp_path / "ws")
    assert cut.champion == full.champion
    assert repr([r.metrics for r in cut.results]) == repr(
        [r.metrics for r in full.results]
    )  # NaN-safe
    rows = a_test_week(ws_full, full)
    tracking.use_workspace(ws_full.root)
    a = mlflow.sklearn.load_model(f"models:/schoolpoort-risk/{full.model_version}")
    tracking.use_workspace(ws_cut.root)
    b = mlflow.sklearn.load_model(f"models:/schoolpoort-risk/{cut.model_version}")
    X = rows.select(a.feature_names_in_.tolist()).to_pandas()
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
