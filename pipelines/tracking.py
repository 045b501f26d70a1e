"""MLflow in the workspace: a SQLite store and an artifacts folder, no server needed.

Only aggregates, settings, plots and models go to MLflow: never a pupil's id, pseudonym or row.
"""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path

# Before mlflow is imported anywhere: no telemetry, whatever the environment says.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow
from mlflow.tracking import MlflowClient

EXPERIMENT = "schoolpoort"
CHAMPION = "champion"
PACKAGES = ("polars", "scikit-learn", "shap", "mlflow", "prefect", "numpy", "pandas", "schoolpoort")


def tracking_uri(workspace: Path) -> str:
    return f"sqlite:///{(workspace / 'mlflow.db').resolve()}"


def artifact_root(workspace: Path) -> Path:
    return (workspace / "mlartifacts").resolve()


def use_workspace(workspace: Path) -> str:
    """Point MLflow at the workspace's store; create the experiment on first use. Returns its id."""
    workspace.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri(workspace))
    mlflow.set_registry_uri(tracking_uri(workspace))
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return client.create_experiment(
            EXPERIMENT, artifact_location=artifact_root(workspace).as_uri()
        )
    return str(experiment.experiment_id)


def ui_command(workspace: Path) -> str:
    """The command that opens the MLflow UI on this workspace."""
    return (
        f"mlflow ui --backend-store-uri {tracking_uri(workspace)} "
        f"--default-artifact-root {artifact_root(workspace).as_uri()} --workers 1 --port 5000"
    )


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[f"version_{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[f"version_{name}"] = "not installed"
    return out


def git_commit() -> str:
    """The commit of the code that ran, or 'unknown' outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def pip_requirements() -> list[str]:
    """Pinned requirements for a logged model (saves MLflow's slow inference of them)."""
    names = ("scikit-learn", "numpy", "pandas", "scipy", "mlflow")
    reqs = []
    for name in names:
        try:
            reqs.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return reqs


TRUSTED_PREFIXES = ("sklearn.", "models.", "numpy.", "scipy.")


def trusted_types(model: object) -> list[str]:
    """Types skops must trust to load ``model``: only scikit-learn's, numpy's and our own.

    MLflow saves scikit-learn models with skops, which refuses unknown types; anything from
    outside these packages is an error here rather than a silent trust.
    """
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    foreign = [t for t in found if not t.startswith(TRUSTED_PREFIXES)]
    if foreign:
        raise ValueError(
            f"model holds types from outside scikit-learn/numpy/schoolpoort: {foreign}"
        )
    return list(found)
