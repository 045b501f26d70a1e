"""Hostile values in an export: printed as plain text, never a path, never a live formula."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import TINY, write_export

runner = CliRunner()


def test_column_names_with_console_markup_are_printed_as_plain_text(
    tmp_path: Path, workspace: Path
) -> None:
    enrolments = TINY["enrolments.csv"].splitlines()
    enrolments[0] += ";[/x];[link=https://evil.example]click[/link]"
    enrolments[1:] = [line + ";a;b" for line in enrolments[1:]]
    export = write_export(tmp_path / "e", {**TINY, "enrolments.csv": "\n".join(enrolments) + "\n"})
    result = runner.invoke(app, ["ingest", str(export), "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "[/x]" in result.stderr
    assert "[link=https://evil.example]click[/link]" in result.stderr
    assert "enrolments: read 3 = accepted 3 + quarantined 0 + duplicates 0" in result.stdout
