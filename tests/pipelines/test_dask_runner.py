"""The Dask runner: the same flows, their work split into school shards on a LocalCluster's
worker processes, give the local runner's outputs byte for byte."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import polars as pl
import pytest

from features.build import feature_table as whole_table
from pipelines import flows
from pipelines.settings import IngestSettings, RunSettings, Settings
from pipelines.steps import features
from pipelines.steps.train import TrainReport
from pipelines.workspace import KEY_ENV, Workspace
from tests.conftest import BOARD_KEY

pytestmark = pytest.mark.slow

WEEKS = (dt.date(2025, 3, 10), dt.date(2025, 3, 17))
"""Two weeks in a row: the second list remembers the first."""


def _digests(root: Path, *folders: str) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def _not_on_the_coordinator(*args: object, **kwargs: object) -> None:
    raise AssertionError("the coordinator prepared pupil-days")


def test_features_scores_and_lists_on_dask_are_the_local_runners_byte_for_byte(
    trained_board: tuple[Workspace, TrainReport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, BOARD_KEY.hex())
    ws, _ = trained_board
    roots = {runner: tmp_path / runner for runner in ("local", "dask")}
    for root in roots.values():
        shutil.copytree(ws.root, root)
        shutil.rmtree(root / "features")  # each runner builds every table itself
    for runner, root in roots.items():
        settings = Settings(workspace=root, run=RunSettings(runner=runner, dask_workers=2))
        if runner == "dask":  # the coordinator reads no pupil-day: only the workers prepare
            monkeypatch.setattr(features, "load_prepared", _not_on_the_coordinator)
        built = flows.on_runner(flows.features_flow, settings)(
            settings, dt.date(2025, 1, 6), WEEKS[0]
        )
        assert built[-1] == WEEKS[0]
        # The second week's table is built by the score flow itself; its list remembers the first.
        flows.on_runner(flows.score_flow, settings)(settings, list(WEEKS))

    local, dask = (_digests(roots[r], "features", "outputs", "lists") for r in roots)
    assert any(name.endswith("risk_list.xlsx") for name in local)
    assert any(name.endswith("features.parquet") for name in local)
    assert dask == local
    for root in roots.values():
        assert not list((root / ".staging").iterdir())  # the shards' scratch folder is gone


def test_a_large_export_ingested_on_dask_is_the_local_ingest_byte_for_byte(
    small_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large export's events checked part by part on the workers write the workspace that
    the ingest in this process writes, quarantine and manifest included."""
    monkeypatch.setenv(KEY_ENV, BOARD_KEY.hex())
    export = tmp_path / "export"
    shutil.copytree(small_board, export)
    with (export / "absences.csv").open("a", encoding="utf-8") as absences:
        absences.write("X9999;2022-10-27;AM;D;\n")  # not enrolled
        absences.write("L0010002;2022-02-30;AM;D;\n")  # not a date
    reports = {}
    for runner in ("local", "dask"):
        ingest = IngestSettings(accept_quarantine=True, partition_rows=20_000)
        run = RunSettings(runner=runner, dask_workers=2)
        settings = Settings(workspace=tmp_path / runner, ingest=ingest, run=run)
        reports[runner] = flows.on_runner(flows.ingest_flow, settings)(export, settings)
    local, dask = (_digests(tmp_path / r, "canonical", "quarantine", "secrets") for r in reports)
    assert "quarantine/absences.csv" in local and "canonical/manifest.json" in local
    assert dask == local
    assert reports["dask"].lines() == reports["local"].lines()
    assert not list((tmp_path / "dask" / ".staging").iterdir())  # the parts are gone


