"""The champion's model file: written by ``train`` with skops, checked and loaded by ``score``.

A model file in the workspace is data, never code to run. So the loader ignores what the
artifact says about itself (MLflow's ``MLmodel`` names a serialization format and the types to
trust; a tampered one can name pickle or any type): it reads the skops file at the place
recorded when the model was registered, inside this workspace's artifacts, checks the file's
SHA-256 digest recorded then, and lets skops build only the types listed in :data:`TRUSTED`.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse
from urllib.request import url2pathname

MODEL_FILE = "model.skops"
"""The file MLflow's sklearn flavour writes for the skops format."""
DIGEST_TAG = "sha256"
"""Model-version tag: the SHA-256 digest of the model file when it was registered."""
FILE_TAG = "model_file"
"""Model-version tag: the model file's path relative to the workspace's artifact root."""

TRUSTED: tuple[str, ...] = (
    "models.estimators.SignConstrainedLogisticRegression",
    "models.estimators.signed_log1p",
    "models.rules.AbsenceTenPercentRule",
    "models.rules.DutchMZLRule",
    "models.rules.FlemishBRule",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.KFold",
)
"""Types beyond skops' own defaults that a schoolpoort model may hold (every rung of the ladder,
calibrated). Kept here, in the code, so that no artifact can widen it; a test fits every rung
and checks that it needs nothing else."""


class UntrustedModelError(Exception):
    """The champion's model file cannot be trusted: refuse to score with it."""


def untrusted_types(model: object) -> list[str]:
    """Types in ``model`` that skops would not build by default and :data:`TRUSTED` does not list.

    Parameters
    ----------
    model : object
        A fitted estimator.

    Returns
    -------
    list of str
        Sorted type names; empty when the model can be loaded by :func:`load_model_file`.
    """
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return sorted(set(found) - set(TRUSTED))


def skops_types(model: object) -> list[str]:
    """The non-default types ``model`` holds (what MLflow records next to the file)."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def local_path(uri: str) -> Path:
    """The local path of a ``file:`` URI (or of a plain path)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(url2pathname(parsed.path))
    raise ValueError(f"not a local artifact location (scheme {parsed.scheme!r})")


def digest(path: Path) -> str:
    """The SHA-256 hex digest of the file at ``path``."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def registration_tags(root: Path, model_folder: Path) -> dict[str, str]:
    """The tags that let :func:`load_model_file` find and check a freshly logged model.

    Parameters
    ----------
    root : Path
        The workspace's artifact root.
    model_folder : Path
        The logged model's artifacts folder (inside ``root``).

    Returns
    -------
    dict of str to str
        ``model_file`` (relative to ``root``, with ``/``) and ``sha256``.
    """
    path = (model_folder / MODEL_FILE).resolve()
    relative = path.relative_to(root.resolve())  # ValueError if logged outside the workspace
    return {FILE_TAG: relative.as_posix(), DIGEST_TAG: digest(path)}


def _inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` resolved, or ``None`` when that leaves ``root`` (.., absolute, links)."""
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or not parts.parts:
        return None
    path = root.resolve().joinpath(*parts.parts).resolve()
    return path if path.is_relative_to(root.resolve()) else None


def load_model_file(root: Path, tags: dict[str, str], version: str) -> object:
    """The registered model, loaded from this workspace's artifacts if its file checks out.

    Parameters
    ----------
    root : Path
        The current workspace's artifact root: the file is looked for here, wherever the store
        says the model was first logged (a copied or moved workspace uses its own files).
    tags : dict of str to str
        The model version's tags (``model_file`` and ``sha256``, set at registration).
    version : str
        The model version, for the messages.

    Returns
    -------
    object
        The fitted estimator.

    Raises
    ------
    UntrustedModelError
        No digest recorded, a location outside the artifacts, a missing file, a digest that
        does not match, a type outside :data:`TRUSTED`, or a file skops cannot read. The
        message is one line and quotes nothing from the file or the store.
    """
    import skops.io

    recorded, relative = tags.get(DIGEST_TAG), tags.get(FILE_TAG)
    if not recorded or not relative:
        raise UntrustedModelError(
            f"the champion (version {version}) was registered without a digest of its model "
            "file, so it cannot be checked: retrain with `schoolpoort train`"
        )
    path = _inside(root, relative)
    if path is None:
        raise UntrustedModelError(
            f"the champion's model file (version {version}) is recorded outside the workspace's "
            "artifacts: retrain or restore the workspace"
        )
    if not path.is_file():
        raise UntrustedModelError(
            f"the champion's model file (version {version}) is missing from the workspace's "
            "artifacts: retrain or restore the workspace"
        )
    # Hash and load the same bytes: the file cannot change between the check and the load.
    data = path.read_bytes()
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), recorded):
        raise UntrustedModelError(
            "the champion's model file does not match the digest recorded when it was "
            f"registered (version {version}): retrain or restore the workspace"
        )
    try:
        foreign = set(skops.io.get_untrusted_types(data=data)) - set(TRUSTED)
        if foreign:
            raise UntrustedModelError(
                f"the champion's model file (version {version}) holds {len(foreign)} type(s) "
                "that schoolpoort does not trust: retrain or restore the workspace"
            )
        model = skops.io.loads(data, trusted=list(TRUSTED))
    except UntrustedModelError:
        raise
    except Exception as exc:  # any reader failure: the file is not a model we wrote
        raise UntrustedModelError(
            f"the champion's model file (version {version}) cannot be read as a skops model "
            f"({type(exc).__name__}): retrain or restore the workspace"
        ) from None
    if not hasattr(model, "predict_proba") or not hasattr(model, "feature_names_in_"):
        raise UntrustedModelError(
            f"the champion's model file (version {version}) does not hold a fitted classifier: "
            "retrain or restore the workspace"
        )
    return model
