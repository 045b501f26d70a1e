"""The programs some tests run (a browser, LibreOffice, poppler): found, or the test stops."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def required(package: str, *names: str) -> str:
    """The path of the first of ``names`` on PATH. Missing, it fails the test on CI, whose
    ``.ci/run`` installs Debian's ``package``, and skips it elsewhere."""
    for name in names:
        if found := shutil.which(name):
            return found
    if os.environ.get("CI"):
        pytest.fail(f"{names[0]} is missing: .ci/run installs Debian's {package} package")
    pytest.skip(f"{names[0]} not installed (apt-get install {package})")


def pdf_info(pdf: Path) -> str:
    """What ``pdfinfo`` says of ``pdf`` (pages, page size)."""
    return subprocess.run(
        [required("poppler-utils", "pdfinfo"), str(pdf)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
