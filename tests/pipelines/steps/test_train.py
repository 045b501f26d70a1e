from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest

from features.catalog import names as feature_names
from models import ladder
from models.splits import Split
from pipelines import tracking
from pipelines.settings import IngestSettings, TrainSettings
from pipelines.steps.features import FeatureStore
from pipelines.steps.ingest import run_ingest
from pipelines.steps.score import load_champion
from pipelines.steps.train import TrainReport, run_train
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
        "scorecard_free",
        "monotone_gbm",
    ]
    assert report.champion != "scorecard_free"  # a comparison only
    assert len(report.splits) == 2
    tracking.use_workspace(ws.root)
    client = mlflow.MlflowClient()
    parent = client.get_run(report.run_id)
    assert parent.data.params["champion"] == report.champion
    assert parent.data.params["until"] == UNTIL.isoformat()
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{report.run_id}'"
    )
    assert len(children) == 6
    failed = {r.rung.name: len(r.failures) for r in report.results}
    assert failed[report.champion] == 0  # a rung not calibrated on every split cannot win
    selection = {}
    for child in children:
        history = client.get_metric_history(child.info.run_id, "precision_at_2")
        name = child.data.params["rung"]
        # one value per split it could be calibrated on; the others are named in a tag
        assert len(history) == 2 - failed[name]
        assert ("calibration_failures" in child.data.tags) == (failed[name] > 0)
        # the selection rule, worked out again from what MLflow holds
        precision = [m.value for m in history]
        score = statistics.fmean(precision) - 0.5 * statistics.pstdev(precision)
        assert child.data.metrics["selection_score"] == pytest.approx(score)
        comparison = child.data.tags["eligibility"].startswith("not eligible: a comparison only")
        assert comparison == (name == "scorecard_free")
        if failed[name] == 0 and not comparison:
            selection[name] = score
    best = max(selection.values())
    ladder_order = [r.rung.name for r in report.results]
    expected = next(n for n in ladder_order if n in selection and selection[n] >= best - 1e-12)
    assert report.champion == expected
    version = client.get_model_version_by_alias("schoolpoort-risk", "champion")
    assert str(version.version) == report.model_version
    assert version.tags["rung"] == expected
    artifacts = {a.path for a in client.list_artifacts(report.run_id, "report")}
    assert {
        "report/splits.png",
        "report/precision_at_k.png",
        "report/calibration.png",
        "report/feature_catalog.csv",
    } <= artifacts
    assert (
        version.tags["sha256"]
        == hashlib.sha256(
            (tracking.artifact_root(ws.root) / version.tags["model_file"]).read_bytes()
        ).hexdigest()
    )
    model = load_champion(ws, "schoolpoort-risk").model
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
    a = load_champion(ws_full, "schoolpoort-risk")
    b = load_champion(ws_cut, "schoolpoort-risk")
    assert (a.version, b.version) == (full.model_version, cut.model_version)
    X = rows.select(a.features).to_pandas()
    assert np.array_equal(a.model.predict_proba(X), b.model.predict_proba(X))  # type: ignore[attr-defined]


WEEK = dt.timedelta(weeks=1)
MONDAY = dt.date(2024, 9, 2)
OK_SPLIT = Split(
    "ok",
    MONDAY + 4 * WEEK,
    MONDAY + 4 * WEEK,
    MONDAY + 6 * WEEK,
    MONDAY + 6 * WEEK,
    MONDAY + 8 * WEEK,
)
NO_CASES = Split(
    "no_cases",
    MONDAY + 4 * WEEK,
    MONDAY + 8 * WEEK,
    MONDAY + 10 * WEEK,
    MONDAY + 10 * WEEK,
    MONDAY + 12 * WEEK,
)
ONE_CASE = Split(
    "one_case",
    MONDAY + 4 * WEEK,
    MONDAY + 12 * WEEK,
    MONDAY + 14 * WEEK,
    MONDAY + 14 * WEEK,
    MONDAY + 16 * WEEK,
)


