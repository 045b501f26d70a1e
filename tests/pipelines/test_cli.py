from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import TINY, write_export

runner = CliRunner()


def test_every_command_has_help() -> None:
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]
    assert commands == [
        "simulate",
        "ingest",
        "edfi",
        "features",
        "train",
        "score",
        "feedback",
        "evaluate",
        "serve",
        "demo",
    ]
    for command in commands:
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_ingest_prints_one_reconciliation_line_per_table(
    tiny_export: Path, workspace: Path
) -> None:
    result = runner.invoke(app, ["ingest", str(tiny_export), "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "absences: read 5 = accepted 5 + quarantined 0 + duplicates 0" in result.stdout
    assert "enrolments: read 3 = accepted 3 + quarantined 0 + duplicates 0" in result.stdout


def test_bad_input_exits_non_zero_with_one_line(tmp_path: Path, workspace: Path) -> None:
    broken = write_export(
        tmp_path / "broken",
        {**TINY, "absences.csv": "student_id;date;code\nL1;2024-09-03;Z\n"},
    )
    result = runner.invoke(app, ["ingest", str(broken), "--workspace", str(workspace)])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "absences.csv: missing required column 'period'" in errors[0]


def test_unknown_codes_and_profiles_are_errors(tmp_path: Path, workspace: Path) -> None:
    export = write_export(
        tmp_path / "e", {**TINY, "absences.csv": TINY["absences.csv"] + "L1;2024-09-05;AM;Q;\n"}
    )
    result = runner.invoke(app, ["ingest", str(export), "--workspace", str(workspace)])
    assert result.exit_code == 2
    assert "unknown absence code(s) for profile 'flanders': 'Q' (1 rows)" in result.stderr
    result = runner.invoke(
        app, ["ingest", str(export), "--workspace", str(workspace), "--codes", "mars"]
    )
    assert result.exit_code == 2
    assert "code profile 'mars'" in result.stderr
    gated = runner.invoke(
        app, ["ingest", str(export), "--workspace", str(workspace), "--allow-unknown-codes"]
    )
    assert gated.exit_code == 2  # 1 of 6 absences quarantined: over the 5% gate
    assert "absences: 16.7% of 6 rows quarantined, over the 5% gate" in gated.stderr
    allowed = runner.invoke(
        app,
        [
            "ingest",
            str(export),
            "-w",
            str(workspace),
            "--allow-unknown-codes",
            "--accept-quarantine",
        ],
    )
    assert allowed.exit_code == 0
    assert "absences: read 6 = accepted 5 + quarantined 1 + duplicates 0" in allowed.stdout


def test_serve_needs_an_export_folder_given_or_remembered(tmp_path: Path, workspace: Path) -> None:
    result = runner.invoke(app, ["serve", "--workspace", str(workspace)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: give --export DIR, the folder where the weekly export lands (no ingest recorded one)"
    )
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["serve", "-w", str(workspace), "--export", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: the export folder does not exist" in result.stderr


def test_a_runner_or_cluster_that_cannot_be_used_is_one_line_before_any_work(
    tiny_export: Path, workspace: Path
) -> None:
    runner.invoke(app, ["ingest", str(tiny_export), "--workspace", str(workspace)])
    result = runner.invoke(app, ["features", "-w", str(workspace), "--runner", "spark"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: setting run.runner: Input should be 'local' or 'dask'"
    for address, reason in (("nonsense", "missing port number"), ("tcp://127.0.0.1:1", "")):
        args = ["--runner", "dask", "--dask-address", address]
        result = runner.invoke(app, ["features", "-w", str(workspace), *args])
        assert result.exit_code == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"error: --dask-address {address}: no Dask scheduler answers there")
        assert reason in line
    assert not (workspace / "features").exists()  # nothing was built