def test_a_shards_feature_rows_are_the_boards_rows_at_its_schools(
    trained_board: tuple[Workspace, TrainReport],
) -> None:
    """A pupil who moved keeps their history in the shard of their new school."""
    ws, _ = trained_board
    board = features.load_prepared(ws)
    schools = sorted(board.enrolments["school_id"].unique())
    moved = board.enrolments.group_by("student_key").agg(pl.col("school_id").n_unique() > 1)
    assert moved["school_id"].any()  # the small board has pupils who changed school
    for school in schools:
        shard = features.load_prepared(ws, [school])
        assert shard.days.equals(board.days)  # the whole board's calendar
        for as_of in (dt.date(2023, 10, 2), WEEKS[0]):
            mine = pl.col("school_id") == school
            expected = whole_table(board, as_of).filter(mine).collect()
            assert whole_table(shard, as_of).filter(mine).collect().equals(expected)


def test_school_shards_keep_the_schools_in_order_in_near_equal_groups() -> None:
    schools = [f"S{i:02d}" for i in range(7, 0, -1)]
    assert features.school_shards(schools, 3) == [
        ["S01", "S02", "S03"],
        ["S04", "S05"],
        ["S06", "S07"],
    ]
    assert features.school_shards(schools[:2], 8) == [["S06"], ["S07"]]
    assert features.school_shards([], 4) == []


def test_the_shards_summaries_make_the_boards_summary_and_fingerprints(
    trained_board: tuple[Workspace, TrainReport],
) -> None:
    """The coordinator on Dask reads no pupil-day: its board, from the shards' summaries, has
    the dates, data gates' counts and fingerprints of the board prepared whole."""
    ws, _ = trained_board
    full = features.load_prepared(ws)
    schools = features.board_schools(ws)
    assert schools == sorted(full.enrolments["school_id"].unique())
    for count in (1, 2, len(schools)):
        parts = [features.summarise_shard(ws, s) for s in features.school_shards(schools, count)]
        board = features.load_board(ws, parts)
        assert board.summary.by_date.equals(full.summary.by_date)
        assert board.summary.by_week.equals(full.summary.by_week)
        assert board.enrolments.equals(full.enrolments) and board.days.equals(full.days)
        assert board.as_of_dates() == full.as_of_dates()
        for as_of in (dt.date(2023, 10, 2), WEEKS[0]):
            assert features.fingerprint(board, as_of) == features.fingerprint(full, as_of)
    with pytest.raises(TypeError, match="no pupil-days"):
        features.FeatureCache(ws, board).build(WEEKS[0])


def test_a_shard_prepared_without_its_running_counts_builds_no_feature_table(
    trained_board: tuple[Workspace, TrainReport],
) -> None:
    """The summary's light preparation cannot be mistaken for the full one."""
    ws, _ = trained_board
    light = features.load_prepared(ws, derived=False)
    full = features.load_prepared(ws)
    assert light.counts is None and not light.spell_days
    in_order = ["student_key", "date"]  # the pupil-day frame is collected in no fixed order
    assert light.pupil_days.sort(in_order).equals(full.pupil_days.sort(in_order))
    with pytest.raises(ValueError, match="needs the running counts"):
        whole_table(light, WEEKS[0])


def test_a_schools_list_task_is_sent_its_own_pupils_only() -> None:
    from models.reasons import Reason
    from pipelines.steps.score import Surroundings, reasons_of

    def keyed(**columns: list[object]) -> pl.DataFrame:
        return pl.DataFrame(columns)

    around = Surroundings(
        left=keyed(student_key=["a2", "b2"], school_id=["A", "B"]),
        weeks=keyed(student_key=["a1", "b1"], school_id=["A", "B"], half_days=[2, 3]),
        risks=keyed(student_key=["a1", "b1", "a1"], risk=[0.1, 0.2, 0.3]),
    )
    rows = keyed(student_key=["a1", "a3"], school_id=["A", "A"])
    mine = around.of("A", rows)
    assert mine.left["student_key"].to_list() == ["a2"]
    assert mine.weeks["student_key"].to_list() == ["a1"]
    assert mine.risks["risk"].to_list() == [0.1, 0.3]
    why = [Reason("sick_bay_visits_ytd", 4.0, 1.0, 0.3, "4 visits to the sick bay")]
    reasons = {"a1": why, "b1": why}
    assert reasons_of(reasons, rows) == {"a1": why}