def tiny_rows(cases_per_week: list[int], pupils: int = 60, seed: int = 0) -> pl.DataFrame:
    """Pupil-weeks of one school, week ``i`` holding ``cases_per_week[i]`` future cases.

    Cases have higher counts everywhere, so every rung ranks them first and calibrates.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for week, cases in enumerate(cases_per_week):
        as_of = MONDAY + week * WEEK
        label = np.zeros(pupils, dtype=int)
        label[:cases] = 1
        counts = {f: rng.poisson(1, pupils).astype(float) + 4 * label for f in feature_names()}
        frames.append(
            pl.DataFrame(counts).with_columns(
                student_key=pl.Series([f"k{i}" for i in range(pupils)]),
                as_of=pl.lit(as_of),
                school_id=pl.lit("S1"),
                label=pl.Series(label, dtype=pl.Int32),
                label_date=pl.when(pl.Series(label) == 1).then(pl.lit(as_of + 3 * WEEK)),
            )
        )
    return pl.concat(frames)


def test_a_rung_with_too_few_calibration_cases_is_skipped_for_that_split() -> None:
    # weeks 0-7 have cases; 8-9 none, 12-13 one between them (the README: fewer than 2)
    data = tiny_rows([3] * 8 + [0, 0, 3, 3, 1, 0, 3, 3])
    results = ladder.evaluate(
        ladder.default_ladder(),
        data,
        [OK_SPLIT, NO_CASES, ONE_CASE],
        feature_names(),
        ladder.FitOptions(negative_fraction=1.0),
    )
    for result in results:
        assert [f.split(":")[0] for f in result.failures] == ["no_cases", "one_case"], (
            result.failures
        )
        assert "0 case(s) in the calibration slice, fewer than 2" in result.failures[0]
        assert "1 case(s) in the calibration slice, fewer than 2" in result.failures[1]
        assert not np.isnan(result.metrics[0]["precision_at_2"])
        assert all(np.isnan(v) for m in result.metrics[1:] for v in m.values())
        assert result.models[1:] == [None, None]
    # no rung was calibrated on every split: none can be champion, and that is one line
    with pytest.raises(ladder.CalibrationError) as refused:
        ladder.select(results)
    assert "\n" not in str(refused.value)
    one_split = ladder.evaluate(
        ladder.default_ladder(), data, [OK_SPLIT], feature_names(), ladder.FitOptions()
    )
    # one split, no spread: the champion has the best precision in the top 2% of the rungs
    # that may be champion, the earlier rung on a tie
    precision = {
        r.rung.name: r.metrics[0]["precision_at_2"] for r in one_split if not r.rung.comparison_only
    }
    best = max(precision.values())
    expected = next(name for name, p in precision.items() if p == best)
    assert ladder.select(one_split).rung.name == expected


def test_a_board_without_care_case_history_gets_a_rule_as_champion_and_lists_from_week_one(
    tiny_export: Path, workspace: Path
) -> None:
    from tests.conftest import score_dates

    ws = Workspace(workspace)
    run_ingest(tiny_export, ws, IngestSettings(), say=quiet)
    said: list[str] = []
    report = run_train(ws, TrainSettings(), say=said.append)
    # Three pupils over two weeks of September: no label window has closed, so no ladder.
    assert report.cold_start == "no as-of date has its 8-week label window closed before 2024-09-13"
    assert (report.champion, report.splits, report.results) == ("rule_mzl", [], [])
    assert any("the rule rule_mzl is registered as champion, uncalibrated" in s for s in said)
    champion = load_champion(ws, "schoolpoort-risk")
    assert (champion.rung, champion.calibrated, champion.rule) == ("rule_mzl", False, "rule_mzl")
    [scores_path] = score_dates(ws, [dt.date(2024, 9, 16)])
    scores = pl.read_csv(scores_path, separator=";", infer_schema=False)
    assert scores["risk"].null_count() == scores.height  # a rule's score is no probability
    assert scores["rank"].drop_nulls().cast(int).sort().to_list() == [1, 2, 3]
    page = (scores_path.parent / "S1" / "risk_list.html").read_text()
    assert (
        "Deze lijst volgt de regel rule_mzl" in page
        and "zorgdossier schoolweigering start" not in page
    )
    # L1 was ill two days in a row before 16 September: the rule's count is its reason.
    listed = pl.read_csv(
        scores_path.parent / "S1" / "risk_list.csv", separator=";", infer_schema=False
    )
    assert listed["Kans (%)"].null_count() == listed.height


def test_too_few_cases_in_the_training_rows_also_start_cold(
    trained_board: tuple[Workspace, TrainReport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.setenv(KEY_ENV, KEY.hex())
    source, _ = trained_board
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(source.root, ws.root)
    cases = int(pl.read_parquet(ws.canonical_table("care_cases")).height)
    cold = run_train(ws, TrainSettings(until=UNTIL, max_splits=1, min_cases=10_000), say=quiet)
    assert cold.cold_start is not None
    assert cold.cold_start.endswith("fewer than 10000") and cases < 10_000
    assert load_champion(ws, "schoolpoort-risk").rung == "rule_mzl"


def test_the_champion_is_explained_in_words_described_in_the_registry_and_has_a_model_card(
    trained_board: tuple[Workspace, TrainReport],
) -> None:
    ws, report = trained_board
    champion = report.eligibility[report.champion]
    assert champion.startswith("champion: the best selection score")
    others = [w for rung, w in report.eligibility.items() if rung != report.champion]
    assert all(w.startswith(("eligible, selection score", "not eligible: ")) for w in others)
    tracking.use_workspace(ws.root)
    version = mlflow.MlflowClient().get_model_version("schoolpoort-risk", report.model_version)
    assert version.description.startswith(
        "Estimates, for each pupil enrolled on a school week's first day, the chance that a "
        "school-refusal care case starts within 8 weeks."
    )
    assert (
        f"Rung {report.champion}, fitted on everything before {report.until}."
        in version.description
    )
    card = (ws.root / "model_card.md").read_text("utf-8")
    assert card.startswith(f"# Model card: schoolpoort-risk version {report.model_version}")
    for heading in ("Intended use", "Data", "Evaluation", "Fairness", "Limits", "EU AI Act"):
        assert f"\n## {heading}" in card
    assert card.count("\n| ") == 1 + len(report.results)  # the header and a row per rung
    run = mlflow.get_run(report.run_id)
    assert run.data.tags["champion_reason"] == champion
    assert mlflow.artifacts.load_text(f"runs:/{report.run_id}/model_card.md") == card
