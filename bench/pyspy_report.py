"""Where the wall time goes, by project source line, from a py-spy ``--format raw`` profile.

py-spy samples the Python stacks; while polars works in Rust, the main thread's stack still
ends in the project line that called it, so with ``--idle`` (the main thread mostly waits on
polars' worker threads) each sample is wall time charged to that line. This script charges
every sample to its innermost frame in the project (``features/``, ``models/``,
``pipelines/``, ``schoolsim/``) and prints the top lines and functions.

Record a child step of a benchmark, then report::

    .venv/bin/uv pip install --python .venv/bin/python py-spy
    .venv/bin/py-spy record --idle --rate 50 --format raw -o /tmp/bench/ingest.folded -- \\
        .venv/bin/python bench/ingest.py --child ingest --result /tmp/bench/r.json \\
        --params '{"root": "/tmp/bench", "export": "/tmp/bench/export-100000x3",
                   "workspace": "/tmp/bench/spy-ws", "keep": false}'
    .venv/bin/python bench/pyspy_report.py /tmp/bench/ingest.folded [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

PACKAGES = ("features/", "models/", "pipelines/", "schoolsim/")
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def project_frame(frame: str) -> tuple[str, str, int] | None:
    """``(file, function, line)`` when ``frame`` is in the project's packages."""
    match = FRAME.match(frame.strip())
    if not match:
        return None
    file = match["file"]
    for package in PACKAGES:
        at = file.rfind(package)
        if at >= 0 and "site-packages" not in file[:at]:
            return file[at:], match["func"], int(match["line"])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folded", type=Path, help="py-spy --format raw output")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    lines: Counter[tuple[str, str, int]] = Counter()
    functions: Counter[tuple[str, str]] = Counter()
    total = outside = 0
    for raw in args.folded.read_text("utf-8").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in (project_frame(f) for f in stack.split(";")) if f]
        if not frames:
            outside += count
            continue
        lines[frames[-1]] += count
        for file, func in {(f, fn) for f, fn, _ in frames}:
            functions[(file, func)] += count  # inclusive: once per sample

    print(f"{total:,} samples; {outside:,} ({outside / max(total, 1):.0%}) outside the project\n")
    print(f"{'share':>6}  {'samples':>8}  innermost project line")
    for (file, func, line), count in lines.most_common(args.top):
        print(f"{count / total:6.1%}  {count:8,}  {file}:{line} {func}")
    print(f"\n{'share':>6}  {'samples':>8}  project function (inclusive)")
    for (file, func), count in functions.most_common(args.top):
        print(f"{count / total:6.1%}  {count:8,}  {file} {func}")


if __name__ == "__main__":
    main()
