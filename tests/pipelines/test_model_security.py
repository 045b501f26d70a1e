"""Attacks on the registered model and on a copied workspace, with real MLflow on tiny models."""

from __future__ import annotations

import hashlib
import operator
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import mlflow
import numpy as np
import pandas as pd
import polars as pl
import pytest
import skops.io
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from typer.testing import CliRunner

from features.catalog import names as feature_names
from models import ladder
from pipelines import artifacts, tracking
from pipelines.cli import app
from pipelines.settings import IngestSettings
from pipelines.steps.ingest import run_ingest
from pipelines.steps.score import load_champion
from pipelines.steps.train import register_champion
from pipelines.workspace import Workspace

NAME = "schoolpoort-risk"
FEATURES = feature_names()
runner = CliRunner()


def synthetic(rows: int, cases: int, seed: int) -> pl.DataFrame:
    """Feature rows of nobody, where cases have higher counts (a model has something to learn)."""
    rng = np.random.default_rng(seed)
    label = np.zeros(rows, dtype=int)
    label[:cases] = 1
    rng.shuffle(label)
    columns = {c: rng.poisson(2, rows).astype(float) + 3 * label for c in FEATURES}
    return pl.DataFrame(columns).with_columns(label=pl.Series(label))


def fitted(rung: str = "scorecard", seed: int = 0) -> object:
    [chosen] = [r for r in ladder.default_ladder() if r.name == rung]
    return ladder.fit_calibrated(
        chosen,
        synthetic(300, 30, seed),
        synthetic(200, 20, seed + 1),
        FEATURES,
        ladder.FitOptions(),
    )


def example() -> pd.DataFrame:
    return synthetic(20, 5, 99).select(FEATURES).to_pandas()


def register(root: Path, model: object) -> str:
    """Log a report and register ``model`` as the champion as ``train`` does; returns the version."""
    experiment = tracking.use_workspace(root)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_text("a report", "report/splits.txt")
        return register_champion(Workspace(root), NAME, model, FEATURES)


def model_dir(root: Path) -> Path:
    """The folder the registry names for the champion (today's loader reads this one)."""
    tracking.use_workspace(root)
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(NAME, tracking.CHAMPION)
    return Path(
        url2pathname(urlparse(client.get_model_version_download_uri(NAME, version.version)).path)
    )


