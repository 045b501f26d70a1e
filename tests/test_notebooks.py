"""The research notebooks run, top to bottom, on the evaluated small board."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

from pipelines.steps.evaluate import Evaluation
from pipelines.workspace import Workspace

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.py"))


def test_there_are_the_three_research_notebooks() -> None:
    assert [p.stem for p in NOTEBOOKS] == [
        "01_signals_and_ablations",
        "02_lead_time",
        "03_fairness",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_on_the_evaluated_board(
    path: Path,
    evaluated_board: tuple[Workspace, Evaluation],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws, _ = evaluated_board
    monkeypatch.setenv("SCHOOLPOORT_WORKSPACE", str(ws.root))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = jupytext.read(path)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(
        o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in outputs
    )
