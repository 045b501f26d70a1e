from __future__ import annotations

import base64
from pathlib import Path

import polars as pl

from pipelines.render.document import Document

PNG = bytes.fromhex("89504e470d0a1a0a") + b"not really an image"


def report(folder: Path) -> Document:
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "lift.png").write_bytes(PNG)
    doc = Document("Evaluation <until 2025-03-01>", folder)
    doc.heading("1. Signals")
    doc.text("Precision & lift in the top 2%.")
    doc.note("Aggregates only.")
    doc.heading("Detail", level=3)
    doc.table(
        pl.DataFrame(
            {
                "feature": ["b_rate_4w", "<b>"],
                "pupils": [12, None],
                "precision": [0.123456, float("nan")],
                "shown": [True, False],
            }
        ),
        digits=2,
    )
    doc.figure(folder / "figures" / "lift.png", 'Lift "by week"')
    return doc


def test_the_markdown_has_the_blocks_in_order_with_cells_rounded_and_gaps_as_dashes(
    tmp_path: Path,
) -> None:
    assert report(tmp_path).markdown() == "\n".join(
        [
            "# Evaluation <until 2025-03-01>",
            "",
            "## 1. Signals",
            "",
            "Precision & lift in the top 2%.",
            "",
            "> Aggregates only.",
            "",
            "### Detail",
            "",
            "| feature | pupils | precision | shown |",
            "|---|---|---|---|",
            "| b_rate_4w | 12 | 0.12 | True |",
            "| <b> | – | – | False |",
            "",
            '![Lift "by week"](figures/lift.png)',
            "",
        ]
    )


def test_the_html_escapes_every_text_and_embeds_the_figures(tmp_path: Path) -> None:
    page = report(tmp_path).html()
    assert "<title>Evaluation &lt;until 2025-03-01&gt;</title>" in page
    assert "<h1>Evaluation &lt;until 2025-03-01&gt;</h1>" in page
    assert "<h2>1. Signals</h2>" in page and "<h3>Detail</h3>" in page
    assert "<p>Precision &amp; lift in the top 2%.</p>" in page
    assert '<p class="note">Aggregates only.</p>' in page
    assert (
        "<thead><tr><th>feature</th><th>pupils</th><th>precision</th><th>shown</th></tr></thead>"
        "<tbody><tr><td>b_rate_4w</td><td>12</td><td>0.12</td><td>True</td></tr>"
        "<tr><td>&lt;b&gt;</td><td>–</td><td>–</td><td>False</td></tr></tbody>"
    ) in page
    embedded = base64.b64encode(PNG).decode("ascii")
    assert f'<img src="data:image/png;base64,{embedded}" alt="Lift &quot;by week&quot;">' in page
    assert "<figcaption>Lift &quot;by week&quot;</figcaption>" in page
    assert "figures/lift.png" not in page  # the page stands on its own


def test_write_puts_both_renderings_beside_the_figures(tmp_path: Path) -> None:
    doc = report(tmp_path)
    md, page = doc.write("evaluation")
    assert (md, page) == (tmp_path / "evaluation.md", tmp_path / "evaluation.html")
    assert md.read_text("utf-8") == doc.markdown()
    assert page.read_text("utf-8") == doc.html()


def test_a_pipe_in_a_cell_stays_in_its_markdown_cell(tmp_path: Path) -> None:
    doc = Document("t", tmp_path)
    doc.table(pl.DataFrame({"rung": ["split 1: refused | split 2: refused"], "n": [1]}))
    row = doc.markdown().splitlines()[4]
    assert row.count("|") - row.count("\\|") == 3  # the row's own borders only
