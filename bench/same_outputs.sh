#!/usr/bin/env bash
# Does a change keep the outputs? Runs a small board end to end with a fixed pseudonym key
# and prints a digest per output file and every ladder metric, then evaluates it and prints a
# digest per evaluation file (the research extract's rows without its ids, which are drawn
# afresh every run), for `diff` against another checkout's run:
#   bash bench/same_outputs.sh /tmp/before > /tmp/before.txt   # in the old checkout
#   bash bench/same_outputs.sh /tmp/after  > /tmp/after.txt    # in the new one
#   diff /tmp/before.txt /tmp/after.txt                         # nothing: byte-identical
set -euo pipefail
WS=${1:?usage: bench/same_outputs.sh WORKSPACE}
cd "$(dirname "$0")/.."
# This checkout's code, whichever checkout the environment's schoolpoort was installed from
# (a `git worktree` sharing one virtualenv would otherwise run the other checkout's code).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true MPLBACKEND=Agg
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120
export SCHOOLPOORT_PSEUDONYM_KEY=00112233445566778899aabbccddeeff
SP=.venv/bin/schoolpoort
EXPORT="$WS.export"
rm -rf "$WS" "$EXPORT"
$SP simulate --out "$EXPORT" --students 1500 --seed 2 >/dev/null 2>&1
$SP ingest "$EXPORT" -w "$WS" >/dev/null 2>&1
$SP train -w "$WS" >/dev/null 2>&1
$SP score -w "$WS" --as-of 2025-06-02 >/dev/null 2>&1
$SP evaluate -w "$WS" >/dev/null 2>&1
(cd "$WS" && find canonical secrets features outputs -type f | LC_ALL=C sort | xargs sha256sum)
.venv/bin/python - "$WS/mlflow.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute(
    "select r.name, m.key, m.step, m.value from metrics m join runs r using (run_uuid)"
    " order by 1, 2, 3"
):
    print(*row)
for row in db.execute("select key, value from params where key like 'final_%' order by 1"):
    print(*row)
PY
.venv/bin/python - "$WS" <<'PY'
import hashlib, sys
from pathlib import Path
import polars as pl
folder = next(Path(sys.argv[1]).glob("evaluation/until=*"))
for path in sorted(p for p in folder.rglob("*") if p.is_file()):
    if path.name != "research_extract.parquet":
        print(hashlib.sha256(path.read_bytes()).hexdigest(), " evaluation/", path.relative_to(folder), sep="")
rows = pl.read_parquet(folder / "research_extract.parquet").drop("pupil", "school")
rows = rows.sort(rows.columns, nulls_last=True)
print(hashlib.sha256(rows.write_csv().encode()).hexdigest(), " research extract without its ids", sep="")
PY
