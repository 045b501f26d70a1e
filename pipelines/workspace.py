"""The workspace folder: where every file the pipeline writes lives, and how it is written."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from features.pseudonym import KEY_BYTES

KEY_ENV = "SCHOOLPOORT_PSEUDONYM_KEY"
"""Environment variable that may carry the pseudonymisation key (hex), instead of the key file."""


@dataclass(frozen=True)
class Workspace:
    """Paths under one workspace root."""

    root: Path

    @property
    def canonical(self) -> Path:
        return self.root / "canonical"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def manifest(self) -> Path:
        return self.canonical / "manifest.json"

    def canonical_table(self, name: str) -> Path:
        return self.canonical / f"{name}.parquet"

    def key(self) -> bytes:
        """The pseudonymisation key: from the environment, else the key file (made on first use)."""
        if value := os.environ.get(KEY_ENV):
            try:
                key = bytes.fromhex(value)
            except ValueError as exc:
                raise ValueError(f"{KEY_ENV} must be hex ({KEY_BYTES * 2} characters)") from exc
            if len(key) < 16:
                raise ValueError(f"{KEY_ENV} is too short (at least 32 hex characters)")
            return key
        path = self.secrets / "pseudonym.key"
        if not path.exists():
            private_dir(self.secrets)
            write_atomic(path, lambda p: p.write_text(secrets.token_hex(KEY_BYTES)), mode=0o600)
        return bytes.fromhex(path.read_text().strip())


def private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_atomic(path: Path, write: Callable[[Path], Any], mode: int | None = None) -> Path:
    """Write through a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if mode is not None:
            tmp.chmod(mode)
        write(tmp)
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_parquet(frame: pl.DataFrame, path: Path, mode: int | None = None) -> Path:
    """Atomic, deterministic Parquet (no statistics that vary, one row group order)."""
    return write_atomic(path, lambda p: frame.write_parquet(p, compression="zstd"), mode=mode)


def write_csv(frame: pl.DataFrame, path: Path, separator: str = ";") -> Path:
    """Atomic CSV, UTF-8, ISO dates."""
    return write_atomic(
        path, lambda p: frame.write_csv(p, separator=separator, date_format="%Y-%m-%d")
    )


def write_json(data: Any, path: Path) -> Path:
    """Atomic, stable JSON (sorted keys)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
