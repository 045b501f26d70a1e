"""MLflow in the workspace: a SQLite store and an artifacts folder, no server needed.

Only aggregates, settings, plots and models go to MLflow: never a pupil's id, pseudonym or row.

The store records artifact locations as absolute URIs. A workspace copied or moved elsewhere
would go on reading and writing the original's artifacts, so :func:`use_workspace` rebases
them onto the workspace's own folder when it finds them pointing at another one.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path

# Before mlflow is imported anywhere: no telemetry, whatever the environment says.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# Forced, not defaulted: loading a pickle runs whatever code it holds. schoolpoort loads its
# models itself (pipelines/artifacts.py); MLflow's own loaders must refuse to unpickle.
os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"

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
    """Point MLflow at the workspace's store; create the experiment on first use.

    When the store's artifact locations point into another folder (the workspace was copied or
    moved), they are first rebased onto this workspace's ``mlartifacts``.

    Parameters
    ----------
    workspace : Path
        The workspace folder.

    Returns
    -------
    str
        The id of the ``schoolpoort`` experiment.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri(workspace))
    mlflow.set_registry_uri(tracking_uri(workspace))
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return client.create_experiment(
            EXPERIMENT, artifact_location=artifact_root(workspace).as_uri()
        )
    if experiment.artifact_location != artifact_root(workspace).as_uri():
        rebase_store(workspace)
    return str(experiment.experiment_id)


# Every column in which MLflow 3 stores an artifact location (as a URI under the experiment's).
LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def rebase_store(workspace: Path) -> int:
    """Rewrite the store's artifact locations from the folder they were made in to this one.

    The old prefix is the ``schoolpoort`` experiment's artifact location, when it is a local
    ``.../mlartifacts`` folder other than this workspace's. Every location under it is
    rewritten in one transaction, so a store is never left half moved.

    Parameters
    ----------
    workspace : Path
        The workspace whose ``mlflow.db`` is rebased.

    Returns
    -------
    int
        The number of locations rewritten (0 when nothing pointed elsewhere).
    """
    new = artifact_root(workspace).as_uri()
    con = sqlite3.connect(workspace / "mlflow.db", timeout=60, isolation_level=None)
    try:
        # IMMEDIATE: a second process opening the moved workspace waits, then finds it done.
        con.execute("BEGIN IMMEDIATE")
        changed = _rebase(con, new)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    return changed


def _rebase(con: sqlite3.Connection, new: str) -> int:
    row = con.execute(
        "SELECT artifact_location FROM experiments WHERE name = ?", (EXPERIMENT,)
    ).fetchone()
    old = row[0] if row else None
    # Only a location schoolpoort made (a local .../mlartifacts folder) is moved along.
    if not old or old == new or not old.startswith("file:") or not old.endswith("/mlartifacts"):
        return 0
    changed = 0
    for table, column in LOCATION_COLUMNS:
        columns = {info[1] for info in con.execute(f"PRAGMA table_info('{table}')")}
        if column not in columns:  # another MLflow version's schema
            continue
        # A prefix match on whole path segments: ".../mlartifacts2" is not under it.
        changed += con.execute(
            f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
            f'WHERE "{column}" = ? OR substr("{column}", 1, ?) = ?',
            (new, len(old) + 1, old, len(old) + 1, old + "/"),
        ).rowcount
    return changed


def ui_command(workspace: Path) -> str:
    """The command that opens the MLflow UI on this workspace, quoted for a shell (a path
    may hold a space)."""
    store, artifacts = shlex.quote(tracking_uri(workspace)), artifact_root(workspace).as_uri()
    return (
        f"mlflow ui --backend-store-uri {store} "
        f"--default-artifact-root {shlex.quote(artifacts)} --workers 1 --port 5000"
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
