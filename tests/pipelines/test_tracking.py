"""MLflow in the workspace, for real on a temporary one: the store is ``WS/mlflow.db``, the
artifacts ``WS/mlartifacts``; a copied workspace is rebased onto its own folder; and what a run
records about the code that ran."""

from __future__ import annotations

import shlex
import shutil
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path

import mlflow
import polars as pl
import pytest

from pipelines import tracking


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in the test's own folder: whatever MLflow writes relative to here stays there."""
    monkeypatch.chdir(tmp_path)


def locations(workspace: Path) -> dict[str, str]:
    """Each experiment's artifact location and each run's artifact URI, read from the store."""
    con = sqlite3.connect(workspace / "mlflow.db")
    try:
        experiments = con.execute("SELECT name, artifact_location FROM experiments").fetchall()
        runs = con.execute("SELECT run_uuid, artifact_uri FROM runs").fetchall()
    finally:
        con.close()
    return dict(experiments) | dict(runs)


def test_the_store_and_the_artifacts_are_files_of_the_workspace_named_absolutely(
    tmp_path: Path,
) -> None:
    root = tmp_path.resolve()
    assert tracking.tracking_uri(Path("ws")) == f"sqlite:///{root}/ws/mlflow.db"
    assert tracking.artifact_root(Path("ws")) == root / "ws" / "mlartifacts"
    assert tracking.artifact_root(Path("ws")).as_uri() == f"file://{root}/ws/mlartifacts"


def test_the_ui_command_opens_the_workspaces_store_with_one_worker() -> None:
    root = Path.cwd().resolve() / "ws"
    assert tracking.ui_command(Path("ws")) == (
        f"mlflow ui --backend-store-uri sqlite:///{root}/mlflow.db "
        f"--default-artifact-root file://{root}/mlartifacts --workers 1 --port 5000"
    )


def test_the_ui_command_can_be_pasted_for_a_workspace_with_a_space_in_its_path() -> None:
    workspace = Path("my workspace")
    words = shlex.split(tracking.ui_command(workspace))
    assert words[2:6] == [
        "--backend-store-uri",
        tracking.tracking_uri(workspace),
        "--default-artifact-root",
        tracking.artifact_root(workspace).as_uri(),
    ]


def test_use_workspace_makes_the_store_and_the_experiment_once_and_points_mlflow_at_it(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "new" / "ws"  # not there yet, nor its parent
    assert tracking.use_workspace(workspace) == "1"  # after MLflow's own Default (0)
    assert (workspace / "mlflow.db").is_file()
    assert mlflow.get_tracking_uri() == tracking.tracking_uri(workspace)
    assert mlflow.get_registry_uri() == tracking.tracking_uri(workspace)
    assert tracking.use_workspace(workspace) == "1"
    experiments = mlflow.MlflowClient().search_experiments()
    assert sorted(e.name for e in experiments) == ["Default", "schoolpoort"]
    [experiment] = [e for e in experiments if e.name == tracking.EXPERIMENT]
    assert experiment.artifact_location == tracking.artifact_root(workspace).as_uri()


def test_a_runs_artifacts_land_in_the_workspaces_mlartifacts(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    experiment = tracking.use_workspace(workspace)
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_text("aggregates only", "report/notes.txt")
    # straight under the experiment's location, which is the artifacts folder itself
    path = workspace / "mlartifacts" / run.info.run_id / "artifacts" / "report" / "notes.txt"
    assert path.read_text() == "aggregates only"
    assert sorted(p.name for p in workspace.iterdir()) == ["mlartifacts", "mlflow.db"]


def test_a_copied_workspace_is_rebased_onto_its_own_artifacts_and_the_original_left_alone(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "ws1", tmp_path / "ws2"
    experiment = tracking.use_workspace(first)
    # an experiment in a folder whose name only starts like the artifacts folder's
    lookalike = (first / "mlartifacts2").resolve().as_uri()
    mlflow.MlflowClient().create_experiment("lookalike", artifact_location=lookalike)
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_text("aggregates only", "report/notes.txt")
    run_id = run.info.run_id
    shutil.copytree(first, second)
    before = locations(first)

    assert tracking.use_workspace(second) == experiment
    ours, theirs = (tracking.artifact_root(w).as_uri() for w in (second, first))
    assert locations(second) == {
        "Default": before["Default"],
        "schoolpoort": ours,
        "lookalike": lookalike,
        run_id: f"{ours}/{run_id}/artifacts",
    }
    assert before["schoolpoort"] == theirs
    assert locations(first) == before
    assert tracking.rebase_store(second) == 0  # nothing left pointing elsewhere
    shutil.rmtree(first)
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/report/notes.txt") == "aggregates only"


def test_rebase_store_says_how_many_locations_it_rewrote(tmp_path: Path) -> None:
    first, second = tmp_path / "ws1", tmp_path / "ws2"
    with mlflow.start_run(experiment_id=tracking.use_workspace(first)):
        mlflow.log_param("rung", "scorecard")
    with mlflow.start_run(experiment_id=tracking.use_workspace(first)):
        mlflow.log_param("rung", "monotone_gbm")
    shutil.copytree(first, second)
    assert tracking.rebase_store(second) == 3  # the experiment and its two runs
    assert tracking.rebase_store(second) == 0


def test_a_schoolpoort_experiment_schoolpoort_did_not_make_is_not_moved(tmp_path: Path) -> None:
    workspace, shared = tmp_path / "ws", (tmp_path / "shared" / "artifacts").resolve().as_uri()
    workspace.mkdir()
    mlflow.set_tracking_uri(tracking.tracking_uri(workspace))
    made = mlflow.MlflowClient().create_experiment(tracking.EXPERIMENT, artifact_location=shared)
    assert tracking.use_workspace(workspace) == made
    assert tracking.rebase_store(workspace) == 0
    assert locations(workspace)["schoolpoort"] == shared


def test_package_versions_name_each_package_or_say_it_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    versions = tracking.package_versions()
    assert list(versions) == [f"version_{name}" for name in tracking.PACKAGES]
    assert versions["version_polars"] == pl.__version__
    assert versions["version_schoolpoort"] == "0.1.0"
    monkeypatch.setattr(tracking, "PACKAGES", ("polars", "no-such-package-here"))
    assert tracking.package_versions() == {
        "version_polars": pl.__version__,
        "version_no-such-package-here": "not installed",
    }


def test_pip_requirements_pin_what_a_logged_model_needs_in_order() -> None:
    names = ("scikit-learn", "numpy", "pandas", "scipy", "mlflow")
    assert tracking.pip_requirements() == [f"{n}=={metadata.version(n)}" for n in names]


def test_git_commit_names_a_commit_of_this_checkout() -> None:
    commit = tracking.git_commit()
    assert len(commit) == 40
    kind = subprocess.run(
        ["git", "cat-file", "-t", commit],
        cwd=Path(tracking.__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert kind.stdout.strip() == "commit"


def test_git_commit_is_unknown_outside_a_git_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git_commit asks git in the module's folder: a copy of the module outside any checkout
    outside = tmp_path / "installed" / "pipelines"
    outside.mkdir(parents=True)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setattr(tracking, "__file__", str(outside / "tracking.py"))
    assert tracking.git_commit() == "unknown"