class _Touch:
    """Unpickling this creates ``path``: the stand-in for any code an attacker wants run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (self.path,))


class _Payload:
    """Unpickles to a working model after running ``_Touch``: the attack goes unnoticed."""

    def __init__(self, marker: Path, model: object) -> None:
        self.marker, self.model = marker, model

    def __reduce__(self) -> tuple[object, ...]:
        return (operator.getitem, ((_Touch(self.marker), self.model), 1))


def to_pickle_flavour(folder: Path, marker: Path, replace_skops: bool) -> None:
    """Tamper with a logged model: a crafted pickle, and MLmodel told to unpickle it."""
    payload = pickle.dumps(_Payload(marker, fitted(seed=5)))
    (folder / "model.pkl").write_bytes(payload)
    if replace_skops:
        (folder / "model.skops").write_bytes(payload)
    mlmodel = (folder / "MLmodel").read_text()
    mlmodel = mlmodel.replace("serialization_format: skops", "serialization_format: pickle")
    mlmodel = mlmodel.replace("pickled_model: model.skops", "pickled_model: model.pkl")
    mlmodel = mlmodel.replace("model_path: model.skops", "model_path: model.pkl")
    (folder / "MLmodel").write_text(mlmodel)


@pytest.fixture
def board(tiny_export: Path, workspace: Path) -> Path:
    """A tiny ingested workspace (enough for ``score`` to reach the model) with a champion."""
    run_ingest(tiny_export, Workspace(workspace), IngestSettings(), say=lambda _: None)
    register(workspace, fitted())
    return workspace


def score(root: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["score", "-w", str(root), "--as-of", "2024-10-07"])
    return result.exit_code, result.output


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize("replace_skops", [False, True], ids=["pickle-added", "skops-replaced"])
def test_a_pickled_model_is_never_unpickled(
    board: Path, tmp_path: Path, replace_skops: bool
) -> None:
    marker = tmp_path / "payload-ran"
    to_pickle_flavour(model_dir(board), marker, replace_skops)
    code, output = score(board)
    assert not marker.exists()
    if replace_skops:
        assert code == 2
        assert "does not match the digest" in error_line(output)
    else:  # MLmodel is not consulted: the file schoolpoort wrote is loaded, unchanged
        assert code == 0, output


def test_the_champions_file_must_match_its_digest(board: Path) -> None:
    # a valid model, just not the one registered
    skops.io.dump(fitted(seed=7), model_dir(board) / "model.skops")
    code, output = score(board)
    assert code == 2
    line = error_line(output)
    assert "does not match the digest recorded when it was registered (version 1)" in line


def test_a_champion_registered_without_a_digest_is_refused(
    tiny_export: Path, workspace: Path
) -> None:
    run_ingest(tiny_export, Workspace(workspace), IngestSettings(), say=lambda _: None)
    model = fitted()
    experiment = tracking.use_workspace(workspace)
    with mlflow.start_run(experiment_id=experiment):  # as schoolpoort registered before digests
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=[],
            skops_trusted_types=artifacts.skops_types(model),
            registered_model_name=NAME,
        )
    mlflow.MlflowClient().set_registered_model_alias(
        NAME, tracking.CHAMPION, str(info.registered_model_version)
    )
    code, output = score(workspace)
    assert code == 2
    assert "retrain" in error_line(output)


def files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_copied_workspace_loads_its_own_model(tmp_path: Path) -> None:
    first, second = tmp_path / "ws1", tmp_path / "ws2"
    original = fitted(seed=0)
    register(first, original)
    shutil.copytree(first, second)
    # the first workspace's file now holds another (valid) model, and then is gone altogether
    skops.io.dump(fitted(seed=3), model_dir(first) / "model.skops")
    expected = original.predict_proba(example())  # type: ignore[attr-defined]
    champion = load_champion(Workspace(second), NAME)
    assert np.array_equal(champion.model.predict_proba(example()), expected)  # type: ignore[attr-defined]
    shutil.rmtree(first)
    champion = load_champion(Workspace(second), NAME)
    assert np.array_equal(champion.model.predict_proba(example()), expected)  # type: ignore[attr-defined]
    # what the MLflow UI lists for a run is read through the same stored locations
    client = mlflow.MlflowClient()
    [run] = client.search_runs([tracking.use_workspace(second)])
    assert [a.path for a in client.list_artifacts(run.info.run_id, "report")] == [
        "report/splits.txt"
    ]


def test_training_in_a_copied_workspace_writes_nothing_into_the_original(tmp_path: Path) -> None:
    first, second = tmp_path / "ws1", tmp_path / "ws2"
    register(first, fitted(seed=0))
    shutil.copytree(first, second)
    before = files(first)
    version = register(second, fitted(seed=1))
    assert files(first) == before
    assert version == "2"


@pytest.mark.parametrize("rung", [r.name for r in ladder.default_ladder()])
def test_every_rung_of_the_ladder_needs_only_trusted_types(rung: str) -> None:
    # A rung that needs a type TRUSTED does not list could be trained but never scored.
    model = fitted(rung)
    assert artifacts.untrusted_types(model) == []
    loaded = skops.io.loads(skops.io.dumps(model), trusted=list(artifacts.TRUSTED))
    assert np.array_equal(loaded.predict_proba(example()), model.predict_proba(example()))  # type: ignore[attr-defined]


def test_a_recorded_location_outside_the_artifacts_is_refused(board: Path) -> None:
    outside = board / "elsewhere.skops"
    shutil.copy(model_dir(board) / "model.skops", outside)  # even a genuine file, digest and all
    client = mlflow.MlflowClient()
    client.set_model_version_tag(NAME, "1", artifacts.FILE_TAG, "../elsewhere.skops")
    code, output = score(board)
    assert code == 2
    assert "outside the workspace's artifacts" in error_line(output)
    (model_dir(board) / "link.skops").symlink_to(outside)
    client.set_model_version_tag(
        NAME,
        "1",
        artifacts.FILE_TAG,
        f"{model_dir(board).relative_to(board / 'mlartifacts')}/link.skops",
    )
    code, output = score(board)
    assert code == 2
    assert "outside the workspace's artifacts" in error_line(output)


def test_a_type_outside_the_trusted_list_is_refused_even_with_a_matching_digest(
    board: Path,
) -> None:
    # Whoever can also rewrite the store's tags still cannot widen what skops builds.
    path = model_dir(board) / "model.skops"
    skops.io.dump(make_pipeline(FunctionTransformer(os.system)), path)
    mlflow.MlflowClient().set_model_version_tag(
        NAME, "1", artifacts.DIGEST_TAG, artifacts.digest(path)
    )
    code, output = score(board)
    assert code == 2
    assert "type(s) that schoolpoort does not trust" in error_line(output)


def test_mlflow_never_unpickles_whatever_the_environment_says() -> None:
    for module in ("pipelines.cli", "pipelines.flows", "pipelines.tracking"):
        probe = (
            f"import {module}, mlflow.environment_variables as e; "
            "print(e.MLFLOW_ALLOW_PICKLE_DESERIALIZATION.get())"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"},
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == "False", module
